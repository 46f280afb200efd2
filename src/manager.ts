/**
 * What this extension's own views (sidebar, toolbar, status bar, kernel bridge, commands, output
 * masking) need from the shared login: the public `ICartoCredentials` plus the operations behind
 * them. An internal token, not re-exported: other extensions use `ICartoCredentials` only.
 */
import { Token } from '@lumino/coreutils';
import type { IDisposable } from '@lumino/disposable';
import type { ISignal } from '@lumino/signaling';

import type { ICarto3Store } from './carto3Rest';
import type { CodeCredentials } from './protocol';
import type { PushContent } from './push';
import type {
  GrantDecision,
  ImportInfo,
  INewAccount,
  StoredAccount,
  ValidationResult
} from './rest';
import type { ISettingsConfig } from './settings';
import type { ICartoCredentials } from './tokens';

/**
 * What a kernel should receive: see `docs/contracts.md` §1; a CARTO 3 login (or its
 * `login_required`) is `version: 2` (§4).
 */
export type IPushPayload = PushContent;

/** Which account a notebook uses, and whether its own choice had to be replaced. */
export interface IEffectiveAccount {
  account: ICartoCredentials.IAccount | null;
  /** The id the notebook asked for but this user does not have. */
  missingId: string | null;
}

/** A map layer's CARTO 3 login (`carto3Login`); the token only when `status` is `ok`. */
export type Carto3LayerLogin =
  | {
      status: 'ok';
      accountId: string;
      label: string;
      apiBaseUrl: string;
      accessToken: string;
    }
  | { status: 'login_required' | 'not_carto3' | 'not_granted'; label: string }
  | { status: 'no_account' | 'unknown_account' };

/**
 * Whose CARTO 3 login: a map layer's kernel, or a notebook's path (a rendered pydeck output);
 * `accountId` names a stored account, else the notebook's account.
 */
export type Carto3LoginTarget = (
  | { kernelId: string; path?: undefined }
  | { path: string; kernelId?: undefined }
) & { accountId?: string | null };

/** Which kernel's code-set credentials changed (`path`: its notebook, while it has one). */
export interface ICodeCredentialsChange {
  readonly kernelId: string;
  readonly path?: string;
}

/**
 * The shared login as this extension's views use it (`CartoCredentialsModel` implements it).
 * One signal per concern; none carries a key. The public `changed` fires for each of them too.
 */
export interface ICartoCredentialsManager
  extends ICartoCredentials, IDisposable {
  /** The CARTO 3 routes (browser and M2M logins), when the server has them. */
  readonly carto3Store: ICarto3Store | null;
  readonly settings: Readonly<ISettingsConfig>;
  /** The default account, if it still exists. */
  readonly defaultAccount: ICartoCredentials.IAccount | null;

  /** The accounts were read again from the store (added, removed, renewed, expired). */
  readonly accountsChanged: ISignal<ICartoCredentialsManager, void>;
  /** The default account changed; the payload is the new default id. */
  readonly defaultChanged: ISignal<ICartoCredentialsManager, string | null>;
  /** A notebook's account choice changed, or followed a rename; the payload is its path. */
  readonly notebookAccountChanged: ISignal<ICartoCredentialsManager, string>;
  /** An access answer for a notebook was given, undone or forgotten; the payload is its path. */
  readonly grantsChanged: ISignal<ICartoCredentialsManager, string>;
  /** New preferences were applied. */
  readonly settingsChanged: ISignal<
    ICartoCredentialsManager,
    Readonly<ISettingsConfig>
  >;
  /** Code in a kernel set, unset or registered credentials, or the kernel went away. */
  readonly codeCredentialsChanged: ISignal<
    ICartoCredentialsManager,
    ICodeCredentialsChange
  >;

  /** Apply new preferences. */
  configure(settings: ISettingsConfig): void;
  /** Load accounts and grants from the store. */
  refresh(): Promise<void>;
  /** The Python bootstrap for kernels without the package, loaded once. */
  kernelBootstrap(): Promise<string | null>;

  validate(account: INewAccount): Promise<ValidationResult>;
  addAccount(account: INewAccount): Promise<ICartoCredentials.IAccount>;
  importInfo(): Promise<ImportInfo>;
  importCartoframes(): Promise<ICartoCredentials.IAccount>;
  /** A CARTO 3 login the panel just completed. */
  carto3AccountAdded(account: StoredAccount, oauth: boolean): Promise<void>;
  removeAccount(id: string): Promise<void>;
  setDefault(id: string | null): Promise<void>;

  setNotebookAccount(path: string, id: string | null): void;
  renameNotebook(oldPath: string, newPath: string): void;
  effectiveAccount(path: string): IEffectiveAccount;
  /** The account code in this notebook's kernel set as its default (it wins there), if any. */
  codeAccountOf(path: string): ICartoCredentials.IAccount | null;

  registerKernel(kernelId: string, path: string): void;
  unregisterKernel(kernelId: string): void;
  setRuntimeCredentials(
    kernelId: string,
    credentials: CodeCredentials | null
  ): void;
  registerRuntimeReference(
    kernelId: string,
    ref: string,
    credentials: CodeCredentials
  ): void;

  accessFor(path: string): 'allow' | 'deny' | 'undecided';
  setGrant(path: string, decision: GrantDecision): Promise<void>;
  revokeGrant(path: string): Promise<void>;
  forgetDeleted(path: string): void;

  /** What a notebook's kernels should receive. */
  pushPayload(path: string): Promise<IPushPayload>;
  /** The CARTO 3 login a map layer of a kernel's notebook (or a notebook's output) draws with. */
  carto3Login(target: Carto3LoginTarget): Promise<Carto3LayerLogin>;
  /** Every key this page knows, for masking outputs. */
  knownKeys(): string[];
}

/** Internal: provided by `jupyterlab-carto-credentials:plugin` for this extension's plugins. */
export const ICartoCredentialsManager = new Token<ICartoCredentialsManager>(
  'jupyterlab-carto-credentials:ICartoCredentialsManager',
  "The CARTO credentials extension's own view of the shared login (internal)."
);

/** Every signal of the manager, for views that show something that depends on all of them. */
export function concernSignals(
  manager: ICartoCredentialsManager
): ReadonlyArray<ISignal<ICartoCredentialsManager, unknown>> {
  return [
    manager.accountsChanged,
    manager.defaultChanged,
    manager.notebookAccountChanged,
    manager.grantsChanged,
    manager.settingsChanged,
    manager.codeCredentialsChanged
  ];
}
