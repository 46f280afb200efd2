import { framePromise } from '@jupyterlab/testing';
import { Widget } from '@lumino/widgets';

import { DEFAULT_SETTINGS } from '../src/settings';
import { CartoStatusItem, notebookStatus } from '../src/statusbar';
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
    await model.setDefault(null);
    expect(notebookStatus(model, 'new.ipynb').state).toBe('no_account');
  });
});

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
    await framePromise();
    expect(item.node.textContent).toBe('CARTO: alice');
    expect(item.node.getAttribute('aria-label')).toContain(
      'Open the CARTO credentials panel'
    );
    path = 'b.ipynb';
    item.refresh();
    await framePromise();
    expect(item.node.textContent).toBe('CARTO: alice (not granted)');
    expect(item.node.classList.contains('jp-mod-not_granted')).toBe(true);
    await model.setGrant('b.ipynb', 'allow');
    await framePromise();
    expect(item.node.textContent).toBe('CARTO: alice');
    (item.node as HTMLButtonElement).click();
    expect(clicks).toBe(1);
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
