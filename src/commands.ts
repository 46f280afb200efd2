/**
 * Palette commands: open the panel, log in, log out of the default account, switch the current
 * notebook's account, and allow or revoke the current notebook's access to the key.
 */
import {
  ICommandPalette,
  InputDialog,
  Notification
} from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { CommandRegistry } from '@lumino/commands';
import { DisposableSet, IDisposable } from '@lumino/disposable';

import { confirmLogOut } from './dialogs';
import { cartoIcon } from './icons';
import { loginErrorMessage } from './messages';
import { IMetadataHolder } from './metadata';
import type { ICartoCredentialsManager } from './manager';
import {
  accountChoices,
  chooseNotebookAccount,
  IAccountChoice
} from './notebookAccount';
import { ICartoCredentials } from './tokens';

export namespace CommandIDs {
  export const openPanel = 'jupyterlab-carto-credentials:open-panel';
  export const logIn = 'jupyterlab-carto-credentials:log-in';
  export const logOut = 'jupyterlab-carto-credentials:log-out';
  export const switchAccount = 'jupyterlab-carto-credentials:switch-account';
  export const revokeAccess = 'jupyterlab-carto-credentials:revoke-access';
  export const allowAccess = 'jupyterlab-carto-credentials:allow-access';
}

/** The notebook the commands act on. */
export interface ICurrentNotebook {
  readonly path: string;
  readonly metadata: IMetadataHolder | null;
}

export interface ICommandsOptions {
  model: ICartoCredentialsManager;
  trans: TranslationBundle;
  /** Reveal the sidebar panel. */
  openPanel: () => void;
  /** Put the focus in the login form's first field. */
  focusLogin: () => void;
  /** The notebook in focus, if any. */
  current: () => ICurrentNotebook | null;
  /** Asks before logging out; a dialog by default. */
  confirm?: (account: ICartoCredentials.IAccount) => Promise<boolean>;
  /** Lets the user pick an account; an item dialog by default. */
  pick?: (
    choices: IAccountChoice[],
    current: IAccountChoice,
    path: string
  ) => Promise<IAccountChoice | null>;
}

const NO_ARGS = { args: { type: 'object', properties: {} } };

/** Add the commands; dispose the result to remove them. */
export function registerCommands(
  commands: CommandRegistry,
  options: ICommandsOptions
): IDisposable {
  const { model, trans, current } = options;
  const confirm = options.confirm ?? (a => confirmLogOut(a, trans));
  const pick =
    options.pick ?? ((c, now, path) => Private.pickItem(c, now, path, trans));
  const set = new DisposableSet();

  set.add(
    commands.addCommand(CommandIDs.openPanel, {
      label: trans.__('Open CARTO Credentials'),
      caption: trans.__('Show the CARTO credentials sidebar'),
      icon: cartoIcon,
      describedBy: NO_ARGS,
      execute: () => options.openPanel()
    })
  );

  set.add(
    commands.addCommand(CommandIDs.logIn, {
      label: trans.__('Log In to CARTO…'),
      caption: trans.__('Open the CARTO sidebar at its login form'),
      describedBy: NO_ARGS,
      execute: () => {
        options.openPanel();
        options.focusLogin();
      }
    })
  );

  set.add(
    commands.addCommand(CommandIDs.logOut, {
      label: () => {
        const account = model.defaultAccount;
        return account
          ? trans.__('Log Out of CARTO (%1)…', account.label)
          : trans.__('Log Out of CARTO…');
      },
      caption: trans.__(
        'Remove the default CARTO account and its key from this JupyterLab'
      ),
      describedBy: NO_ARGS,
      isEnabled: () => model.defaultAccount !== null,
      execute: async () => {
        const account = model.defaultAccount;
        if (!account || !(await confirm(account))) {
          return;
        }
        await Private.report(model.removeAccount(account.id), trans);
      }
    })
  );

  set.add(
    commands.addCommand(CommandIDs.switchAccount, {
      label: trans.__('Switch CARTO Account for This Notebook…'),
      caption: trans.__(
        'Choose which CARTO account the current notebook uses (saved in the notebook as an account id only)'
      ),
      describedBy: NO_ARGS,
      isEnabled: () => current() !== null,
      execute: async () => {
        const notebook = current();
        if (!notebook) {
          return;
        }
        const choices = accountChoices(model, trans);
        const chosenId = model.notebookAccountId(notebook.path);
        const now = choices.find(c => c.id === chosenId) ?? choices[0];
        const choice = await pick(choices, now, notebook.path);
        if (choice) {
          chooseNotebookAccount(
            model,
            notebook.path,
            notebook.metadata,
            choice.id
          );
        }
      }
    })
  );

  // Revoking and allowing the current notebook's access differ only in when and what they change.
  const accessCommand = (
    id: string,
    options: {
      label: string;
      caption: string;
      enabledFor: (access: 'allow' | 'deny' | 'undecided') => boolean;
      change: (path: string) => Promise<void>;
      done: (path: string) => string;
    }
  ) =>
    commands.addCommand(id, {
      label: options.label,
      caption: options.caption,
      describedBy: NO_ARGS,
      isEnabled: () => {
        const notebook = current();
        return (
          notebook !== null &&
          options.enabledFor(model.accessFor(notebook.path))
        );
      },
      execute: async () => {
        const notebook = current();
        if (!notebook) {
          return;
        }
        if (await Private.report(options.change(notebook.path), trans)) {
          Notification.info(options.done(notebook.path), { autoClose: 5000 });
        }
      }
    });

  set.add(
    accessCommand(CommandIDs.revokeAccess, {
      label: trans.__('Revoke CARTO Access for This Notebook'),
      caption: trans.__(
        'Stop sending the CARTO key to the current notebook; it will be asked again'
      ),
      enabledFor: access => access === 'allow',
      change: path => model.revokeGrant(path),
      done: path => trans.__('CARTO access revoked for %1.', path)
    })
  );
  set.add(
    accessCommand(CommandIDs.allowAccess, {
      label: trans.__('Allow CARTO Access for This Notebook'),
      caption: trans.__(
        'Send the CARTO credentials to the current notebook, also after it was denied'
      ),
      // Under the policy never no notebook gets credentials: allowing one would change nothing.
      enabledFor: access =>
        access !== 'allow' && model.settings.kernelAccess !== 'never',
      change: path => model.setGrant(path, 'allow'),
      done: path => trans.__('CARTO access allowed for %1.', path)
    })
  );
  return set;
}

/** Every command, under the "CARTO" palette category. */
export function addToPalette(
  palette: ICommandPalette,
  trans: TranslationBundle
): IDisposable {
  const set = new DisposableSet();
  const category = trans.__('CARTO');
  for (const command of [
    CommandIDs.openPanel,
    CommandIDs.logIn,
    CommandIDs.logOut,
    CommandIDs.switchAccount,
    CommandIDs.allowAccess,
    CommandIDs.revokeAccess
  ]) {
    set.add(palette.addItem({ command, category }));
  }
  return set;
}

namespace Private {
  export async function pickItem(
    choices: IAccountChoice[],
    current: IAccountChoice,
    path: string,
    trans: TranslationBundle
  ): Promise<IAccountChoice | null> {
    const result = await InputDialog.getItem({
      // Which notebook: the one whose choice changes, said in so many words.
      title: trans.__('CARTO account for %1', path),
      label: trans.__('Account'),
      items: choices.map(c => c.label),
      current: current.label
    });
    if (!result.button.accept || result.value === null) {
      return null;
    }
    return choices.find(c => c.label === result.value) ?? null;
  }

  /** Resolves whether the action worked; a failure becomes an error notification. */
  export async function report(
    action: Promise<void>,
    trans: TranslationBundle
  ): Promise<boolean> {
    try {
      await action;
      return true;
    } catch (reason) {
      Notification.error(loginErrorMessage(reason, trans));
      return false;
    }
  }
}
