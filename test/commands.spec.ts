import { CommandRegistry } from '@lumino/commands';

import {
  CommandIDs,
  ICurrentNotebook,
  registerCommands
} from '../src/commands';
import { METADATA_KEY } from '../src/metadata';
import { DEFAULT_SETTINGS } from '../src/settings';
import { FakeMetadata, loadedModel, trans } from './uiHarness';

describe('registerCommands()', () => {
  async function setup(
    options: {
      confirm?: boolean;
      pick?: string | null;
      current?: ICurrentNotebook | null;
    } = {}
  ) {
    const { model, store } = await loadedModel(s => {
      s.grantMap['n.ipynb'] = 'allow';
    });
    const calls: string[] = [];
    const commands = new CommandRegistry();
    const metadata = new FakeMetadata();
    const current =
      options.current === undefined
        ? { path: 'n.ipynb', metadata }
        : options.current;
    const offered: string[][] = [];
    const disposable = registerCommands(commands, {
      model,
      trans,
      openPanel: () => calls.push('open'),
      focusLogin: () => calls.push('focus'),
      current: () => current,
      confirm: async account => {
        calls.push(`confirm:${account.id}`);
        return options.confirm ?? true;
      },
      pick: async (choices, _now, path) => {
        offered.push([path, ...choices.map(c => c.label)]);
        return choices.find(c => c.label === options.pick) ?? null;
      }
    });
    return { model, store, commands, calls, metadata, offered, disposable };
  }

  it('gives every command a label, a caption and an argument schema', async () => {
    const { commands } = await setup();
    for (const id of [
      CommandIDs.openPanel,
      CommandIDs.logIn,
      CommandIDs.logOut,
      CommandIDs.switchAccount,
      CommandIDs.allowAccess,
      CommandIDs.revokeAccess
    ]) {
      expect(commands.hasCommand(id)).toBe(true);
      expect(commands.label(id)).toBeTruthy();
      expect(commands.caption(id)).toBeTruthy();
      expect((await commands.describedBy(id)).args).toBeDefined();
    }
  });

  it('opens the panel, and focuses the login form for log-in', async () => {
    const { commands, calls } = await setup();
    await commands.execute(CommandIDs.openPanel);
    await commands.execute(CommandIDs.logIn);
    expect(calls).toEqual(['open', 'open', 'focus']);
  });

  it('logs out of the default account after confirmation', async () => {
    const { commands, store, calls, model } = await setup();
    expect(commands.label(CommandIDs.logOut)).toBe('Log Out of CARTO (alice)…');
    await commands.execute(CommandIDs.logOut);
    expect(calls).toEqual(['confirm:acc-a']);
    expect(store.accounts.map(a => a.id)).toEqual(['acc-b']);
    expect(model.defaultAccount).toBeNull();
    expect(commands.isEnabled(CommandIDs.logOut)).toBe(false);
  });

  it('keeps the account when log-out is not confirmed', async () => {
    const { commands, store } = await setup({ confirm: false });
    await commands.execute(CommandIDs.logOut);
    expect(store.accounts).toHaveLength(2);
  });

  it('switches the current notebook account through metadata and model', async () => {
    const { commands, model, metadata, offered } = await setup({ pick: 'bob' });
    await commands.execute(CommandIDs.switchAccount);
    // The dialog is told which notebook it is for (its title names it).
    expect(offered).toEqual([['n.ipynb', 'Default (alice)', 'alice', 'bob']]);
    expect(metadata.values.get(METADATA_KEY)).toEqual({ account: 'acc-b' });
    expect(model.notebookAccountId('n.ipynb')).toBe('acc-b');
  });

  it('changes nothing when the choice is cancelled', async () => {
    const { commands, model, metadata } = await setup({ pick: null });
    await commands.execute(CommandIDs.switchAccount);
    expect(metadata.values.size).toBe(0);
    expect(model.notebookAccountId('n.ipynb')).toBeNull();
  });

  it('revokes the current notebook access', async () => {
    const { commands, model, store } = await setup();
    expect(commands.isEnabled(CommandIDs.revokeAccess)).toBe(true);
    await commands.execute(CommandIDs.revokeAccess);
    expect(store.grantMap['n.ipynb']).toBeUndefined();
    expect(model.accessFor('n.ipynb')).toBe('undecided');
    expect(commands.isEnabled(CommandIDs.revokeAccess)).toBe(false);
  });

  it('allows a notebook that was denied again', async () => {
    const { commands, model, store } = await setup();
    await model.setGrant('n.ipynb', 'deny');
    expect(commands.isEnabled(CommandIDs.allowAccess)).toBe(true);
    await commands.execute(CommandIDs.allowAccess);
    expect(store.grantMap['n.ipynb']).toBe('allow');
    expect(model.accessFor('n.ipynb')).toBe('allow');
    expect(commands.isEnabled(CommandIDs.allowAccess)).toBe(false);
    expect(commands.isEnabled(CommandIDs.revokeAccess)).toBe(true);
  });

  it('offers no Allow under the policy never, which no notebook answer overrides', async () => {
    const { commands, model } = await setup();
    await model.setGrant('n.ipynb', 'deny');
    model.configure({ ...DEFAULT_SETTINGS, kernelAccess: 'never' });
    expect(commands.isEnabled(CommandIDs.allowAccess)).toBe(false);
    model.configure({ ...DEFAULT_SETTINGS, kernelAccess: 'ask' });
    expect(commands.isEnabled(CommandIDs.allowAccess)).toBe(true);
  });

  it('disables notebook commands without a notebook', async () => {
    const { commands } = await setup({ current: null });
    expect(commands.isEnabled(CommandIDs.switchAccount)).toBe(false);
    expect(commands.isEnabled(CommandIDs.revokeAccess)).toBe(false);
    expect(commands.isEnabled(CommandIDs.allowAccess)).toBe(false);
  });

  it('removes the commands when disposed', async () => {
    const { commands, disposable } = await setup();
    disposable.dispose();
    expect(commands.hasCommand(CommandIDs.openPanel)).toBe(false);
  });
});
