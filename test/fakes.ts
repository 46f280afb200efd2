/**
 * Hand-made fakes: an in-memory account store, and kernels/comms that record what they are sent.
 */
import { Signal } from '@lumino/signaling';

import type {
  ConnectionStatus,
  ICommLike,
  IKernelLike,
  ISessionContextLike
} from '../src/bridge';
import type {
  AccountList,
  GrantDecision,
  IAccountStore,
  INewAccount,
  ImportInfo,
  StoredAccount,
  ValidationResult
} from '../src/rest';

export class FakeStore implements IAccountStore {
  accounts: (StoredAccount & { api_key: string })[] = [];
  defaultId: string | null = null;
  grantMap: Record<string, GrantDecision> = {};
  keyRequests = 0;
  created: INewAccount[] = [];

  add(
    id: string,
    username: string,
    apiKey: string
  ): StoredAccount & { api_key: string } {
    const account = {
      id,
      label: username,
      username,
      base_url: `https://${username}.carto.com/`,
      public: apiKey === 'default_public',
      user_info: null,
      api_key: apiKey
    };
    this.accounts.push(account);
    return account;
  }

  async list(): Promise<AccountList> {
    return {
      accounts: this.accounts.map(({ api_key: _key, ...rest }) => rest),
      default_account: this.defaultId
    };
  }
  /** Makes the next `create` fail (e.g. with an `AccountStoreError`). */
  createError: Error | null = null;
  /** While set, `create` waits for it: lets tests see the pending state. */
  createGate: Promise<void> | null = null;
  importAnswer: ImportInfo = { available: false };
  imported: StoredAccount | null = null;

  async create(account: INewAccount): Promise<StoredAccount> {
    this.created.push(account);
    if (this.createGate) {
      await this.createGate;
    }
    if (this.createError) {
      const error = this.createError;
      this.createError = null;
      throw error;
    }
    const username = account.username ?? 'someone';
    const { api_key: _key, ...stored } = this.add(
      `acc-${this.accounts.length + 1}`,
      username,
      account.api_key
    );
    return stored;
  }
  async remove(id: string): Promise<void> {
    this.accounts = this.accounts.filter(a => a.id !== id);
    if (this.defaultId === id) {
      this.defaultId = null;
    }
  }
  async key(id: string): Promise<string> {
    this.keyRequests++;
    const account = this.accounts.find(a => a.id === id);
    if (!account) {
      throw new Error('unknown account');
    }
    return account.api_key;
  }
  async setDefault(id: string | null): Promise<void> {
    this.defaultId = id;
  }
  async grants(): Promise<Record<string, GrantDecision>> {
    return { ...this.grantMap };
  }
  async setGrant(path: string, decision: GrantDecision): Promise<void> {
    this.grantMap[path] = decision;
  }
  async removeGrant(path: string): Promise<void> {
    delete this.grantMap[path];
  }
  async validate(_: INewAccount): Promise<ValidationResult> {
    return { ok: true, user_info: null };
  }
  async importInfo(): Promise<ImportInfo> {
    return { ...this.importAnswer };
  }
  bootstrapCode = '# bootstrap the carto.credentials target';
  async kernelBootstrap(): Promise<string> {
    return this.bootstrapCode;
  }
  async importCartoframes(): Promise<StoredAccount> {
    if (!this.importAnswer.available) {
      throw new Error('nothing to import');
    }
    const { api_key: _key, ...stored } = this.add(
      `acc-${this.accounts.length + 1}`,
      this.importAnswer.username ?? 'someone',
      'imported-key-1234'
    );
    this.imported = stored;
    return stored;
  }
}

export class FakeComm implements ICommLike {
  opened: unknown[] = [];
  sent: unknown[] = [];
  commsOverSubshells?: ICommLike['commsOverSubshells'];
  isDisposed = false;
  onMsg: ICommLike['onMsg'] = () => undefined;
  onClose: ICommLike['onClose'] = () => undefined;

  open(data?: unknown): void {
    this.opened.push(data);
  }
  send(data: unknown): void {
    this.sent.push(data);
  }
  /** The kernel closes the comm (e.g. no such target). */
  closeFromKernel(): void {
    this.isDisposed = true;
    this.onClose({ content: { data: {} } });
  }
  /** The kernel sends a message on the comm. */
  receive(data: unknown): void {
    this.onMsg({ content: { data } });
  }
}

export class FakeKernel implements IKernelLike {
  constructor(
    readonly id: string,
    readonly language = 'python'
  ) {}
  get info(): Promise<{ language_info: { name: string } }> {
    return Promise.resolve({ language_info: { name: this.language } });
  }
  connectionStatus: ConnectionStatus = 'connected';
  readonly connectionStatusChanged = new Signal<this, ConnectionStatus>(this);
  comms: FakeComm[] = [];
  executed: string[] = [];

  createComm(target: string): FakeComm {
    if (target !== 'carto.credentials') {
      throw new Error(`unexpected target ${target}`);
    }
    const comm = new FakeComm();
    this.comms.push(comm);
    return comm;
  }
  requestExecute(content: { code: string }): void {
    this.executed.push(content.code);
  }
  /** Simulates a restart: comms are disposed silently, then the connection comes back. */
  restart(): void {
    for (const comm of this.comms) {
      comm.isDisposed = true;
    }
    this.setStatus('connecting');
    this.setStatus('connected');
  }
  setStatus(status: ConnectionStatus): void {
    this.connectionStatus = status;
    this.connectionStatusChanged.emit(status);
  }
  /** Every message that reached the kernel, in order (open data and sends). */
  get messages(): unknown[] {
    return this.comms.flatMap(c => [...c.opened, ...c.sent]);
  }
}

export class FakeSessionContext implements ISessionContextLike {
  constructor(
    public path: string,
    kernel: FakeKernel | null
  ) {
    this.session = { kernel };
  }
  session: { kernel: FakeKernel | null };
  readonly kernelChanged = new Signal<this, { newValue: FakeKernel | null }>(
    this
  );
  changeKernel(kernel: FakeKernel | null): void {
    this.session = { kernel };
    this.kernelChanged.emit({ newValue: kernel });
  }
}

/** Let every pending promise callback run (a macrotask comes after all microtasks). */
export async function settle(): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, 0));
}
