/**
 * The notebook's own account choice, kept in its metadata as an account id only — never a key,
 * never a username, so sharing the file shares nothing secret.
 */
import * as z from 'zod/mini';

export const METADATA_KEY = 'carto_credentials';

const metadataSchema = z.object({
  account: z.string().check(z.minLength(1), z.maxLength(200))
});

/** The part of a notebook model this module needs. */
export interface IMetadataHolder {
  getMetadata(key: string): unknown;
  setMetadata(key: string, value: { account: string }): void;
  deleteMetadata(key: string): void;
}

/** The account id a notebook names, or `null` (none, or malformed metadata). */
export function readAccountId(holder: IMetadataHolder): string | null {
  const parsed = metadataSchema.safeParse(holder.getMetadata(METADATA_KEY));
  return parsed.success ? parsed.data.account : null;
}

/** Store (or clear, with `null`) a notebook's account choice. */
export function writeAccountId(
  holder: IMetadataHolder,
  accountId: string | null
): void {
  if (accountId === null) {
    holder.deleteMetadata(METADATA_KEY);
  } else {
    holder.setMetadata(METADATA_KEY, { account: accountId });
  }
}
