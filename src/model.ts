/**
 * The shared CARTO context: accounts (from the server-side store), the default account, each
 * notebook's choice, access grants, and credentials that notebook code set at run time.
 *
 * Keys are fetched from the server only when a kernel or a widget needs them, and never leave
 * this object through a signal.
 */
import { PromiseDelegate } from '@lumino/coreutils';
import { ISignal, Signal } from '@lumino/signaling';

import type { Carto3Token, ICarto3Store } from './carto3Rest';
import { Carto3Tokens, ITokenChange } from './carto3Tokens';
import type { CodeCredentials } from './protocol';
import {
  AccountList,
  GrantDecision,
  IAccountStore,
  ImportInfo,
  INewAccount,
  StoredAccount,
  ValidationResult
} from './rest';
import { KernelCredentials } from './kernelCredentials';
import type {
  Carto3LayerLogin,
  Carto3LoginTarget,
  ICartoCredentialsManager,
  ICodeCredentialsChange,
  IEffectiveAccount,
  IPushPayload
} from './manager';
import { PUBLIC_API_KEY } from './rules';
import { DEFAULT_SETTINGS, ISettingsConfig } from './settings';
import { ICartoCredentials } from './tokens';

export type {
  Carto3LayerLogin,
  IEffectiveAccount,
  IPushPayload
} from './manager';

export class CartoCredentialsModel implements ICartoCredentialsManager {
  constructor(options: CartoCredentialsModel.IOptions) {
    this._store = options.store;
    this._carto3 = options.carto3 ?? null;
    this._tokens = this._carto3
      ? new Carto3Tokens({ store: this._carto3 })
      : null;
    this._tokens?.changed.connect(this._onTokenChanged, this);
    // The public `changed` (other extensions may listen to it) follows the signals per concern.
    this._accountsChanged.connect(this._forwardAccounts, this);
    this._defaultChanged.connect(this._forwardDefault, this);
    this._notebookAccountChanged.connect(this._forwardNotebook, this);
    this._grantsChanged.connect(this._forwardGrants, this);
    this._settingsChanged.connect(this._forwardSettings, this);
    this._codeCredentialsChanged.connect(this._forwardCodeCredentials, this);
  }

  /** The CARTO 3 routes (browser and M2M logins), when the server has them. */
  get carto3Store(): ICarto3Store | null {
    return this._carto3;
  }

  get ready(): Promise<void> {
    return this._ready.promise;
  }

  /** Any change, for other extensions (public token); this extension's views use the ones below. */
  get changed(): ISignal<this, ICartoCredentials.IChange> {
    return this._changed;
  }

  get accountsChanged(): ISignal<this, void> {
    return this._accountsChanged;
  }

  get defaultChanged(): ISignal<this, string | null> {
    return this._defaultChanged;
  }

  get notebookAccountChanged(): ISignal<this, string> {
    return this._notebookAccountChanged;
  }

  get grantsChanged(): ISignal<this, string> {
    return this._grantsChanged;
  }

  get settingsChanged(): ISignal<this, Readonly<ISettingsConfig>> {
    return this._settingsChanged;
  }

  get codeCredentialsChanged(): ISignal<this, ICodeCredentialsChange> {
    return this._codeCredentialsChanged;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  get settings(): Readonly<ISettingsConfig> {
    return this._settings;
  }

  get accounts(): ReadonlyArray<ICartoCredentials.IAccount> {
    return [...this._accounts, ...this._kernels.accounts];
  }

  get defaultAccountId(): string | null {
    return this._defaultId;
  }

  /** The default account, if it still exists. */
  get defaultAccount(): ICartoCredentials.IAccount | null {
    return this._findStored(this._defaultId);
  }

  /** Apply new preferences. */
  configure(settings: ISettingsConfig): void {
    this._settings = settings;
    this._settingsChanged.emit(settings);
  }

  /** Load accounts and grants from the server; `ready` resolves after the first success. */
  /**
   * Read the store again when another window (or a kernel's headless run) changed it: accounts,
   * the default or grants. Cheap when nothing changed (two GETs, no signal); the plugin polls it.
   */
  async sync(): Promise<void> {
    const [list, grants] = await Promise.all([
      this._store.list(),
      this._store.grants()
    ]);
    if (Private.storeState(list, grants) !== this._storeState) {
      await this.refresh();
    }
  }

  async refresh(): Promise<void> {
    const [list, grants] = await Promise.all([
      this._store.list(),
      this._store.grants()
    ]);
    this._storeState = Private.storeState(list, grants);
    const previousDefault = this._defaultId;
    const previousGrants = this._grants;
    this._accounts = list.accounts.map(Private.toAccount);
    this._tokens?.retain(this._accounts.map(a => a.id));
    // Logged in again elsewhere (another tab): an expiry remembered here is stale.
    for (const account of this._accounts) {
      if (
        Private.isCarto3(account) &&
        !account.loginRequired &&
        this._tokens?.loginRequired(account.id)
      ) {
        this._tokens.forget(account.id);
      }
    }
    this._defaultId = list.default_account;
    this._grants = new Map(Object.entries(grants));
    for (const id of this._keys.keys()) {
      if (!this._findStored(id)) {
        this._keys.delete(id);
      }
    }
    void this.kernelBootstrap();
    // Keys are fetched now, not when a kernel needs one, so that a push never waits on the
    // network between a user's choice and their next cell.
    // CARTO 3 tokens likewise (which also schedules their renewal).
    await Promise.all(
      this._accounts
        .filter(account => !account.isPublic)
        .map(account =>
          (Private.isCarto3(account)
            ? this._carto3Token(account.id)
            : this._key(account.id)
          ).catch(() => undefined)
        )
    );
    this._ready.resolve();
    this._accountsChanged.emit();
    // Changed elsewhere (another window): the views and kernels of this one follow.
    if (this._defaultId !== previousDefault) {
      this._defaultChanged.emit(this._defaultId);
    }
    for (const path of new Set([
      ...previousGrants.keys(),
      ...this._grants.keys()
    ])) {
      if (previousGrants.get(path) !== this._grants.get(path)) {
        this._grantsChanged.emit(path);
      }
    }
  }

  /**
   * The Python a kernel without our comm target runs silently (fetched once, and early, so a
   * bootstrap does not wait on the network); `null` when the server cannot give it.
   */
  kernelBootstrap(): Promise<string | null> {
    if (!this._bootstrap) {
      this._bootstrap = this._store.kernelBootstrap().catch(reason => {
        console.warn('CARTO credentials: no kernel bootstrap.', reason.message);
        this._bootstrap = null;
        return null;
      });
    }
    return this._bootstrap;
  }

  /** Check an account against CARTO through the server, without saving it. */
  validate(account: INewAccount): Promise<ValidationResult> {
    return this._store.validate(this._withPolicy(account));
  }

  /** Save a new account (validated by the server when the settings ask for it). */
  async addAccount(account: INewAccount): Promise<ICartoCredentials.IAccount> {
    const created = await this._store.create(this._withPolicy(account));
    await this.refresh();
    if (this._defaultId === null) {
      await this.setDefault(created.id);
    }
    return Private.toAccount(created);
  }

  /** Whether CARTOframes' `creds.json` exists and what it names (never its key). */
  importInfo(): Promise<ImportInfo> {
    return this._store.importInfo();
  }

  /** Import CARTOframes' saved `creds.json` as an account. */
  async importCartoframes(): Promise<ICartoCredentials.IAccount> {
    const created = await this._store.importCartoframes();
    await this.refresh();
    if (this._defaultId === null) {
      await this.setDefault(created.id);
    }
    return Private.toAccount(created);
  }

  /**
   * A CARTO 3 login was added, or an account logged in again (the panel's CARTO 3 section):
   * read the accounts again, make it the default when there is none, and fetch its token anew,
   * which pushes it to every kernel using it at once.
   */
  async carto3AccountAdded(
    account: StoredAccount,
    _oauth: boolean
  ): Promise<void> {
    await this._tokens?.reload(account.id).catch(() => undefined);
    await this.refresh();
    if (this._defaultId === null && this._findStored(account.id)) {
      await this.setDefault(account.id);
    }
  }

  /** Log out: delete the account and its key from the store. */
  async removeAccount(id: string): Promise<void> {
    await this._store.remove(id);
    this._keys.delete(id);
    this._tokens?.forget(id);
    await this.refresh();
  }

  async setDefault(id: string | null): Promise<void> {
    if (id !== null && !this._findStored(id)) {
      throw new Error(`Unknown account ${id}.`);
    }
    await this._store.setDefault(id);
    this._defaultId = id;
    this._defaultChanged.emit(id);
  }

  /** The account id a notebook's metadata names, or `null` for "use the default". */
  notebookAccountId(path: string): string | null {
    return this._notebookChoices.get(path) ?? null;
  }

  /** Record a notebook's choice (read from or written to its metadata by the caller). */
  setNotebookAccount(path: string, id: string | null): void {
    if (this.notebookAccountId(path) === id) {
      return;
    }
    if (id === null) {
      this._notebookChoices.delete(path);
    } else {
      this._notebookChoices.set(path, id);
    }
    this._notebookAccountChanged.emit(path);
  }

  /** Follow a rename: choices and kernels move with the notebook. */
  renameNotebook(oldPath: string, newPath: string): void {
    const choice = this._notebookChoices.get(oldPath);
    this._notebookChoices.delete(oldPath);
    if (choice !== undefined) {
      this._notebookChoices.set(newPath, choice);
    }
    this._kernels.rename(oldPath, newPath);
    // The answer given for a notebook follows it: renaming is no reason to ask again.
    const decision = this._grants.get(oldPath);
    if (decision !== undefined && !this._grants.has(newPath)) {
      this._grants.delete(oldPath);
      this._grants.set(newPath, decision);
      void Promise.all([
        this._store.setGrant(newPath, decision),
        this._store.removeGrant(oldPath)
      ]).catch(reason =>
        console.warn(
          'CARTO credentials: the access answer did not follow the rename.',
          reason
        )
      );
    }
    this._notebookAccountChanged.emit(newPath);
  }

  /** The account a notebook uses: its own choice when it exists, else the default. */
  codeAccountOf(path: string): ICartoCredentials.IAccount | null {
    return this._kernels.codeAccountOf(path);
  }

  effectiveAccount(path: string): IEffectiveAccount {
    const chosen = this.notebookAccountId(path);
    if (chosen !== null) {
      const account = this._findStored(chosen);
      if (account) {
        return { account, missingId: null };
      }
    }
    return { account: this.defaultAccount, missingId: chosen };
  }

  /** Tell the model which notebook a kernel serves, so `resolve({ kernelId })` works. */
  registerKernel(kernelId: string, path: string): void {
    this._kernels.register(kernelId, path);
  }

  unregisterKernel(kernelId: string): void {
    if (this._kernels.unregister(kernelId)) {
      this._codeCredentialsChanged.emit({ kernelId });
    }
  }

  /** Credentials that code in a kernel set (`null` when it unset them). */
  setRuntimeCredentials(
    kernelId: string,
    credentials: CodeCredentials | null
  ): void {
    this._kernels.setCodeCredentials(kernelId, credentials);
    this._codeCredentialsChanged.emit({
      kernelId,
      path: this._kernels.pathOf(kernelId)
    });
  }

  /** Credentials that code in a kernel passed to a map layer, registered under `ref`. */
  registerRuntimeReference(
    kernelId: string,
    ref: string,
    credentials: CodeCredentials
  ): void {
    this._kernels.setLayerCredentials(kernelId, ref, credentials);
    this._codeCredentialsChanged.emit({
      kernelId,
      path: this._kernels.pathOf(kernelId)
    });
  }

  /** Whether a notebook may receive secrets under the current policy. */
  accessFor(path: string): 'allow' | 'deny' | 'undecided' {
    switch (this._settings.kernelAccess) {
      case 'always':
        return 'allow';
      case 'never':
        return 'deny';
      default:
        return this._grants.get(path) ?? 'undecided';
    }
  }

  /** Remember the user's answer for a notebook (server-side, per path). */
  async setGrant(path: string, decision: GrantDecision): Promise<void> {
    // Applied locally first, so a kernel starting meanwhile is not asked about it again.
    const previous = this._grants.get(path);
    this._grants.set(path, decision);
    this._grantsChanged.emit(path);
    try {
      await this._store.setGrant(path, decision);
    } catch (reason) {
      if (previous === undefined) {
        this._grants.delete(path);
      } else {
        this._grants.set(path, previous);
      }
      this._grantsChanged.emit(path);
      throw reason;
    }
  }

  /**
   * A file or folder was deleted: the answers given for it (and for everything under a deleted
   * folder) die with it, as the server drops them too. A different notebook put under the same
   * name later is asked about again.
   */
  forgetDeleted(path: string): void {
    const prefix = path.endsWith('/') ? path : `${path}/`;
    for (const granted of [...this._grants.keys()]) {
      if (granted === path || granted.startsWith(prefix)) {
        this._grants.delete(granted);
        this._grantsChanged.emit(granted);
      }
    }
  }

  /** Forget a notebook's answer: it will be asked again. */
  async revokeGrant(path: string): Promise<void> {
    await this._store.removeGrant(path);
    this._grants.delete(path);
    this._grantsChanged.emit(path);
  }

  /** What the kernel of a notebook should receive now. */
  async pushPayload(path: string): Promise<IPushPayload> {
    const { account } = this.effectiveAccount(path);
    if (!account) {
      return { state: 'no_account', account: null };
    }
    // default_public is no secret: public accounts need no grant.
    if (!account.isPublic && this.accessFor(path) !== 'allow') {
      return { state: 'not_granted', account: null };
    }
    if (Private.isCarto3(account)) {
      const token = await this._carto3Token(account.id);
      return token
        ? {
            version: 2,
            state: 'granted',
            account: {
              id: account.id,
              label: account.label,
              kind: account.kind,
              api_base_url: token.api_base_url,
              access_token: token.access_token,
              expires_at: token.expires_at
            }
          }
        : { version: 2, state: 'login_required', account: null };
    }
    const apiKey = await this._key(account.id);
    return {
      state: account.isPublic ? 'public' : 'granted',
      account: {
        id: account.id,
        label: account.label,
        username: account.username,
        base_url: account.baseUrl,
        api_key: apiKey
      }
    };
  }

  async resolve(
    target: ICartoCredentials.ITarget
  ): Promise<ICartoCredentials.IResolved | null> {
    if (target.ref !== undefined) {
      const code = target.kernelId
        ? this._kernels.layerCredentials(target.kernelId, target.ref)
        : undefined;
      return code ? Private.fromCode(target.ref, code) : null;
    }
    const path =
      target.path ??
      (target.kernelId ? this._kernels.pathOf(target.kernelId) : undefined);
    const kernelIds = target.kernelId
      ? [target.kernelId]
      : this._kernels.kernelsOf(path);
    for (const kernelId of kernelIds) {
      const code = this._kernels.codeCredentials(kernelId);
      if (code) {
        return Private.fromCode(KernelCredentials.accountId(kernelId), code);
      }
    }
    if (path === undefined) {
      return null;
    }
    const payload = await this.pushPayload(path);
    // A CARTO 3 login has a token, not an API key: nothing for API-key consumers.
    if (payload.version === 2 || !payload.account) {
      return null;
    }
    return {
      accountId: payload.account.id,
      label: payload.account.label,
      username: payload.account.username,
      baseUrl: payload.account.base_url,
      apiKey: payload.account.api_key,
      source:
        this.notebookAccountId(path) === payload.account.id
          ? 'notebook'
          : 'default'
    };
  }

  /**
   * The CARTO 3 login a map layer of a kernel's notebook, or an output of a notebook, draws with
   * (`docs/kernel-api.md`, Maps):
   * the account it names by id, else the notebook's account, under the notebook's grant; its
   * token comes from the in-memory token cache (fetched again before expiry). Never put the
   * answer in a signal, a log or widget state.
   */
  async carto3Login(target: Carto3LoginTarget): Promise<Carto3LayerLogin> {
    const path = target.path ?? this._kernels.pathOf(target.kernelId);
    if (path === undefined) {
      return { status: 'no_account' };
    }
    const account = target.accountId
      ? this._findStored(target.accountId)
      : this.effectiveAccount(path).account;
    if (!account) {
      return { status: target.accountId ? 'unknown_account' : 'no_account' };
    }
    if (!Private.isCarto3(account)) {
      return { status: 'not_carto3', label: account.label };
    }
    if (this.accessFor(path) !== 'allow') {
      return { status: 'not_granted', label: account.label };
    }
    const token = await this._carto3Token(account.id);
    return token
      ? {
          status: 'ok',
          accountId: account.id,
          label: account.label,
          apiBaseUrl: token.api_base_url,
          accessToken: token.access_token
        }
      : { status: 'login_required', label: account.label };
  }

  /** Every key this page knows, for masking outputs. */
  knownKeys(): string[] {
    const keys = [
      ...this._keys.values(),
      ...this._kernels.keys(),
      ...(this._tokens?.knownTokens() ?? [])
    ];
    return keys.filter(key => key !== PUBLIC_API_KEY);
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._keys.clear();
    this._tokens?.dispose();
    this._kernels.clear();
    Signal.clearData(this);
  }

  private async _key(id: string): Promise<string> {
    const account = this._findStored(id);
    if (account?.isPublic) {
      return PUBLIC_API_KEY;
    }
    let key = this._keys.get(id);
    if (key === undefined) {
      key = await this._store.key(id);
      this._keys.set(id, key);
    }
    return key;
  }

  /** The current token of a CARTO 3 account; `null` when it needs a new login. */
  private async _carto3Token(id: string): Promise<Carto3Token | null> {
    if (!this._tokens) {
      throw new Error('This server has no CARTO 3 support.');
    }
    return this._tokens.current(id);
  }

  /**
   * A token was renewed, a new login came, or a login expired: read the accounts again (their
   * expiry and status), which pushes the current token, or `login_required`, to the kernels.
   */
  private _onTokenChanged(_: Carto3Tokens, change: ITokenChange): void {
    if (!this._findStored(change.accountId)) {
      return;
    }
    this.refresh().catch(reason =>
      console.warn(
        'CARTO credentials: accounts not read again after a token change.',
        reason
      )
    );
  }

  private _forwardAccounts(): void {
    this._changed.emit({ type: 'accounts' });
  }

  private _forwardDefault(): void {
    this._changed.emit({ type: 'default' });
  }

  private _forwardNotebook(_: this, path: string): void {
    this._changed.emit({ type: 'notebook', path });
  }

  private _forwardGrants(_: this, path: string): void {
    this._changed.emit({ type: 'grants', path });
  }

  private _forwardSettings(): void {
    this._changed.emit({ type: 'settings' });
  }

  private _forwardCodeCredentials(
    _: this,
    change: ICodeCredentialsChange
  ): void {
    this._changed.emit({ type: 'runtime', ...change });
  }

  private _findStored(id: string | null): ICartoCredentials.IAccount | null {
    return id === null ? null : (this._accounts.find(a => a.id === id) ?? null);
  }

  private _withPolicy(account: INewAccount): INewAccount {
    return {
      ...account,
      allow_non_https: this._settings.allowNonHttps,
      validate: account.validate ?? this._settings.validateOnLogin
    };
  }

  private readonly _store: IAccountStore;
  private readonly _carto3: ICarto3Store | null;
  /** CARTO 3 tokens, in memory only, kept current. */
  private readonly _tokens: Carto3Tokens | null;
  private _settings: ISettingsConfig = { ...DEFAULT_SETTINGS };
  private _accounts: ICartoCredentials.IAccount[] = [];
  private _defaultId: string | null = null;
  private _grants = new Map<string, GrantDecision>();
  private _storeState = '';
  private readonly _keys = new Map<string, string>();
  private readonly _notebookChoices = new Map<string, string>();
  /** Which notebook each kernel serves and what code in it set. */
  private readonly _kernels = new KernelCredentials();
  private _bootstrap: Promise<string | null> | null = null;
  private readonly _ready = new PromiseDelegate<void>();
  private readonly _changed = new Signal<this, ICartoCredentials.IChange>(this);
  private readonly _accountsChanged = new Signal<this, void>(this);
  private readonly _defaultChanged = new Signal<this, string | null>(this);
  private readonly _notebookAccountChanged = new Signal<this, string>(this);
  private readonly _grantsChanged = new Signal<this, string>(this);
  private readonly _settingsChanged = new Signal<
    this,
    Readonly<ISettingsConfig>
  >(this);
  private readonly _codeCredentialsChanged = new Signal<
    this,
    ICodeCredentialsChange
  >(this);
  private _isDisposed = false;
}

export namespace CartoCredentialsModel {
  export interface IOptions {
    store: IAccountStore;
    /** The server's CARTO 3 routes; without them CARTO 3 accounts get no token. */
    carto3?: ICarto3Store;
  }
}

namespace Private {
  /** What the store said, as one comparable text (no keys: lists and grants hold none). */
  export function storeState(
    list: AccountList,
    grants: Record<string, GrantDecision>
  ): string {
    return JSON.stringify([list, grants]);
  }

  /** A CARTO 3 login (a token, no API key). */
  export function isCarto3(
    account: ICartoCredentials.IAccount
  ): account is ICartoCredentials.IAccount & { kind: 'oauth' | 'm2m' } {
    return account.kind === 'oauth' || account.kind === 'm2m';
  }

  export function toAccount(stored: StoredAccount): ICartoCredentials.IAccount {
    const info = stored.user_info ?? null;
    const kind = stored.kind ?? 'api_key';
    return {
      id: stored.id,
      label: stored.label,
      username: stored.username,
      // A CARTO 3 login's server is its API base URL.
      baseUrl:
        kind === 'api_key' ? stored.base_url : (stored.api_base_url ?? ''),
      kind,
      loginRequired: stored.status === 'login_required',
      isPublic: stored.public,
      isRuntime: false,
      userInfo: info
        ? {
            username: info.username,
            email: info.email,
            avatarUrl: info.avatar_url
          }
        : null
    };
  }

  export function fromCode(
    accountId: string,
    code: CodeCredentials
  ): ICartoCredentials.IResolved {
    return {
      accountId,
      label: code.username ?? code.base_url,
      username: code.username,
      baseUrl: code.base_url,
      apiKey: code.api_key,
      source: 'code'
    };
  }
}
