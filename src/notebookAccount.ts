/**
 * A notebook's account choice, shared by the toolbar selector and the switch-account command:
 * the same list of choices and one way of writing a choice (metadata first, then the model).
 */
import { TranslationBundle } from '@jupyterlab/translation';

import { IMetadataHolder, writeAccountId } from './metadata';
import type { ICartoCredentialsManager } from './manager';

/** One entry of the choice list; `id: null` means "use the default account". */
export interface IAccountChoice {
  readonly id: string | null;
  readonly label: string;
}

/** "Default (…)" first, then every stored account (run-time accounts cannot be chosen). */
export function accountChoices(
  model: ICartoCredentialsManager,
  trans: TranslationBundle
): IAccountChoice[] {
  const fallback = model.defaultAccount;
  const choices: IAccountChoice[] = [
    {
      id: null,
      label: fallback
        ? trans.__('Default (%1)', fallback.label)
        : trans.__('Default (none)')
    }
  ];
  const stored = model.accounts.filter(account => !account.isRuntime);
  for (const account of stored) {
    // Two accounts may share a label; the server tells them apart in a list of names.
    const twin = stored.some(
      other => other !== account && other.label === account.label
    );
    choices.push({
      id: account.id,
      label: twin ? `${account.label} — ${account.baseUrl}` : account.label
    });
  }
  return choices;
}

/** Record a notebook's choice in its metadata (saved with the file) and in the model. */
export function chooseNotebookAccount(
  model: ICartoCredentialsManager,
  path: string,
  holder: IMetadataHolder | null,
  id: string | null
): void {
  if (holder) {
    writeAccountId(holder, id);
  }
  model.setNotebookAccount(path, id);
}
