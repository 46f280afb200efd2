/**
 * Per-kernel state the frontend keeps for the shared context: which notebook each kernel serves,
 * the credentials code in it set as its default, and those it passed to map layers by reference.
 * It holds keys set by code, so it never emits anything: the model signals the changes.
 */
import type { CodeCredentials } from './protocol';
import { PUBLIC_API_KEY } from './rules';
import type { ICartoCredentials } from './tokens';

export class KernelCredentials {
  /** The notebook (or console) path a kernel serves. */
  pathOf(kernelId: string): string | undefined {
    return this._paths.get(kernelId);
  }

  /** The kernels serving a path. */
  kernelsOf(path: string | undefined): string[] {
    return [...this._paths].filter(([, p]) => p === path).map(([id]) => id);
  }

  register(kernelId: string, path: string): void {
    this._paths.set(kernelId, path);
  }

  /** Forgets a kernel; true when it had code-set credentials (a change of `accounts`). */
  unregister(kernelId: string): boolean {
    this._paths.delete(kernelId);
    this._layerCredentials.delete(kernelId);
    this._codeCredentials.delete(kernelId);
    return this._codeAccounts.delete(kernelId);
  }

  /** Kernels follow their notebook when it is renamed. */
  rename(oldPath: string, newPath: string): void {
    for (const [kernelId, path] of this._paths) {
      if (path === oldPath) {
        this._paths.set(kernelId, newPath);
      }
    }
  }

  /** Credentials that code in a kernel set as its default (`null` when it unset them). */
  setCodeCredentials(
    kernelId: string,
    credentials: CodeCredentials | null
  ): void {
    if (credentials === null) {
      this._codeCredentials.delete(kernelId);
      this._codeAccounts.delete(kernelId);
      return;
    }
    this._codeCredentials.set(kernelId, credentials);
    this._codeAccounts.set(kernelId, {
      id: KernelCredentials.accountId(kernelId),
      label: credentials.username ?? credentials.base_url,
      username: credentials.username,
      baseUrl: credentials.base_url,
      isPublic: credentials.api_key === PUBLIC_API_KEY,
      isRuntime: true,
      userInfo: null
    });
  }

  codeCredentials(kernelId: string): CodeCredentials | undefined {
    return this._codeCredentials.get(kernelId);
  }

  /** Credentials that code in a kernel passed to a map layer, under `ref`. */
  setLayerCredentials(
    kernelId: string,
    ref: string,
    credentials: CodeCredentials
  ): void {
    let refs = this._layerCredentials.get(kernelId);
    if (!refs) {
      refs = new Map();
      this._layerCredentials.set(kernelId, refs);
    }
    refs.set(ref, credentials);
  }

  layerCredentials(kernelId: string, ref: string): CodeCredentials | undefined {
    return this._layerCredentials.get(kernelId)?.get(ref);
  }

  /** The keyless accounts shown for code-set credentials. */
  get accounts(): ICartoCredentials.IAccount[] {
    return [...this._codeAccounts.values()];
  }

  /** The account code set in a kernel of `path` (`set_default_credentials`), if any. */
  codeAccountOf(path: string): ICartoCredentials.IAccount | null {
    for (const kernelId of this.kernelsOf(path)) {
      const account = this._codeAccounts.get(kernelId);
      if (account) {
        return account;
      }
    }
    return null;
  }

  /** Every key code set, for masking outputs. */
  keys(): string[] {
    const keys = [...this._codeCredentials.values()].map(c => c.api_key);
    for (const refs of this._layerCredentials.values()) {
      for (const code of refs.values()) {
        keys.push(code.api_key);
      }
    }
    return keys;
  }

  clear(): void {
    this._paths.clear();
    this._codeCredentials.clear();
    this._layerCredentials.clear();
    this._codeAccounts.clear();
  }

  /** Kernel id → notebook path. */
  private readonly _paths = new Map<string, string>();
  /** Kernel id → the credentials code in that kernel set as its default. */
  private readonly _codeCredentials = new Map<string, CodeCredentials>();
  /** Kernel id → reference → the credentials code passed to a map layer. */
  private readonly _layerCredentials = new Map<
    string,
    Map<string, CodeCredentials>
  >();
  /** Kernel id → the keyless account shown for its code-set credentials. */
  private readonly _codeAccounts = new Map<
    string,
    ICartoCredentials.IAccount
  >();
}

export namespace KernelCredentials {
  /** The account id under which a kernel's code-set credentials are listed. */
  export function accountId(kernelId: string): string {
    return `runtime-${kernelId}`;
  }
}
