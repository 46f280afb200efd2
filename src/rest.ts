/**
 * Client of the server extension's REST API (`docs/contracts.md` §2). Every answer is parsed with
 * zod; the base URL comes from the server settings so JupyterHub prefixes work.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import * as z from 'zod/mini';

const userInfoSchema = z.looseObject({
  username: z.optional(z.string()),
  email: z.optional(z.string()),
  avatar_url: z.optional(z.string())
});

/** `api_key`: CARTO 2 / on-premises; `oauth` / `m2m`: CARTO 3 logins (docs/contracts.md §4). */
export const accountKindSchema = z.enum(['api_key', 'oauth', 'm2m']);
export type AccountKind = z.infer<typeof accountKindSchema>;

export const storedAccountSchema = z.object({
  id: z.string(),
  label: z.string(),
  /** Absent from servers older than CARTO 3 support: `api_key`. */
  kind: z.optional(accountKindSchema),
  username: z.nullable(z.string()),
  /** CARTO 3 accounts have none (`null`, read as ''): they have `api_base_url`. */
  base_url: z.pipe(
    z.nullable(z.string()),
    z.transform(value => value ?? '')
  ),
  api_base_url: z.optional(z.nullable(z.string())),
  /** A CARTO 3 token's expiry, absolute Unix epoch seconds (UTC). */
  expires_at: z.optional(z.nullable(z.number())),
  /** `login_required`: a CARTO 3 login that expired or whose renewal was refused. */
  status: z.optional(z.enum(['ok', 'login_required'])),
  public: z.boolean(),
  user_info: z.optional(z.nullable(userInfoSchema)),
  provisioned: z.optional(z.boolean())
});
export type StoredAccount = z.infer<typeof storedAccountSchema>;

const accountListSchema = z.object({
  accounts: z.array(storedAccountSchema),
  default_account: z.nullable(z.string())
});
export type AccountList = z.infer<typeof accountListSchema>;

const keySchema = z.object({ api_key: z.string().check(z.minLength(1)) });
const grantsSchema = z.object({
  grants: z.record(z.string(), z.enum(['allow', 'deny']))
});
export type GrantDecision = 'allow' | 'deny';

const validationSchema = z.union([
  z.object({
    ok: z.literal(true),
    user_info: z.optional(z.nullable(userInfoSchema)),
    base_url: z.optional(z.string())
  }),
  z.object({ ok: z.literal(false), code: z.string(), message: z.string() })
]);
export type ValidationResult = z.infer<typeof validationSchema>;

const importInfoSchema = z.object({
  available: z.boolean(),
  path: z.optional(z.nullable(z.string())),
  username: z.optional(z.nullable(z.string())),
  base_url: z.optional(z.nullable(z.string()))
});
export type ImportInfo = z.infer<typeof importInfoSchema>;

const bootstrapSchema = z.object({ code: z.string().check(z.minLength(1)) });

const errorSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    field: z.optional(z.string())
  })
});

/** What a login form submits. */
export interface INewAccount {
  username?: string;
  base_url?: string;
  api_key: string;
  label?: string;
  validate?: boolean;
  allow_non_https?: boolean;
}

/**
 * A failed call: JupyterLab's `ServerConnection.ResponseError` (the response is kept), plus the
 * server's machine code (`docs/contracts.md` §2) that the UI turns into a sentence. When the server
 * cannot be reached at all, calls reject with `ServerConnection.NetworkError` instead.
 */
export class AccountStoreError extends ServerConnection.ResponseError {
  /**
   * `field`: the request body's field a `bad_request` is about (the server names it), so the UI
   * can point at the control that filled it in.
   */
  constructor(
    readonly code: string,
    message: string,
    response: Response,
    readonly field: string | null = null
  ) {
    super(response, message);
    this.name = 'AccountStoreError';
  }

  /** The HTTP status of the answer. */
  get status(): number {
    return this.response.status;
  }
}

/**
 * The machine code of a failed store call: the server's code, `network` when the Jupyter server
 * could not be reached, `null` for anything else.
 */
export function storeErrorCode(error: unknown): string | null {
  if (error instanceof AccountStoreError) {
    return error.code;
  }
  return error instanceof ServerConnection.NetworkError ? 'network' : null;
}

/** The operations the model needs; tests provide a fake. */
export interface IAccountStore {
  list(): Promise<AccountList>;
  create(account: INewAccount): Promise<StoredAccount>;
  remove(id: string): Promise<void>;
  key(id: string): Promise<string>;
  setDefault(id: string | null): Promise<void>;
  grants(): Promise<Record<string, GrantDecision>>;
  setGrant(path: string, decision: GrantDecision): Promise<void>;
  removeGrant(path: string): Promise<void>;
  validate(account: INewAccount): Promise<ValidationResult>;
  importInfo(): Promise<ImportInfo>;
  importCartoframes(): Promise<StoredAccount>;
  /** Python to run silently in a kernel that lacks the comm target. */
  kernelBootstrap(): Promise<string>;
}

/** The account store of the Jupyter server this page talks to. */
export class RestAccountStore implements IAccountStore {
  constructor(
    private readonly _settings: ServerConnection.ISettings = ServerConnection.makeSettings()
  ) {}

  async list(): Promise<AccountList> {
    return this._call('accounts', 'GET', accountListSchema);
  }

  async create(account: INewAccount): Promise<StoredAccount> {
    return this._call('accounts', 'POST', storedAccountSchema, account);
  }

  async remove(id: string): Promise<void> {
    await this._call(`accounts/${encodeURIComponent(id)}`, 'DELETE', null);
  }

  async key(id: string): Promise<string> {
    const answer = await this._call(
      `accounts/${encodeURIComponent(id)}/key`,
      'GET',
      keySchema
    );
    return answer.api_key;
  }

  async setDefault(id: string | null): Promise<void> {
    await this._call('default', 'PUT', null, { account_id: id });
  }

  async grants(): Promise<Record<string, GrantDecision>> {
    return (await this._call('grants', 'GET', grantsSchema)).grants;
  }

  async setGrant(path: string, decision: GrantDecision): Promise<void> {
    await this._call('grants', 'PUT', null, { path, decision });
  }

  async removeGrant(path: string): Promise<void> {
    await this._call(`grants?path=${encodeURIComponent(path)}`, 'DELETE', null);
  }

  async validate(account: INewAccount): Promise<ValidationResult> {
    const { label: _label, validate: _validate, ...body } = account;
    return this._call('validate', 'POST', validationSchema, body);
  }

  async importInfo(): Promise<ImportInfo> {
    return this._call('import', 'GET', importInfoSchema);
  }

  async importCartoframes(): Promise<StoredAccount> {
    return this._call('import', 'POST', storedAccountSchema, {});
  }

  async kernelBootstrap(): Promise<string> {
    return (await this._call('kernel-bootstrap', 'GET', bootstrapSchema)).code;
  }

  private _call<T>(
    path: string,
    method: string,
    schema: z.ZodMiniType<T> | null,
    body?: unknown
  ): Promise<T> {
    return requestServerExtension(this._settings, path, method, schema, body);
  }
}

/**
 * One request to the server extension (`{baseUrl}carto-credentials/{path}`), its answer checked
 * with `schema` (`null`: no answer expected). Failures are `AccountStoreError`s carrying the
 * server's error code and message; an unreachable server rejects with
 * `ServerConnection.NetworkError`, passed on as it is.
 */
export async function requestServerExtension<T>(
  settings: ServerConnection.ISettings,
  path: string,
  method: string,
  schema: z.ZodMiniType<T> | null,
  body?: unknown
): Promise<T> {
  const url = URLExt.join(settings.baseUrl, 'carto-credentials', path);
  const init: RequestInit = { method };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
  }
  const response = await ServerConnection.makeRequest(url, init, settings);
  const payload: unknown =
    response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    const parsed = errorSchema.safeParse(payload);
    throw parsed.success
      ? new AccountStoreError(
          parsed.data.error.code,
          parsed.data.error.message,
          response,
          parsed.data.error.field ?? null
        )
      : new AccountStoreError(
          'server',
          `The CARTO credentials server extension answered ${response.status}. Is it installed and enabled?`,
          response
        );
  }
  if (schema === null) {
    return undefined as T;
  }
  const parsed = schema.safeParse(payload);
  if (!parsed.success) {
    throw new AccountStoreError(
      'bad_answer',
      'The CARTO credentials server extension sent an answer this page does not understand.',
      response
    );
  }
  return parsed.data;
}
