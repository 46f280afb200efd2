/**
 * src/rules.ts against the shared cases (test/rules-cases.json), which
 * test/python/test_rules.py runs through carto_credentials/rules.py: same answers, word for word.
 */
import { nullTranslator } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import CASES from './rules-cases.json';
import { FakeStore } from './fakes';
import { LoginForm } from '../src/loginForm';
import { CartoCredentialsModel } from '../src/model';
import { parseKernelMessage, setCredentialsSchema } from '../src/protocol';
import { DEFAULT_SETTINGS } from '../src/settings';
import RULES from '../carto_credentials/rules.json';
import {
  PUBLIC_API_KEY,
  RuleField,
  check,
  isValid,
  problemWith,
  render
} from '../src/rules';

interface ICase {
  field: RuleField;
  input?: unknown;
  input_repeat?: [string, number];
  value?: string;
  value_repeat?: [string, number];
  allow_http?: boolean;
  code?: string;
  message?: string;
  says?: string[];
}

const cases = CASES.cases as ICase[];

function input(c: ICase): unknown {
  return c.input_repeat ? c.input_repeat[0].repeat(c.input_repeat[1]) : c.input;
}

function value(c: ICase): string | undefined {
  return c.value_repeat ? c.value_repeat[0].repeat(c.value_repeat[1]) : c.value;
}

function name(c: ICase): string {
  const shown = JSON.stringify(input(c)) ?? String(input(c));
  return `${c.field}: ${shown.length < 40 ? shown : shown.slice(0, 37) + '...'}`;
}

describe('rules', () => {
  it.each(cases.map(c => [name(c), c] as const))('%s', (_, c) => {
    const result = check(c.field, input(c), c.allow_http ?? false);
    if (c.code === undefined) {
      expect(result).toEqual({ value: value(c) });
      return;
    }
    expect('problem' in result).toBe(true);
    const problem = 'problem' in result ? result.problem : null;
    expect(problem?.field).toBe(c.field);
    expect(problem?.code).toBe(c.code);
    if (c.message !== undefined) {
      expect(problem?.message).toBe(c.message);
    }
    for (const fragment of c.says ?? []) {
      expect(problem?.message).toContain(fragment);
    }
  });

  it('has the public key from the data file, and it is a valid key', () => {
    expect(PUBLIC_API_KEY).toBe(RULES.public_api_key);
    expect(isValid('api_key', PUBLIC_API_KEY)).toBe(true);
    expect(problemWith('api_key', `${PUBLIC_API_KEY}\n`)?.code).toBe(
      'bad_key_format'
    );
  });

  it('fills only known placeholders', () => {
    expect(render('{a} and {b}', { a: 1 })).toBe('1 and {b}');
  });
});

describe('comm messages follow the rules', () => {
  const code = {
    username: 'alice',
    base_url: 'https://alice.carto.com/',
    api_key: 'k'
  };
  const changed = (credentials: Record<string, unknown>) => ({
    version: 1,
    type: 'credentials_changed',
    credentials
  });

  it.each([
    ['username', 'alice\n'],
    ['username', 'al\u202eice'],
    ['api_key', 'default_public\n'],
    ['api_key', 'k\u0000'],
    ['api_key', 'k k'],
    ['base_url', 'https:'],
    ['base_url', 'https://alice.carto.com/\r\n'],
    ['base_url', 'https://u:p@alice.carto.com/'],
    ['base_url', 'https://alice.carto.com/?q'],
    ['base_url', 'https://alice.carto.com/#f']
  ])('refuses %s %j from the kernel', (field, value) => {
    expect(parseKernelMessage(changed(code))).not.toBeNull();
    expect(parseKernelMessage(changed({ ...code, [field]: value }))).toBeNull();
  });

  it('checks pushed accounts with the same rules (http allowed)', () => {
    const push = (account: Record<string, unknown>) =>
      setCredentialsSchema.safeParse({
        version: 1,
        type: 'set_credentials',
        session_path: 'a.ipynb',
        kernel_id: 'k-1',
        state: 'granted',
        account: { id: 'a', label: 'alice', ...code, ...account }
      }).success;
    expect(push({})).toBe(true);
    expect(push({ base_url: 'http://127.0.0.1:8080/' })).toBe(true);
    expect(push({ base_url: 'https:' })).toBe(false);
    expect(push({ api_key: 'k\n' })).toBe(false);
  });
});

describe('login form', () => {
  const trans = nullTranslator.load('jupyterlab_carto_credentials');
  let form: LoginForm;
  let store: FakeStore;
  let model: CartoCredentialsModel;

  beforeEach(() => {
    store = new FakeStore();
    model = new CartoCredentialsModel({ store });
    form = new LoginForm({ model, trans });
    Widget.attach(form, document.body);
  });

  afterEach(() => {
    form.dispose();
    model.dispose();
  });

  function fill(username: string, baseUrl: string, key: string): void {
    form.usernameInput.value = username;
    form.usernameInput.dispatchEvent(new Event('input'));
    form.baseUrlInput.value = baseUrl;
    form.baseUrlInput.dispatchEvent(new Event('input'));
    form.keyInput.value = key;
  }

  function shown(): string {
    const alert = form.node.querySelector<HTMLElement>('[role="alert"]')!;
    return alert.hidden ? '' : (alert.textContent ?? '');
  }

  it.each([
    ['al ice', '', 'k', 'username', 'username'],
    ['al\u202eice', '', 'k', 'username', 'username'],
    ['', 'https:', 'k', 'base_url', 'baseUrl'],
    ['', 'https://user:pw@x.example/', 'k', 'base_url', 'baseUrl'],
    ['', 'https://x.example/?api_key=k', 'k', 'base_url', 'baseUrl'],
    ['', 'https://x.example/#k', 'k', 'base_url', 'baseUrl'],
    ['', 'http://x.example/', 'k', 'base_url', 'baseUrl'],
    ['alice', '', 'key with spaces', 'api_key', 'key'],
    ['alice', '', 'k\u2066ey', 'api_key', 'key'],
    ['alice', '', 'k\u0000', 'api_key', 'key']
  ] as const)(
    'refuses %j / %j / key before asking the server, with the rules message',
    async (username, baseUrl, key, field, input) => {
      fill(username, baseUrl, key);
      expect(await form.submit()).toBeNull();
      expect(store.created).toEqual([]);
      const sent = form.baseUrlInput.value.trim();
      const value =
        field === 'username'
          ? username
          : field === 'base_url'
            ? sent
            : key.trim();
      const problem = problemWith(field, value, false);
      expect(problem).not.toBeNull();
      expect(shown()).toBe(problem!.message);
      const target = {
        username: form.usernameInput,
        baseUrl: form.baseUrlInput,
        key: form.keyInput
      }[input];
      expect(target.getAttribute('aria-invalid')).toBe('true');
    }
  );

  it('sends an organisation profile URL, which the server reads as /user/NAME/', async () => {
    fill('', 'https://org.carto.com/u/alice/', 'k');
    await form.submit();
    expect(store.created.map(a => a.base_url)).toEqual([
      'https://org.carto.com/u/alice/'
    ]);
    expect(check('base_url', store.created[0].base_url)).toEqual({
      value: 'https://org.carto.com/user/alice/'
    });
  });

  it('accepts http only when the settings allow it', async () => {
    model.configure({ ...DEFAULT_SETTINGS, allowNonHttps: true });
    fill('', 'http://127.0.0.1:8080/', 'k');
    await form.submit();
    expect(shown()).toBe('');
    expect(store.created.map(a => a.base_url)).toEqual([
      'http://127.0.0.1:8080/'
    ]);
  });
});
