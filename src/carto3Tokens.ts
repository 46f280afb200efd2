/**
 * CARTO 3 access tokens, in this page's memory only (never in settings, state or a signal), and
 * kept current: each token is fetched again a margin before its `expires_at`, which makes the
 * server renew an M2M token, so kernels are pushed the new one before the old one expires and
 * cells never need re-running. An OAuth token cannot be renewed (CARTO issues no refresh token):
 * at its expiry the server answers `409 login_required` and the account is reported as such.
 */
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import type { Carto3Token, ICarto3Store } from './carto3Rest';
import { storeErrorCode } from './rest';

/** Fetch again this long before expiry at most (the server renews M2M with 300 s left). */
const RENEW_MARGIN_S = 240;
/** After a failed background fetch (server unreachable), try again this much later. */
const RETRY_MS = 30_000;
/** The longest delay `setTimeout` takes (about 24.8 days). */
const MAX_DELAY_MS = 2 ** 31 - 1;

/** Why a token changed, for whoever pushes it on. */
export interface ITokenChange {
  readonly accountId: string;
  /** `true` when the account needs a new login now. */
  readonly loginRequired: boolean;
}

export class Carto3Tokens implements IDisposable {
  constructor(options: Carto3Tokens.IOptions) {
    this._store = options.store;
    this._now = options.now ?? (() => Date.now());
  }

  /** A token changed (renewed, new login) or was lost (`login_required`); ids only. */
  get changed(): ISignal<this, ITokenChange> {
    return this._changed;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /**
   * The account's current token (from memory while it is not due), or `null` when the account
   * needs a new login. Other failures (server unreachable) reject.
   */
  async current(accountId: string): Promise<Carto3Token | null> {
    const entry = this._entries.get(accountId);
    if (entry === null) {
      return null;
    }
    if (entry && !this._due(entry)) {
      return entry.token;
    }
    return this._fetch(accountId);
  }

  /**
   * Drop what is known and fetch again now: after a new login or a re-login. Announces the
   * change (even to the same token), so kernels get it at once.
   */
  async reload(accountId: string): Promise<Carto3Token | null> {
    this._clearTimer(accountId);
    this._entries.delete(accountId);
    const token = await this._fetch(accountId, true);
    return token;
  }

  /** The account was removed or logged out: forget its token. */
  forget(accountId: string): void {
    this._clearTimer(accountId);
    this._entries.delete(accountId);
  }

  /** Forget every account not in `ids` (after the account list was read again). */
  retain(ids: ReadonlyArray<string>): void {
    for (const id of [...this._entries.keys()]) {
      if (!ids.includes(id)) {
        this.forget(id);
      }
    }
  }

  /** Whether the last answer for this account was `login_required`. */
  loginRequired(accountId: string): boolean {
    return this._entries.get(accountId) === null;
  }

  /** Every token this page holds, for masking outputs. */
  knownTokens(): string[] {
    const tokens: string[] = [];
    for (const entry of this._entries.values()) {
      if (entry) {
        tokens.push(entry.token.access_token);
      }
    }
    return tokens;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    for (const id of [...this._timers.keys()]) {
      this._clearTimer(id);
    }
    this._entries.clear();
    Signal.clearData(this);
  }

  private _due(entry: Private.IEntry): boolean {
    return this._now() >= entry.renewAt;
  }

  /** One fetch at a time per account; `announce` emits even when the token did not change. */
  private _fetch(
    accountId: string,
    announce = false
  ): Promise<Carto3Token | null> {
    let running = this._inFlight.get(accountId);
    if (!running) {
      running = this._doFetch(accountId).finally(() =>
        this._inFlight.delete(accountId)
      );
      this._inFlight.set(accountId, running);
    }
    return running.then(result => {
      if (announce && !result.announced) {
        this._changed.emit({ accountId, loginRequired: result.token === null });
      }
      return result.token;
    });
  }

  private async _doFetch(
    accountId: string
  ): Promise<{ token: Carto3Token | null; announced: boolean }> {
    const previous = this._entries.get(accountId);
    let token: Carto3Token | null;
    try {
      token = await this._store.token(accountId);
    } catch (reason) {
      if (storeErrorCode(reason) !== 'login_required') {
        throw reason;
      }
      token = null;
    }
    if (this._isDisposed) {
      return { token, announced: false };
    }
    this._clearTimer(accountId);
    if (token === null) {
      this._entries.set(accountId, null);
    } else {
      const entry = this._entry(token, previous);
      this._entries.set(accountId, entry);
      this._schedule(accountId, entry.renewAt);
    }
    // The first token of an account is news to nobody; a different one, or its loss, is.
    const changed =
      previous !== undefined &&
      (previous === null
        ? token !== null
        : token === null ||
          token.access_token !== previous.token.access_token ||
          token.expires_at !== previous.token.expires_at);
    if (changed) {
      this._changed.emit({ accountId, loginRequired: token === null });
    }
    return { token, announced: changed };
  }

  /** When to fetch this token again: a margin before expiry, or at expiry when it came back unchanged. */
  private _entry(
    token: Carto3Token,
    previous: Private.IEntry | null | undefined
  ): Private.IEntry {
    const now = this._now();
    const expiresMs = token.expires_at * 1000;
    const lifetimeS = Math.max(0, (expiresMs - now) / 1000);
    // Short-lived tokens (tests, small expiries) are fetched again at half their life.
    const margin = Math.min(RENEW_MARGIN_S, lifetimeS / 2) * 1000;
    let renewAt = expiresMs - margin;
    const unchanged =
      previous?.token.access_token === token.access_token &&
      previous.token.expires_at === token.expires_at;
    if (unchanged && renewAt <= now) {
      // The server had nothing newer (an OAuth token): ask again when it expires, and learn then
      // that a new login is needed; never sooner than a retry, so a page whose clock runs ahead
      // of the server's does not ask in a loop.
      renewAt = Math.max(expiresMs + 1000, now + RETRY_MS);
    }
    return { token, renewAt };
  }

  private _schedule(accountId: string, at: number): void {
    const delay = Math.min(MAX_DELAY_MS, Math.max(0, at - this._now()));
    const timer = setTimeout(() => {
      this._timers.delete(accountId);
      this._fetch(accountId).catch(() => {
        // Unreachable for now: keep what we have and try again a little later.
        if (!this._isDisposed && this._entries.get(accountId)) {
          this._schedule(accountId, this._now() + RETRY_MS);
        }
      });
    }, delay);
    this._timers.set(accountId, timer);
  }

  private _clearTimer(accountId: string): void {
    const timer = this._timers.get(accountId);
    if (timer !== undefined) {
      clearTimeout(timer);
      this._timers.delete(accountId);
    }
  }

  private readonly _store: Pick<ICarto3Store, 'token'>;
  private readonly _now: () => number;
  /** `null`: the server answered `login_required`. */
  private readonly _entries = new Map<string, Private.IEntry | null>();
  private readonly _inFlight = new Map<
    string,
    Promise<{ token: Carto3Token | null; announced: boolean }>
  >();
  private readonly _timers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly _changed = new Signal<this, ITokenChange>(this);
  private _isDisposed = false;
}

export namespace Carto3Tokens {
  export interface IOptions {
    store: Pick<ICarto3Store, 'token'>;
    /** The clock, in epoch milliseconds (tests pass a fake one). */
    now?: () => number;
  }
}

namespace Private {
  export interface IEntry {
    token: Carto3Token;
    /** Epoch milliseconds after which the token is fetched again. */
    renewAt: number;
  }
}
