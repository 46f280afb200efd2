/**
 * What a CARTO username, API key, account label and base URL may be: the rules of
 * `carto_credentials/rules.json`, the one definition that the server and the kernel apply too
 * (`carto_credentials/rules.py`). `test/rules-cases.json` holds the cases both sides are tested on.
 *
 * Patterns match the whole value (`^(?:…)$` with the `u` flag); lengths and positions count code
 * points, as Python does. No message ever shows the value.
 */
import RULES from '../carto_credentials/rules.json';

/** The API key for public data only: not a secret. */
export const PUBLIC_API_KEY: string = RULES.public_api_key;

/**
 * How a known key shows (`key_mask`): `***` plus its last 4 characters when it has 16 or more,
 * else `***` — the same text the kernel's own masking and `repr(Credentials)` produce.
 */
export function maskKey(key: string): string {
  const mask = RULES.key_mask;
  const chars = [...key];
  return chars.length >= mask.visible_from_length
    ? mask.prefix + chars.slice(-mask.visible_suffix).join('')
    : mask.prefix;
}

/** Shorter strings are not searched for in text: they would eat ordinary words. */
export const MIN_KEY_LENGTH: number = RULES.key_mask.min_key_length;

export type RuleField = keyof typeof RULES.fields;

/** The longest value of each field, in code points. */
export const MAX_LENGTHS = Object.fromEntries(
  Object.entries(RULES.fields).map(([field, spec]) => [field, spec.max_length])
) as Record<RuleField, number>;

/** Why a value was refused: the field, the REST error code and a message for people. */
export interface IRuleProblem {
  field: RuleField;
  code: string;
  message: string;
}

/** A checked (and, for labels and base URLs, normalised) value, or why it was refused. */
export type RuleResult = { value: string } | { problem: IRuleProblem };

/** `template` with `{name}` filled in (unknown names are left as they are). */
export function render(
  template: string,
  values: Record<string, string | number>
): string {
  return template.replace(/\{([a-z_]+)\}/g, (whole, name: string) =>
    name in values ? String(values[name]) : whole
  );
}

/** The checked value of `field` (see `rules.py`'s `check`). */
export function check(
  field: RuleField,
  value: unknown,
  allowHttp = false
): RuleResult {
  try {
    const checked =
      field === 'base_url'
        ? Private.normaliseBaseUrl(value, allowHttp)
        : Private.checkText(field, value);
    return { value: checked };
  } catch (error) {
    if (error instanceof Private.RuleError) {
      return { problem: error.problem };
    }
    throw error;
  }
}

/** The problem with `value` as `field`, or `null` if it is fine. */
export function problemWith(
  field: RuleField,
  value: unknown,
  allowHttp = false
): IRuleProblem | null {
  const result = check(field, value, allowHttp);
  return 'problem' in result ? result.problem : null;
}

/** Whether `value` is a valid `field` (for schemas). */
export function isValid(
  field: RuleField,
  value: unknown,
  allowHttp = false
): boolean {
  return problemWith(field, value, allowHttp) === null;
}

namespace Private {
  interface IFieldSpec {
    name: string;
    code: string;
    max_length: number;
    spaces: boolean;
    trim?: boolean;
    pattern?: string;
    rule: string;
  }

  type CharacterKind = keyof typeof RULES.characters;
  type UrlMessage = keyof typeof RULES.base_url.messages;

  export class RuleError extends Error {
    constructor(readonly problem: IRuleProblem) {
      super(problem.message);
    }
  }

  const whole = (pattern: string): RegExp =>
    new RegExp(`^(?:${pattern})$`, 'u');

  const FIELDS = RULES.fields as Record<RuleField, IFieldSpec>;
  const URL_RULES = RULES.base_url;
  const CHARACTERS = Object.fromEntries(
    Object.entries(RULES.characters).map(([kind, p]) => [
      kind,
      new RegExp(p, 'u')
    ])
  ) as Record<CharacterKind, RegExp>;
  const CHARACTER_CHECKS = RULES.character_checks as Record<
    'spaces_allowed' | 'no_spaces',
    CharacterKind[]
  >;
  const SPACE_RUN = `${RULES.characters.space}+`;
  const TRIM = new RegExp(`^${SPACE_RUN}|${SPACE_RUN}$`, 'gu');
  const PATTERNS: Partial<Record<RuleField, RegExp>> = {};
  for (const [field, spec] of Object.entries(FIELDS)) {
    if (spec.pattern !== undefined) {
      PATTERNS[field as RuleField] = whole(spec.pattern);
    }
  }
  const URL = whole(URL_RULES.url);
  const AUTHORITY = whole(URL_RULES.authority);
  const HOST_LABEL = whole(URL_RULES.host_label);
  const IPV4 = whole(URL_RULES.ipv4);
  const IPV6_GROUP = whole(URL_RULES.ipv6_group);
  const PATH = whole(URL_RULES.path);
  const BAD_SEGMENT = new RegExp(URL_RULES.bad_segment, 'u');
  const ORGANISATION_PATH = whole(URL_RULES.organisation_path);

  const codePoints = (text: string): number => [...text].length;

  function problem(
    field: RuleField,
    kind: keyof typeof RULES.messages,
    values: Record<string, string | number> = {}
  ): RuleError {
    const spec = FIELDS[field];
    const rule = render(spec.rule, { public_api_key: PUBLIC_API_KEY });
    const message = render(RULES.messages[kind], {
      field: spec.name,
      rule,
      max_length: spec.max_length,
      ...values
    });
    return new RuleError({ field, code: spec.code, message });
  }

  function urlProblem(kind: UrlMessage): RuleError {
    const code = kind === 'not_https' ? kind : FIELDS.base_url.code;
    return new RuleError({
      field: 'base_url',
      code,
      message: URL_RULES.messages[kind]
    });
  }

  export function checkText(field: RuleField, value: unknown): string {
    const spec = FIELDS[field];
    if (typeof value !== 'string') {
      throw problem(field, 'not_text');
    }
    const kinds =
      CHARACTER_CHECKS[spec.spaces ? 'spaces_allowed' : 'no_spaces'];
    for (const kind of kinds) {
      const found = CHARACTERS[kind].exec(value);
      if (found) {
        const code = found[0].codePointAt(0)!;
        const char = `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
        const position = codePoints(value.slice(0, found.index)) + 1;
        throw problem(field, kind, { char, position });
      }
    }
    const text = spec.trim ? value.replace(TRIM, '') : value;
    if (!text) {
      throw problem(field, 'empty');
    }
    if (codePoints(text) > spec.max_length) {
      throw problem(field, 'too_long');
    }
    const pattern = PATTERNS[field];
    if (pattern && !pattern.test(text)) {
      throw problem(field, 'format');
    }
    return text;
  }

  function isIpv6(text: string): boolean {
    const halves = text.split('::');
    if (halves.length > 2) {
      return false;
    }
    const groups = halves.flatMap(half => (half ? half.split(':') : []));
    let count = groups.length;
    if (groups.length && groups[groups.length - 1].includes('.')) {
      if (!IPV4.test(groups.pop()!)) {
        return false;
      }
      count += 1; // an IPv4 tail stands for two groups
    }
    if (!groups.every(group => IPV6_GROUP.test(group))) {
      return false;
    }
    return halves.length === 2 ? count < 8 : count === 8;
  }

  function isValidHost(host: string): boolean {
    if (host.startsWith('[')) {
      return isIpv6(host.slice(1, -1));
    }
    const labels = host.endsWith('.') ? host.slice(0, -1) : host;
    return (
      host.length <= URL_RULES.host_max_length &&
      labels.split('.').every(label => HOST_LABEL.test(label))
    );
  }

  export function normaliseBaseUrl(value: unknown, allowHttp: boolean): string {
    const text = checkText('base_url', value);
    const url = URL.exec(text);
    if (!url) {
      throw urlProblem('scheme');
    }
    const [, scheme, hasAuthority, authority, rawPath, query, fragment] = url;
    const lowerScheme = scheme.toLowerCase();
    if (lowerScheme === URL_RULES.insecure_scheme) {
      if (!allowHttp) {
        throw urlProblem('not_https');
      }
    } else if (lowerScheme !== URL_RULES.secure_scheme) {
      throw urlProblem('scheme');
    }
    if (hasAuthority === undefined) {
      throw urlProblem('no_host');
    }
    if (authority.includes('@')) {
      throw urlProblem('user_info');
    }
    if (query !== undefined) {
      throw urlProblem('query');
    }
    if (fragment !== undefined) {
      throw urlProblem('fragment');
    }
    const parts = AUTHORITY.exec(authority);
    if (!parts) {
      throw urlProblem('host');
    }
    const [, host, port] = parts;
    if (!host) {
      throw urlProblem('no_host');
    }
    if (!isValidHost(host)) {
      throw urlProblem('host');
    }
    if (port && !(Number(port) >= 1 && Number(port) <= 65535)) {
      throw urlProblem('port');
    }
    if (!PATH.test(rawPath)) {
      throw urlProblem('path');
    }
    // One trailing '/' (cartoframes strips them all), /u/NAME read as /user/NAME.
    const trimmed = rawPath.replace(/\/+$/, '');
    const organisation = ORGANISATION_PATH.exec(trimmed);
    const path =
      (organisation ? `/user/${organisation[1]}` : trimmed).replace(
        /\/+$/,
        ''
      ) + '/';
    if (BAD_SEGMENT.test(path)) {
      throw urlProblem('path');
    }
    const netloc = host.toLowerCase() + (port ? `:${Number(port)}` : '');
    return `${lowerScheme}://${netloc}${path}`;
  }
}
