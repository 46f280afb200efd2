import { Sanitizer } from '@jupyterlab/apputils';
import { MimeModel, RenderMimeRegistry } from '@jupyterlab/rendermime';
import { nullTranslator } from '@jupyterlab/translation';
import { Signal } from '@lumino/signaling';

import { deckRendererFactory, RenderedDeck } from '../src/deckOutput';
import type { Carto3LayerLogin, Carto3LoginTarget } from '../src/manager';
import { DECK_MIME, DECK_PLACEHOLDER_PREFIX } from '../src/protocol';

const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLTAwMDE';
const TOKEN_10 = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJib2IifQ.c2lnbmF0dXJlLTAwMTA';
const P0 = `${DECK_PLACEHOLDER_PREFIX}1`;
const P10 = `${DECK_PLACEHOLDER_PREFIX}10`;
const PATH = 'work/map.ipynb';

/** The logins a fake manager hands out, by account id; records what it was asked. */
class FakeManager {
  logins = new Map<string, Carto3LayerLogin>();
  asked: Carto3LoginTarget[] = [];
  accountsChanged = new Signal<this, void>(this);
  grantsChanged = new Signal<this, string>(this);
  async carto3Login(target: Carto3LoginTarget): Promise<Carto3LayerLogin> {
    this.asked.push(target);
    return (
      this.logins.get(target.accountId ?? '') ?? { status: 'unknown_account' }
    );
  }
}

function ok(accountId: string, accessToken: string): Carto3LayerLogin {
  return {
    status: 'ok',
    accountId,
    label: accountId,
    apiBaseUrl: 'https://gcp-us-east1.api.carto.com',
    accessToken
  };
}

function page(...tokens: string[]): string {
  const json = JSON.stringify({
    layers: tokens.map(t => ({ accessToken: t }))
  });
  const srcdoc = `<script>const jsonInput = ${json}; createDeck({});</script>`
    .replace(/&/g, '&amp;')
    .replace(/"/g, '&quot;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
  return `<iframe srcdoc="${srcdoc}"></iframe>`;
}

function output(trusted: boolean, logins: Record<string, string>) {
  return new MimeModel({
    trusted,
    data: {
      [DECK_MIME]: { html: page(P0, P10, P0), logins },
      'text/html': '<p class="masked">masked map ***0001</p>'
    }
  });
}

function renderer(manager: FakeManager, path: string | null = PATH) {
  const resolver =
    path === null
      ? null
      : new RenderMimeRegistry.UrlResolver({
          path,
          contents: {} as never // not used: only the path is read
        });
  return deckRendererFactory(
    manager,
    nullTranslator.load('jupyterlab_carto_credentials')
  ).createRenderer({
    mimeType: DECK_MIME,
    sanitizer: new Sanitizer(),
    resolver,
    linkHandler: null,
    latexTypesetter: null
  }) as RenderedDeck;
}

/** The srcdoc the rendered iframe holds, as the iframe's document sees it. */
function srcdoc(widget: RenderedDeck): string {
  return widget.node.querySelector('iframe')?.getAttribute('srcdoc') ?? '';
}

describe('RenderedDeck', () => {
  it('shows a trusted map with the current token of each login, for the notebook it is in', async () => {
    const manager = new FakeManager();
    manager.logins.set('acc-a', ok('acc-a', TOKEN));
    manager.logins.set('acc-b', ok('acc-b', TOKEN_10));
    const model = output(true, { [P0]: 'acc-a', [P10]: 'acc-b' });
    const widget = renderer(manager);
    await widget.renderModel(model);

    // "…-1" is the start of "…-10": each placeholder gets its own login's token.
    expect(srcdoc(widget)).toBe(
      `<script>const jsonInput = ${JSON.stringify({
        layers: [TOKEN, TOKEN_10, TOKEN].map(t => ({ accessToken: t }))
      })}; createDeck({});</script>`
    );
    expect(manager.asked).toEqual(
      expect.arrayContaining([
        { path: PATH, accountId: 'acc-a' },
        { path: PATH, accountId: 'acc-b' }
      ])
    );
    // The output itself (what is saved) keeps its placeholders.
    expect(JSON.stringify(model.data)).not.toContain(TOKEN);
    expect(widget.node.querySelector('[role="status"]')).toBeNull();
  });

  it('never asks for a token for an untrusted output: it says how to show it', async () => {
    const manager = new FakeManager();
    manager.logins.set('acc-a', ok('acc-a', TOKEN));
    const widget = renderer(manager);
    await widget.renderModel(output(false, { [P0]: 'acc-a' }));
    expect(manager.asked).toEqual([]);
    expect(widget.node.textContent).toBe(
      'This CARTO map shows once the notebook is trusted: run “Trust Notebook” from the command palette, or run its cell again.'
    );
    expect(widget.node.innerHTML).not.toContain(TOKEN);
    expect(widget.node.querySelector('iframe')).toBeNull();
  });

  it('stops the map when its login goes, but keeps it when only the token is renewed', async () => {
    const manager = new FakeManager();
    manager.logins.set('acc-a', ok('acc-a', TOKEN));
    const widget = renderer(manager);
    await widget.renderModel(output(true, { [P0]: 'acc-a' }));
    const settle = async () => {
      for (let i = 0; i < 5; i++) {
        await new Promise(resolve => setTimeout(resolve, 0));
      }
    };

    // A renewed token: the map keeps its view (no render), with the token it was shown with.
    manager.logins.set('acc-a', ok('acc-a', TOKEN_10));
    manager.accountsChanged.emit();
    await settle();
    expect(srcdoc(widget)).toContain(TOKEN);

    // Logged out: the map renders again without any token, and says why.
    manager.logins.delete('acc-a');
    manager.accountsChanged.emit();
    await settle();
    expect(widget.node.innerHTML).not.toContain(TOKEN);
    expect(widget.node.innerHTML).not.toContain(TOKEN_10);
    expect(widget.node.querySelector('[role="status"]')?.textContent).toContain(
      'no longer in the CARTO panel'
    );

    // Access revoked works the same way.
    manager.logins.set('acc-a', ok('acc-a', TOKEN));
    manager.grantsChanged.emit(PATH);
    await settle();
    expect(srcdoc(widget)).toContain(TOKEN);
    manager.logins.set('acc-a', { status: 'not_granted', label: 'alice' });
    manager.grantsChanged.emit(PATH);
    await settle();
    expect(widget.node.innerHTML).not.toContain(TOKEN);
  });

  it('shows a malformed bundle as its text/html', async () => {
    const manager = new FakeManager();
    const widget = renderer(manager);
    const model = new MimeModel({
      trusted: true,
      data: {
        [DECK_MIME]: { html: page(P0), logins: { 'not-ours': 'acc-a' } },
        'text/html': '<p>masked</p>'
      }
    });
    await widget.renderModel(model);
    expect(manager.asked).toEqual([]);
    expect(widget.node.textContent).toBe('masked');
  });

  it('says what to do while a login needs a new sign-in, and shows the map once it has one', async () => {
    const manager = new FakeManager();
    manager.logins.set('acc-a', { status: 'login_required', label: 'alice' });
    const widget = renderer(manager);
    await widget.renderModel(output(true, { [P0]: 'acc-a', [P10]: 'acc-a' }));
    const status = widget.node.querySelector('[role="status"]');
    expect(status?.textContent).toBe(
      'This map needs a new CARTO 3 sign-in: log in to alice again in the CARTO panel.'
    );
    expect(srcdoc(widget)).toContain(P0);

    manager.logins.set('acc-a', ok('acc-a', TOKEN));
    manager.accountsChanged.emit();
    await new Promise(resolve => setTimeout(resolve, 0));
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(widget.node.querySelector('[role="status"]')).toBeNull();
    expect(srcdoc(widget)).toContain(TOKEN);
  });

  it.each([
    [{ status: 'not_granted', label: 'alice' }, 'may not use'],
    [{ status: 'unknown_account' }, 'no longer in the CARTO panel']
  ] as const)(
    'leaves the placeholders and explains %j',
    async (login, words) => {
      const manager = new FakeManager();
      manager.logins.set('acc-a', login as Carto3LayerLogin);
      const widget = renderer(manager);
      await widget.renderModel(output(true, { [P0]: 'acc-a' }));
      expect(
        widget.node.querySelector('[role="status"]')?.textContent
      ).toContain(words);
      expect(widget.node.innerHTML).not.toContain(TOKEN);
    }
  );

  it('shows the latest render when an earlier one answers last', async () => {
    const manager = new FakeManager();
    let answerFirst: (login: Carto3LayerLogin) => void = () => undefined;
    const slow = new Promise<Carto3LayerLogin>(resolve => {
      answerFirst = resolve;
    });
    manager.carto3Login = jest
      .fn()
      .mockReturnValueOnce(slow)
      .mockResolvedValue(ok('acc-a', TOKEN));
    const widget = renderer(manager);
    const model = output(true, { [P0]: 'acc-a' });
    const first = widget.renderModel(model);
    await widget.renderModel(model);
    answerFirst({ status: 'login_required', label: 'alice' });
    await first;
    expect(srcdoc(widget)).toContain(TOKEN);
    expect(widget.node.querySelector('[role="status"]')).toBeNull();
  });

  it('without a notebook path (no resolver) shows no token', async () => {
    const manager = new FakeManager();
    manager.logins.set('acc-a', ok('acc-a', TOKEN));
    const widget = renderer(manager, null);
    await widget.renderModel(output(true, { [P0]: 'acc-a' }));
    expect(manager.asked).toEqual([]);
    expect(widget.node.innerHTML).not.toContain(TOKEN);
  });

  it('is preferred to text/html, for trusted and untrusted outputs', () => {
    const registry = new RenderMimeRegistry({
      initialFactories: [
        {
          safe: true,
          mimeTypes: ['text/html'],
          defaultRank: 50,
          createRenderer: () => {
            throw new Error('not rendered here');
          }
        }
      ]
    });
    registry.addFactory(
      deckRendererFactory(new FakeManager(), nullTranslator.load('x'))
    );
    const bundle = { [DECK_MIME]: {}, 'text/html': '' };
    expect(registry.preferredMimeType(bundle, 'any')).toBe(DECK_MIME);
    expect(registry.preferredMimeType(bundle, 'ensure')).toBe(DECK_MIME);
  });
});
