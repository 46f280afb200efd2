import { framePromise } from '@jupyterlab/testing';
import { Widget } from '@lumino/widgets';

import { DEFAULT_SETTINGS } from '../src/settings';
import {
  CartoStatusItem,
  describeStatus,
  notebookStatus
} from '../src/statusbar';
import { loadedModel, trans } from './uiHarness';

describe('notebookStatus()', () => {
  it('names each state', async () => {
    const { model } = await loadedModel(store => {
      store.add('acc-p', 'pub', 'default_public');
      store.grantMap['ok.ipynb'] = 'allow';
    });
    expect(notebookStatus(model, 'ok.ipynb').state).toBe('signed_in');
    expect(notebookStatus(model, 'new.ipynb').state).toBe('not_granted');
    model.setNotebookAccount('p.ipynb', 'acc-p');
    expect(notebookStatus(model, 'p.ipynb').state).toBe('public');
    model.setNotebookAccount('x.ipynb', 'acc-gone');
    expect(notebookStatus(model, 'x.ipynb').state).toBe('error');
    expect(notebookStatus(model, null)).toEqual({
      state: 'signed_in',
      account: model.defaultAccount
    });
    expect(notebookStatus(model, 'new.ipynb').never).toBe(false);
    await model.setDefault(null);
    expect(notebookStatus(model, 'new.ipynb').state).toBe('no_account');
  });

  it('says when code in the kernel set the credentials, which win there', async () => {
    const { model } = await loadedModel(store => {
      store.grantMap['n.ipynb'] = 'allow';
    });
    model.registerKernel('k1', 'n.ipynb');
    model.setRuntimeCredentials('k1', {
      username: 'bob',
      base_url: 'https://bob.carto.com/',
      api_key: 'bob-secret-key-0002'
    });
    const status = notebookStatus(model, 'n.ipynb');
    expect(status.state).toBe('code_set');
    expect(status.account?.label).toBe('bob');
    const { text, title } = describeStatus(status, trans);
    expect(text).toBe('CARTO: bob (set by code)');
    expect(title).toContain('unset_default_credentials()');
    expect(`${text} ${title}`).not.toContain('bob-secret-key');
    // Another notebook, and this one once code unset them: the panel's account again.
    expect(notebookStatus(model, 'other.ipynb').state).not.toBe('code_set');
    model.setRuntimeCredentials('k1', null);
    expect(notebookStatus(model, 'n.ipynb').state).toBe('signed_in');
  });
});

/** The item's button (the status bar's GroupItem) once React has drawn the latest state. */
async function rendered(item: CartoStatusItem): Promise<HTMLElement> {
  await framePromise();
  await item.renderPromise;
  return item.node.querySelector<HTMLElement>('.jp-CartoCredentials-status')!;
}

describe('CartoStatusItem', () => {
  it('shows the current notebook account and opens the panel on click', async () => {
    const { model } = await loadedModel(store => {
      store.grantMap['a.ipynb'] = 'allow';
    });
    let path: string | null = 'a.ipynb';
    let clicks = 0;
    const item = new CartoStatusItem({
      model,
      trans,
      currentPath: () => path,
      onClick: () => clicks++
    });
    Widget.attach(item, document.body);
    let button = await rendered(item);
    // Built from the status bar's own components.
    expect(button.classList.contains('jp-StatusBar-GroupItem')).toBe(true);
    expect(button.querySelector('.jp-StatusBar-TextItem')?.textContent).toBe(
      'CARTO: alice'
    );
    expect(button.textContent).toBe('CARTO: alice');
    expect(button.getAttribute('role')).toBe('button');
    expect(button.getAttribute('aria-label')).toContain(
      'Open the CARTO credentials panel'
    );
    path = 'b.ipynb';
    item.refresh();
    button = await rendered(item);
    expect(button.textContent).toBe('CARTO: alice (not granted)');
    expect(button.classList.contains('jp-mod-not_granted')).toBe(true);
    // A click answers the question (the host asks it), not "open the panel".
    expect(button.title).toContain('click to choose whether it may');
    expect(button.getAttribute('aria-label')).not.toContain('Open the CARTO');
    // Under the policy never no answer helps: it says where the setting is.
    model.configure({ ...DEFAULT_SETTINGS, kernelAccess: 'never' });
    button = await rendered(item);
    expect(button.title).toContain('the kernel access setting is Never');
    expect(button.getAttribute('aria-label')).toContain(
      'Open the CARTO credentials panel'
    );
    model.configure({ ...DEFAULT_SETTINGS });
    await model.setGrant('b.ipynb', 'allow');
    button = await rendered(item);
    expect(button.textContent).toBe('CARTO: alice');
    button.click();
    expect(clicks).toBe(1);
    button.dispatchEvent(
      new KeyboardEvent('keydown', { key: 'Enter', bubbles: true })
    );
    expect(clicks).toBe(2);
    item.dispose();
  });

  it('is hidden when showStatusBar is off', async () => {
    const { model } = await loadedModel();
    const item = new CartoStatusItem({
      model,
      trans,
      currentPath: () => null,
      onClick: () => undefined
    });
    let emitted = 0;
    item.activeStateChanged.connect(() => emitted++);
    expect(item.isActive).toBe(true);
    model.configure({ ...DEFAULT_SETTINGS, showStatusBar: false });
    expect(item.isActive).toBe(false);
    expect(emitted).toBe(1);
    item.dispose();
  });
});
