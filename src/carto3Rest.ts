/**
 * Client of the server extension's CARTO 3 routes (`docs/contracts.md` §4): M2M accounts, the two
 * OAuth (PKCE) flows, and an account's current access token. Every answer is parsed with zod;
 * failures are `AccountStoreError`s like the rest of the REST client, so the panel turns them into
 * the same sentences.
 *
 * The PKCE verifier and the token exchange stay on the server: nothing here ever sees a verifier,
 * and a client secret only travels once, in the body of `POST accounts`.
 */
import { ServerConnection } from '@jupyterlab/services';
import * as z from 'zod/mini';

import {
  StoredAccount,
  requestServerExtension,
  storedAccountSchema
} from './rest';

/** An M2M client's credentials JSON, as CARTO's Developers page downloads it. */
export const m2mCredentialsSchema = z.object({
  api_base_url: z.string().check(z.minLength(1), z.maxLength(2048)),
  client_id: z.string().check(z.minLength(1), z.maxLength(512)),
  client_secret: z.string().check(z.minLength(1), z.maxLength(8192))
});
export type M2MCredentials = z.infer<typeof m2mCredentialsSchema>;

/** What `POST oauth/start` answers. */
const startedSchema = z.object({
  state: z.string().check(z.minLength(1)),
  authorize_url: z.url({ protocol: /^https?$/ })
});
export type OAuthStarted = z.infer<typeof startedSchema>;

const errorBodySchema = z.object({ code: z.string(), message: z.string() });

/** What `GET oauth/logins/{state}` answers. */
const loginStatusSchema = z.object({
  status: z.enum(['pending', 'done', 'failed']),
  account: z.optional(storedAccountSchema),
  error: z.optional(errorBodySchema)
});
export type OAuthLoginStatus = z.infer<typeof loginStatusSchema>;

/** A CARTO 3 account's current token (`GET accounts/{id}/key`). */
export const carto3TokenSchema = z.object({
  access_token: z
    .string()
    .check(z.minLength(1), z.maxLength(8192), z.regex(/^[\x21-\x7e]+$/)),
  api_base_url: z.string().check(z.minLength(1)),
  /** Absolute Unix epoch seconds (UTC). */
  expires_at: z.number().check(z.int(), z.nonnegative())
});
export type Carto3Token = z.infer<typeof carto3TokenSchema>;

/** A new M2M account: its credentials JSON, or the path of that file on the Jupyter server. */
export type INewM2MAccount = (
  | { credentials: M2MCredentials; path?: never }
  | { path: string; credentials?: never }
) & { label?: string; allow_non_https?: boolean };

/** How a browser login starts (`POST oauth/start`). */
export interface IOAuthStart {
  /** `redirect` needs an administrator-registered OAuth client; `paste` always works. */
  flow: 'redirect' | 'paste';
  /** Organisation (SSO) name. */
  org?: string;
  api_base_url?: string;
  label?: string;
  /** Log this account in again instead of adding one. */
  account_id?: string;
  allow_non_https?: boolean;
}

/** The CARTO 3 operations the panel and the token cache need; tests provide a fake. */
export interface ICarto3Store {
  /** Add an M2M client: the server gets a first token before storing anything. */
  addM2M(account: INewM2MAccount): Promise<StoredAccount>;
  /** Start a browser login: the CARTO page to open and the login's `state`. */
  startLogin(request: IOAuthStart): Promise<OAuthStarted>;
  /** Finish a `paste` login with the code (or the page address) CARTO showed. */
  exchange(state: string, code: string): Promise<StoredAccount>;
  /** How a `redirect` login is going. */
  loginStatus(state: string): Promise<OAuthLoginStatus>;
  /** The account's current token; `login_required` (409) when it needs a new login. */
  token(id: string): Promise<Carto3Token>;
}

/** The CARTO 3 routes of the Jupyter server this page talks to. */
export class RestCarto3Store implements ICarto3Store {
  constructor(
    private readonly _settings: ServerConnection.ISettings = ServerConnection.makeSettings()
  ) {}

  async addM2M(account: INewM2MAccount): Promise<StoredAccount> {
    return this._call('accounts', 'POST', storedAccountSchema, {
      kind: 'm2m',
      ...account
    });
  }

  async startLogin(request: IOAuthStart): Promise<OAuthStarted> {
    return this._call('oauth/start', 'POST', startedSchema, request);
  }

  async exchange(state: string, code: string): Promise<StoredAccount> {
    return this._call('oauth/exchange', 'POST', storedAccountSchema, {
      state,
      code
    });
  }

  async loginStatus(state: string): Promise<OAuthLoginStatus> {
    return this._call(
      `oauth/logins/${encodeURIComponent(state)}`,
      'GET',
      loginStatusSchema
    );
  }

  async token(id: string): Promise<Carto3Token> {
    return this._call(
      `accounts/${encodeURIComponent(id)}/key`,
      'GET',
      carto3TokenSchema
    );
  }

  private _call<T>(
    path: string,
    method: string,
    schema: z.ZodMiniType<T>,
    body?: unknown
  ): Promise<T> {
    return requestServerExtension(this._settings, path, method, schema, body);
  }
}

/** Why a picked M2M credentials file cannot be used; `field` names the bad field, never a value. */
export class M2MFileError extends Error {
  constructor(readonly field: string | null) {
    super(
      field === null
        ? 'The file is not an M2M credentials JSON.'
        : `The M2M credentials file has no valid "${field}".`
    );
    this.name = 'M2MFileError';
  }
}

/**
 * Read an M2M credentials file the user picked (in the browser: its content goes to the server
 * once and is kept nowhere here).
 */
export function parseM2MFile(text: string): M2MCredentials {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new M2MFileError(null);
  }
  const parsed = m2mCredentialsSchema.safeParse(data);
  if (!parsed.success) {
    const field = parsed.error.issues[0]?.path[0];
    throw new M2MFileError(typeof field === 'string' ? field : null);
  }
  return parsed.data;
}
