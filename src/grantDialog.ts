/**
 * Asks once whether a notebook may receive CARTO credentials (policy `ask`): the answer holds for
 * the notebook, whichever of the user's accounts it uses later.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';

import type { GrantDecision } from './rest';

/** The Deny button's action: closing the dialog also answers a cancel button, in any language. */
const DENY = 'jp-CartoCredentials-deny';

export async function askGrant(
  path: string,
  accountLabel: string,
  trans: TranslationBundle
): Promise<GrantDecision | null> {
  const result = await showDialog({
    title: trans.__('Allow CARTO access?'),
    body: trans.__(
      // The grant is the notebook's, whichever account it uses: say so, not only "%2".
      '"%1" wants to use your CARTO credentials, now those of the account "%2". Code in its kernel will be able to read the API key or CARTO 3 access token of whichever account this notebook uses (chosen in its toolbar). Allow CARTO access for "%1"?',
      path,
      accountLabel
    ),
    buttons: [
      Dialog.cancelButton({ label: trans.__('Deny'), actions: [DENY] }),
      Dialog.okButton({ label: trans.__('Allow') })
    ],
    hasClose: true
  });
  if (result.button.accept) {
    return 'allow';
  }
  // Closing the dialog decides nothing: the notebook is asked again next time.
  return result.button.actions.includes(DENY) ? 'deny' : null;
}
