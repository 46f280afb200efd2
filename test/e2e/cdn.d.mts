// Types of cdn.mjs for the galata specs (ui-tests), which import it.
import type { BrowserContext, Page } from '@playwright/test';

export interface ICdnRecord {
  /** CDN URLs answered with a local copy. */
  served: string[];
  /** Assets pydeck's page links but a deck.gl-only map does not need (aborted). */
  blocked: string[];
  /** Any other outside URL (aborted): a test asserts this empty. */
  unexpected: string[];
}

export function serveCdnLocally(
  target: Page | BrowserContext,
  options?: Record<string, unknown>
): Promise<ICdnRecord>;
