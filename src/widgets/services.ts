/**
 * What the lazily loaded views need from the plugin that registered them: the shared CARTO
 * context and the translations. Set once by the widgets plugin before the module is used.
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import type { ICartoCredentials } from '../tokens';

export interface IWidgetServices {
  readonly credentials: ICartoCredentials;
  readonly trans: TranslationBundle;
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
