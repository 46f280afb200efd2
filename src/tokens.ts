/**
 * The public token other extensions (map widgets, data browsers…) use to share the CARTO login.
 * It exposes plain TypeScript types only: consumers never need zod.
 */
import { Token } from '@lumino/coreutils';
import { ISignal } from '@lumino/signaling';

import type { IAccountStore } from './rest';

/**
 * One authenticated CARTO context, shared by the sidebar, every kernel and every map widget.
 */
export interface ICartoCredentials {
  /** Resolves once the accounts have been loaded from the server. */
  readonly ready: Promise<void>;

  /** Known accounts, without keys. */
  readonly accounts: ReadonlyArray<ICartoCredentials.IAccount>;

  /** The account used by notebooks that did not choose one, if any. */
  readonly defaultAccountId: string | null;

  /** Emitted on any change; the payload never holds a key. */
  readonly changed: ISignal<ICartoCredentials, ICartoCredentials.IChange>;

  /** The account a notebook chose (its metadata), or `null` for "use the default". */
  notebookAccountId(path: string): string | null;

  /**
   * The effective credentials for a notebook (by path) or a kernel (by id), key included, or
   * `null` when nothing applies or the notebook was not granted access.
   */
  resolve(
    target: ICartoCredentials.ITarget
  ): Promise<ICartoCredentials.IResolved | null>;
}

export namespace ICartoCredentials {
  /** An account as shown to users and other extensions. */
  export interface IAccount {
    readonly id: string;
    readonly label: string;
    readonly username: string | null;
    /** The server; for a CARTO 3 login, its API base URL. */
    readonly baseUrl: string;
    /**
     * `api_key` (also when absent); `oauth` / `m2m` for a CARTO 3 login, which has an access
     * token instead of a key (`resolve` gives no API key for it).
     */
    readonly kind?: 'api_key' | 'oauth' | 'm2m';
    /** A CARTO 3 login that expired or whose renewal was refused: it needs a new login. */
    readonly loginRequired?: boolean;
    /** True for `default_public` (public datasets only). */
    readonly isPublic: boolean;
    /** Set by `set_default_credentials` in a kernel, not stored on the server. */
    readonly isRuntime: boolean;
    readonly userInfo: IUserInfo | null;
  }

  /** What CARTO's `/api/v3/me` says about the user. */
  export interface IUserInfo {
    readonly username?: string;
    readonly email?: string;
    readonly avatarUrl?: string;
  }

  /** Which context to resolve: a notebook path, a kernel id, or both. */
  export interface ITarget {
    readonly path?: string;
    readonly kernelId?: string;
    /**
     * Credentials that code in that kernel registered by reference (a map layer's
     * `credentials=`); with a `ref`, only those are returned, never a fallback.
     */
    readonly ref?: string;
  }

  /** Effective credentials, key included. Never put this in a signal, a log or widget state. */
  export interface IResolved {
    readonly accountId: string;
    readonly label: string;
    readonly username: string | null;
    readonly baseUrl: string;
    readonly apiKey: string;
    /** Where they came from, in precedence order. */
    readonly source: 'code' | 'notebook' | 'default';
  }

  /** What changed; carries ids and paths only. */
  export interface IChange {
    readonly type:
      'accounts' | 'default' | 'notebook' | 'runtime' | 'grants' | 'settings';
    readonly path?: string;
    readonly kernelId?: string;
  }
}

export const ICartoCredentials = new Token<ICartoCredentials>(
  'jupyterlab-carto-credentials:ICartoCredentials',
  'The shared CARTO login: accounts, the default account, per-notebook choices and effective credentials.'
);

/**
 * Where accounts, keys and grants are kept: by default the server extension's REST API
 * (`docs/contracts.md` §2). Another extension can provide its own store by disabling
 * `jupyterlab-carto-credentials:account-store` and providing this token.
 */
export type ICartoAccountStore = IAccountStore;

export const ICartoAccountStore = new Token<ICartoAccountStore>(
  'jupyterlab-carto-credentials:ICartoAccountStore',
  'The CARTO account store (accounts, keys, default account, notebook grants) behind the shared login.'
);
