import { Widget } from '@lumino/widgets';

import { ProvisionedAccounts } from '../src/provisioned';
import { DEFAULT_SETTINGS } from '../src/settings';
import { loadedModel, trans } from './uiHarness';

const TEAM = {
  label: 'Team server',
  username: 'carol',
  baseUrl: 'https://carto.example.com/user/carol/'
};

describe('ProvisionedAccounts', () => {
  let widget: ProvisionedAccounts | null = null;
  afterEach(() => {
    widget?.dispose();
    widget = null;
  });

  async function setup() {
    const { model, store } = await loadedModel();
    const chosen: [string | undefined, string][] = [];
    widget = new ProvisionedAccounts({
      model,
      trans,
      choose: (username, baseUrl) => chosen.push([username, baseUrl])
    });
    Widget.attach(widget, document.body);
    return { model, store, chosen, widget };
  }

  it('is hidden while the settings provision nothing', async () => {
    const { widget } = await setup();
    expect(widget.isHidden).toBe(true);
  });

  it('offers a provisioned account and fills the login form with it', async () => {
    const { model, widget, chosen } = await setup();
    model.configure({ ...DEFAULT_SETTINGS, provisionedAccounts: [TEAM] });
    expect(widget.isHidden).toBe(false);
    expect(widget.node.textContent).toContain('Team server');
    const button = widget.node.querySelector<HTMLButtonElement>(
      '.jp-CartoCredentials-useProvisioned'
    )!;
    expect(button.getAttribute('aria-label')).toBe('Log in to Team server');
    button.click();
    expect(chosen).toEqual([['carol', TEAM.baseUrl]]);
  });

  it('stops offering an account once the user logged into it', async () => {
    const { model, store, widget } = await setup();
    model.configure({ ...DEFAULT_SETTINGS, provisionedAccounts: [TEAM] });
    const carol = store.add('acc-c', 'carol', 'carol-key');
    carol.base_url = 'https://CARTO.example.com/user/carol';
    await model.refresh();
    expect(widget.pending).toEqual([]);
    expect(widget.isHidden).toBe(true);
  });
});
