/**
 * Confirmations shared by the sidebar and the commands, so both ask the same question.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';

import { ICartoCredentials } from './tokens';

/** Logging out deletes the stored key: ask first. */
export async function confirmLogOut(
  account: ICartoCredentials.IAccount,
  trans: TranslationBundle
): Promise<boolean> {
  const result = await showDialog({
    title: trans.__('Log out of CARTO?'),
    body:
      account.kind === 'oauth' || account.kind === 'm2m'
        ? trans.__(
            'The CARTO 3 login "%1" (%2) and its access token (and client secret) will be removed from this JupyterLab. Notebooks that use it will fall back to your default account, if you have one.',
            account.label,
            account.baseUrl
          )
        : trans.__(
            'The account "%1" (%2) and its API key will be removed from this JupyterLab. Notebooks that use it will fall back to your default account, if you have one.',
            account.label,
            account.baseUrl
          ),
    buttons: [
      Dialog.cancelButton({ label: trans.__('Cancel') }),
      Dialog.warnButton({ label: trans.__('Log out') })
    ]
  });
  return result.button.accept;
}
