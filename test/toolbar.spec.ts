import { readFileSync } from 'fs';
import { join } from 'path';

import { ToolbarWidgetRegistry } from '@jupyterlab/apputils';
import { framePromise } from '@jupyterlab/testing';
import { Widget } from '@lumino/widgets';

import plugins from '../src/index';
import { METADATA_KEY } from '../src/metadata';
import { NotebookAccountSelector } from '../src/toolbar';
import { FakeMetadata, loadedModel, trans } from './uiHarness';

describe('NotebookAccountSelector', () => {
  async function setup(chosen: string | null = null) {
    const { model, store } = await loadedModel();
    const metadata = new FakeMetadata();
    model.setNotebookAccount('n.ipynb', chosen);
    const warnings: string[] = [];
    const selector = new NotebookAccountSelector({
      model,
      trans,
      path: () => 'n.ipynb',
      metadata: () => metadata,
      warn: message => warnings.push(message)
    });
    Widget.attach(selector, document.body);
    await framePromise();
    const select = selector.node.querySelector('select')!;
    return { model, store, metadata, warnings, selector, select };
  }

  it('is a labelled select listing the default and every account', async () => {
    const { select, selector } = await setup();
    expect(
      selector.node.classList.contains('jp-CartoCredentials-notebookAccount')
    ).toBe(true);
    expect(select.getAttribute('aria-label')).toBe(
      'CARTO account for this notebook'
    );
    const label = selector.node.querySelector(`label[for="${select.id}"]`);
    expect(label?.textContent).toBe('CARTO');
    expect(Array.from(select.options).map(o => o.textContent)).toEqual([
      'Default (alice)',
      'alice',
      'bob'
    ]);
    expect(select.value).toBe('');
    selector.dispose();
  });

  it('writes the choice to the metadata (id only) and the model', async () => {
    const { select, metadata, model, selector } = await setup();
    select.value = 'acc-b';
    select.dispatchEvent(new Event('change'));
    expect(metadata.values.get(METADATA_KEY)).toEqual({ account: 'acc-b' });
    expect(model.notebookAccountId('n.ipynb')).toBe('acc-b');
    expect(model.effectiveAccount('n.ipynb').account?.id).toBe('acc-b');
    select.value = '';
    select.dispatchEvent(new Event('change'));
    expect(metadata.values.has(METADATA_KEY)).toBe(false);
    expect(model.notebookAccountId('n.ipynb')).toBeNull();
    selector.dispose();
  });

  it('follows choices made elsewhere (e.g. the command)', async () => {
    const { select, model, selector } = await setup();
    model.setNotebookAccount('n.ipynb', 'acc-b');
    expect(select.value).toBe('acc-b');
    selector.dispose();
  });

  it('warns once when the notebook names an account this user lacks', async () => {
    const { select, warnings, model, selector } = await setup('acc-gone');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('falls back to your default account (alice)');
    expect(select.value).toBe('acc-gone');
    expect(select.selectedOptions[0].textContent).toBe(
      'Missing account (using default)'
    );
    expect(selector.node.classList.contains('jp-mod-warning')).toBe(true);
    await model.refresh();
    selector.render();
    expect(warnings).toHaveLength(1);
    selector.dispose();
  });

  it('puts no key in the DOM', async () => {
    const { selector } = await setup();
    expect(selector.node.innerHTML).not.toMatch(/secret-key/);
    selector.dispose();
  });
});

describe('the notebook toolbar item', () => {
  it('is declared in jupyter.lab.toolbars, so Settings can move or hide it', () => {
    const schema = JSON.parse(
      readFileSync(join(__dirname, '..', 'schema', 'plugin.json'), 'utf8')
    );
    expect(schema['jupyter.lab.toolbars']).toEqual({
      Notebook: [{ name: 'carto-account', rank: 50 }]
    });
  });

  it("is built by the toolbar registry's Notebook factory", async () => {
    const plugin = plugins.find(
      p => p.id === 'jupyterlab-carto-credentials:notebook-toolbar'
    )!;
    const { model } = await loadedModel();
    const registry = new ToolbarWidgetRegistry({
      defaultFactory: () => new Widget()
    });
    await plugin.activate({} as never, model, trans, registry);
    const metadata = new FakeMetadata();
    const notebook = {
      isDisposed: false,
      context: { ready: Promise.resolve(), path: 'n.ipynb' },
      content: { model: metadata }
    };
    const host = registry.createWidget('Notebook', notebook as never, {
      name: 'carto-account'
    });
    Widget.attach(host, document.body);
    // The selector's module loads on first use.
    await new Promise(resolve => setTimeout(resolve, 0));
    await framePromise();
    const select = host.node.querySelector<HTMLSelectElement>(
      '.jp-CartoCredentials-notebookAccount select'
    )!;
    expect(select).not.toBeNull();
    select.value = 'acc-b';
    select.dispatchEvent(new Event('change'));
    expect(model.notebookAccountId('n.ipynb')).toBe('acc-b');
    host.dispose();
  });
});
