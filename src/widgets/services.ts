/**
 * What the lazily loaded views need from the plugin that registered them: the shared CARTO
 * context and the translations. Set once by the widgets plugin before the module is used.
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import type { Carto3LayerLogin } from '../model';
import type { ICartoCredentials } from '../tokens';

/** Where a CARTO 3 layer gets its login (this extension's model; a fake in tests). */
export interface ICarto3Logins {
  carto3Login(target: {
    kernelId: string;
    accountId?: string | null;
  }): Promise<Carto3LayerLogin>;
}

export interface IWidgetServices {
  readonly credentials: ICartoCredentials;
  readonly trans: TranslationBundle;
  /**
   * CARTO 3 logins for layers with a `connection`; by default `credentials` itself when it is
   * this extension's model (another provider of the token has none: such layers say so).
   */
  readonly carto3?: ICarto3Logins;
  /** Injected in tests; the page's `fetch` otherwise. */
  readonly fetch?: typeof fetch;
}

let current: IWidgetServices | null = null;

export function setWidgetServices(services: IWidgetServices | null): void {
  current = services;
}

export function widgetServices(): IWidgetServices | null {
  return current;
}

/** The services' source of CARTO 3 logins, if any. */
export function carto3Logins(services: IWidgetServices): ICarto3Logins | null {
  if (services.carto3) {
    return services.carto3;
  }
  const candidate = services.credentials as Partial<ICarto3Logins>;
  return typeof candidate.carto3Login === 'function'
    ? (candidate as ICarto3Logins)
    : null;
}
