/**
 * The messages of the `carto.credentials` comm channel, defined once.
 *
 * `scripts/export-protocol-schema.mjs` turns these zod schemas into
 * `carto_credentials/protocol.schema.json`, which the Python tests validate against.
 */
import * as z from 'zod/mini';

import { MAX_LENGTHS, RuleField, problemWith } from './rules';

/** The comm target the kernel registers from its IPython startup file. */
export const COMM_TARGET = 'carto.credentials';

/** Bumped only for incompatible changes; receivers ignore other versions. */
export const PROTOCOL_VERSION = 1;

/**
 * The version of a `set_credentials` push carrying a CARTO 3 account (or `login_required`):
 * kernels with an older package ignore it and fall back, while API-key pushes stay version 1
 * (docs/contracts.md §4).
 */
export const CARTO3_PROTOCOL_VERSION = 2;

const text = (max: number) =>
  z.string().check(z.minLength(1), z.maxLength(max));

/**
 * A value that follows `rules.json` (the server's and the kernel's rules too); a base URL may be
 * http, which the server only stores when the user allowed it. The JSON Schema export carries the
 * lengths only.
 */
const ruled = (field: RuleField) =>
  text(MAX_LENGTHS[field]).check(
    z.refine(value => problemWith(field, value, true) === null, {
      message: `not a valid ${field}`
    })
  );

export const pushedAccountSchema = z.strictObject({
  id: text(200),
  label: text(200),
  username: z.nullable(ruled('username')),
  base_url: ruled('base_url'),
  api_key: ruled('api_key')
});

/** A CARTO 3 login (carto-auth's modes `oauth` / `m2m`) with its current access token. */
export const pushedCarto3AccountSchema = z.strictObject({
  id: text(200),
  label: text(200),
  kind: z.enum(['oauth', 'm2m']),
  api_base_url: ruled('base_url'),
  access_token: z
    .string()
    .check(z.minLength(1), z.maxLength(8192), z.regex(/^[\x21-\x7e]+$/)),
  /** Absolute Unix epoch seconds (UTC). */
  expires_at: z.number().check(z.int(), z.nonnegative())
});

export const grantStateSchema = z.enum([
  'granted',
  'public',
  'not_granted',
  'no_account'
]);

const setCredentialsFields = {
  type: z.literal('set_credentials'),
  session_path: z.string().check(z.maxLength(4096)),
  kernel_id: z.string().check(z.maxLength(200))
};

/** Version 1: an API-key account (or none). */
export const setCredentialsSchema = z.strictObject({
  version: z.literal(PROTOCOL_VERSION),
  ...setCredentialsFields,
  state: grantStateSchema,
  account: z.nullable(pushedAccountSchema)
});

/**
 * Version 2: a CARTO 3 account, or `login_required` (the notebook's CARTO 3 login expired;
 * no account).
 */
export const setCarto3CredentialsSchema = z.strictObject({
  version: z.literal(CARTO3_PROTOCOL_VERSION),
  ...setCredentialsFields,
  state: z.enum(['granted', 'not_granted', 'no_account', 'login_required']),
  account: z.nullable(pushedCarto3AccountSchema)
});

export const codeCredentialsSchema = z.strictObject({
  username: z.nullable(ruled('username')),
  base_url: ruled('base_url'),
  api_key: ruled('api_key')
});

export const credentialsChangedSchema = z.strictObject({
  version: z.literal(PROTOCOL_VERSION),
  type: z.literal('credentials_changed'),
  credentials: z.nullable(codeCredentialsSchema)
});

/** How widget state names credentials set in code: `rt-` and 16 hex digits (never the key). */
export const credentialsRefSchema = z
  .string()
  .check(z.regex(/^rt-[0-9a-f]{16}$/));

/** Credentials passed to a map layer in code, registered under a reference. */
export const registerCredentialsSchema = z.strictObject({
  version: z.literal(PROTOCOL_VERSION),
  type: z.literal('register_credentials'),
  ref: credentialsRefSchema,
  credentials: codeCredentialsSchema
});

/** Everything the frontend may send to the kernel. */
export const frontendMessageSchema = z.union([
  setCredentialsSchema,
  setCarto3CredentialsSchema
]);

/** Everything the kernel may send to the frontend. */
export const kernelMessageSchema = z.discriminatedUnion('type', [
  credentialsChangedSchema,
  registerCredentialsSchema
]);

/**
 * A pydeck map drawing with a CARTO 3 login, as the kernel's output filter sends it next to the
 * masked `text/html` (`carto_credentials/_deck_output.py`): pydeck's page with each access token
 * replaced by a placeholder, and the account id of the login each placeholder stands for.
 */
export const DECK_MIME = 'application/vnd.carto-credentials.deck+json';
/** Placeholders are this prefix and a number: written the same raw, in JSON, URLs and HTML. */
export const DECK_PLACEHOLDER_PREFIX = 'carto-credentials-access-token-';

export const deckOutputSchema = z.strictObject({
  html: z.string(),
  logins: z.record(
    z
      .string()
      .check(z.regex(new RegExp(`^${DECK_PLACEHOLDER_PREFIX}[0-9]{1,4}$`))),
    text(200)
  )
});
export type DeckOutput = z.infer<typeof deckOutputSchema>;

export type GrantState = z.infer<typeof grantStateSchema>;
export type PushedAccount = z.infer<typeof pushedAccountSchema>;
export type PushedCarto3Account = z.infer<typeof pushedCarto3AccountSchema>;
export type SetCredentialsMessage = z.infer<typeof setCredentialsSchema>;
export type SetCarto3CredentialsMessage = z.infer<
  typeof setCarto3CredentialsSchema
>;
export type CodeCredentials = z.infer<typeof codeCredentialsSchema>;
export type KernelMessage = z.infer<typeof kernelMessageSchema>;

/** Parses a kernel message; `null` for anything malformed (never throws). */
export function parseKernelMessage(data: unknown): KernelMessage | null {
  const result = kernelMessageSchema.safeParse(data);
  return result.success ? result.data : null;
}
