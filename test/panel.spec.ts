import { ServerConnection } from '@jupyterlab/services';
import { framePromise } from '@jupyterlab/testing';
import { nullTranslator } from '@jupyterlab/translation';
import { SidePanel } from '@jupyterlab/ui-components';
import { PromiseDelegate } from '@lumino/coreutils';
import { Widget } from '@lumino/widgets';

import { CartoCredentialsModel } from '../src/model';
import { CartoCredentialsPanel, PANEL_ID } from '../src/panel';
import { AccountStoreError } from '../src/rest';
import { DEFAULT_SETTINGS } from '../src/settings';
import { FakeStore, settle } from './fakes';

const trans = nullTranslator.load('jupyterlab_carto_credentials');

interface IHarness {
  store: FakeStore;
  model: CartoCredentialsModel;
  panel: CartoCredentialsPanel;
  confirmed: string[];
  $: <T extends HTMLElement = HTMLElement>(selector: string) => T;
}

async function setup(
  prepare: (store: FakeStore, model: CartoCredentialsModel) => void = () =>
    undefined
): Promise<IHarness> {
  const store = new FakeStore();
  const model = new CartoCredentialsModel({ store });
  prepare(store, model);
  await model.refresh();
  const confirmed: string[] = [];
  const panel = new CartoCredentialsPanel({
    model,
    trans,
    confirm: async account => {
      confirmed.push(account.id);
      return true;
    }
  });
  Widget.attach(panel, document.body);
  await framePromise();
  await settle();
  const $ = <T extends HTMLElement = HTMLElement>(selector: string): T => {
    const node = panel.node.querySelector<T>(selector);
    if (!node) {
      throw new Error(`no ${selector}`);
    }
    return node;
  };
  return { store, model, panel, confirmed, $ };
}

function type(input: HTMLInputElement, value: string): void {
  input.value = value;
  input.dispatchEvent(new Event('input', { bubbles: true }));
}

function click(node: HTMLElement): void {
  node.click();
}

async function submit(h: IHarness): Promise<void> {
  click(h.$('.jp-CartoCredentials-loginButton'));
  await settle();
  await framePromise();
}

let current: IHarness | null = null;
afterEach(() => {
  current?.panel.dispose();
  current?.model.dispose();
  current = null;
});

describe('CartoCredentialsPanel', () => {
  it('is a labelled sidebar with the CARTO icon', async () => {
    const h = (current = await setup());
    expect(h.panel.id).toBe(PANEL_ID);
    expect(h.panel.title.icon).toBeDefined();
    expect(h.panel.title.caption).toBe('CARTO credentials');
    expect(h.panel.node.getAttribute('aria-label')).toBe('CARTO credentials');
    expect(h.$('.jp-CartoCredentials-signedOut').textContent).toBe(
      'Not signed in to CARTO.'
    );
  });

  it('is a SidePanel: its title in the header, the sections in the content', async () => {
    const h = (current = await setup());
    expect(h.panel).toBeInstanceOf(SidePanel);
    expect(h.panel.header.node.textContent).toBe('CARTO credentials');
    expect(h.panel.header.node.querySelector('h2')).not.toBeNull();
    expect(h.panel.widgets).toContain(h.panel.form);
    expect(h.panel.widgets).toContain(h.panel.list);
    expect(h.panel.content.node.contains(h.panel.form.node)).toBe(true);
    // One region, named in the user's language: the content is part of it.
    expect(h.panel.content.node.getAttribute('role')).toBeNull();
  });

  it('takes the keyboard focus when activated, at the first field unless it has it', async () => {
    const h = (current = await setup(store => {
      store.add('acc-a', 'alice', 'alice-key-0001');
    }));
    // The focus is elsewhere (a notebook cell): activating the panel moves it to Username, so
    // the next keys typed never land in the cell.
    const cell = document.createElement('textarea');
    document.body.appendChild(cell);
    cell.focus();
    h.panel.activate(); // posted, as when the shell activates it
    await framePromise();
    expect(document.activeElement).toBe(
      h.$('.jp-CartoCredentials-usernameInput')
    );
    // Already inside the panel (the key field): activating again leaves it there.
    const key = h.$<HTMLInputElement>('.jp-CartoCredentials-keyInput');
    key.focus();
    h.panel.activate();
    await framePromise();
    expect(document.activeElement).toBe(key);
    cell.remove();
  });

  it('labels every form control', async () => {
    const h = (current = await setup());
    for (const input of Array.from(
      h.panel.node.querySelectorAll<HTMLInputElement>('form input')
    )) {
      const label = h.panel.node.querySelector(`label[for="${input.id}"]`);
      expect(label?.textContent).toBeTruthy();
    }
    expect(
      h.$('.jp-CartoCredentials-keyToggle').getAttribute('aria-label')
    ).toBe('Show API key');
  });

  describe('login form', () => {
    it('fills the base URL from the template as the username is typed', async () => {
      const h = (current = await setup());
      const base = h.$<HTMLInputElement>('.jp-CartoCredentials-baseUrlInput');
      expect(base.value).toBe('');
      expect(base.placeholder).toBe('https://{username}.carto.com/');
      type(h.$<HTMLInputElement>('.jp-CartoCredentials-usernameInput'), 'al');
      expect(base.value).toBe('https://al.carto.com/');
      type(
        h.$<HTMLInputElement>('.jp-CartoCredentials-usernameInput'),
        'alice'
      );
      expect(base.value).toBe('https://alice.carto.com/');
    });

    it('stops following the username once the base URL is edited', async () => {
      const h = (current = await setup());
      const base = h.$<HTMLInputElement>('.jp-CartoCredentials-baseUrlInput');
      type(base, 'https://carto.example.com/user/alice/');
      type(h.$<HTMLInputElement>('.jp-CartoCredentials-usernameInput'), 'bob');
      expect(base.value).toBe('https://carto.example.com/user/alice/');
    });

    it('uses a template without {username} as the URL itself', async () => {
      const h = (current = await setup((_, model) =>
        model.configure({
          ...DEFAULT_SETTINGS,
          baseUrlTemplate: 'https://carto.corp.example/'
        })
      ));
      expect(
        h.$<HTMLInputElement>('.jp-CartoCredentials-baseUrlInput').value
      ).toBe('https://carto.corp.example/');
    });

    it('follows a template changed in the settings', async () => {
      const h = (current = await setup());
      type(h.$<HTMLInputElement>('.jp-CartoCredentials-usernameInput'), 'ann');
      h.model.configure({
        ...DEFAULT_SETTINGS,
        baseUrlTemplate: 'https://onprem.example/user/{username}/'
      });
      expect(
        h.$<HTMLInputElement>('.jp-CartoCredentials-baseUrlInput').value
      ).toBe('https://onprem.example/user/ann/');
    });

    it('logs in at the URL an emptied server field shows, never a hidden default', async () => {
      const template = 'http://127.0.0.1:5000/user/{username}/';
      const h = (current = await setup((_, model) =>
        model.configure({
          ...DEFAULT_SETTINGS,
          allowNonHttps: true,
          baseUrlTemplate: template
        })
      ));
      const base = h.$<HTMLInputElement>('.jp-CartoCredentials-baseUrlInput');
      type(h.$<HTMLInputElement>('.jp-CartoCredentials-usernameInput'), 'ann');
      type(base, '');
      expect(base.placeholder).toBe('http://127.0.0.1:5000/user/ann/');
      type(
        h.$<HTMLInputElement>('.jp-CartoCredentials-keyInput'),
        'ann-key-0001'
      );
      await submit(h);
      expect(h.store.created).toEqual([
        expect.objectContaining({
          username: 'ann',
          base_url: 'http://127.0.0.1:5000/user/ann/'
        })
      ]);
    });

    it('shows and hides the key with a pressed toggle', async () => {
      const h = (current = await setup());
      const key = h.$<HTMLInputElement>('.jp-CartoCredentials-keyInput');
      const toggle = h.$('.jp-CartoCredentials-keyToggle');
      expect(key.type).toBe('password');
      expect(toggle.getAttribute('aria-pressed')).toBe('false');
      click(toggle);
      expect(key.type).toBe('text');
      expect(toggle.getAttribute('aria-pressed')).toBe('true');
      click(toggle);
      expect(key.type).toBe('password');
    });

    it('disables the key field for public data only', async () => {
      const h = (current = await setup());
      const checkbox = h.$<HTMLInputElement>(
        '.jp-CartoCredentials-publicCheckbox'
      );
      checkbox.checked = true;
      checkbox.dispatchEvent(new Event('change'));
      expect(
        h.$<HTMLInputElement>('.jp-CartoCredentials-keyInput').disabled
      ).toBe(true);
      type(h.$<HTMLInputElement>('.jp-CartoCredentials-usernameInput'), 'pub');
      await submit(h);
      expect(h.store.created[0].api_key).toBe('default_public');
    });

    it('asks for a username or URL before calling the server', async () => {
      const h = (current = await setup());
      type(h.$<HTMLInputElement>('.jp-CartoCredentials-keyInput'), 'k');
      await submit(h);
      expect(h.store.created).toEqual([]);
      const alert = h.$('.jp-CartoCredentials-form [role="alert"]');
      expect(alert.hidden).toBe(false);
      expect(alert.textContent).toMatch(/username, or the base URL/);
      expect(
        h.$('.jp-CartoCredentials-usernameInput').getAttribute('aria-invalid')
      ).toBe('true');
    });

    it('asks for a key unless public data only is ticked', async () => {
      const h = (current = await setup());
      type(h.$<HTMLInputElement>('.jp-CartoCredentials-usernameInput'), 'a');
      await submit(h);
      expect(h.store.created).toEqual([]);
      expect(h.$('.jp-CartoCredentials-error').textContent).toMatch(
        /API key, or tick "Public data only"/
      );
    });

    it('says which account notebooks still use after signing into another', async () => {
      const h = (current = await setup(store => {
        store.add('acc-a', 'alice', 'k');
        store.defaultId = 'acc-a';
      }));
      expect(
        h.panel.node.querySelector('.jp-CartoCredentials-summaryNote')
      ).toBeNull();
      type(h.$<HTMLInputElement>('.jp-CartoCredentials-usernameInput'), 'bob');
      type(h.$<HTMLInputElement>('.jp-CartoCredentials-keyInput'), 'secret-2');
      await submit(h);
      expect(h.$('.jp-CartoCredentials-signedIn').textContent).toBe(
        'Signed in as bob'
      );
      expect(h.$('.jp-CartoCredentials-summaryNote').textContent).toBe(
        'Notebooks use alice unless they choose another account.'
      );
    });

    it('logs in, says who is signed in and clears only the key', async () => {
      const h = (current = await setup());
      type(
        h.$<HTMLInputElement>('.jp-CartoCredentials-usernameInput'),
        'alice'
      );
      type(h.$<HTMLInputElement>('.jp-CartoCredentials-keyInput'), 'secret-1');
      await submit(h);
      expect(h.store.created).toEqual([
        {
          username: 'alice',
          base_url: 'https://alice.carto.com/',
          api_key: 'secret-1',
          allow_non_https: false,
          validate: true
        }
      ]);
      expect(h.$('.jp-CartoCredentials-signedIn').textContent).toBe(
        'Signed in as alice'
      );
      expect(h.$('.jp-CartoCredentials-signedInServer').textContent).toBe(
        'https://alice.carto.com/'
      );
      expect(
        h.$('.jp-CartoCredentials-summary .jp-CartoCredentials-initials')
          .textContent
      ).toBe('AL');
      expect(h.$<HTMLInputElement>('.jp-CartoCredentials-keyInput').value).toBe(
        ''
      );
      expect(
        h.$<HTMLInputElement>('.jp-CartoCredentials-usernameInput').value
      ).toBe('alice');
      expect(h.$('.jp-CartoCredentials-error').hidden).toBe(true);
      expect(h.panel.node.innerHTML).not.toContain('secret-1');
    });

    it('shows the avatar CARTO gave', async () => {
      const h = (current = await setup(store => {
        const account = store.add('acc-a', 'alice', 'k');
        account.user_info = { avatar_url: 'https://cdn.example/a.png' };
        store.defaultId = 'acc-a';
      }));
      const img = h.$<HTMLImageElement>('.jp-CartoCredentials-summary img');
      expect(img.src).toBe('https://cdn.example/a.png');
      expect(img.alt).toBe('');
    });

    it('falls back to initials when the avatar cannot load', async () => {
      const h = (current = await setup(store => {
        const account = store.add('acc-a', 'alice', 'k');
        account.user_info = { avatar_url: 'https://cdn.example/gone.png' };
        store.defaultId = 'acc-a';
      }));
      h.$('.jp-CartoCredentials-summary img').dispatchEvent(new Event('error'));
      expect(
        h.panel.node.querySelector('.jp-CartoCredentials-summary img')
      ).toBeNull();
      expect(
        h.$('.jp-CartoCredentials-summary .jp-CartoCredentials-initials')
          .textContent
      ).toBe('AL');
    });

    it('shows progress while CARTO is checked', async () => {
      const h = (current = await setup());
      const gate = new PromiseDelegate<void>();
      h.store.createGate = gate.promise;
      type(
        h.$<HTMLInputElement>('.jp-CartoCredentials-usernameInput'),
        'alice'
      );
      type(h.$<HTMLInputElement>('.jp-CartoCredentials-keyInput'), 'k');
      await submit(h);
      const form = h.$('.jp-CartoCredentials-form');
      expect(form.getAttribute('aria-busy')).toBe('true');
      expect(h.$('.jp-CartoCredentials-progress').textContent).toBe(
        'Checking with CARTO…'
      );
      expect(
        h.$<HTMLButtonElement>('.jp-CartoCredentials-loginButton').disabled
      ).toBe(true);
      // A second click while pending does not send a second request.
      await submit(h);
      expect(h.store.created).toHaveLength(1);
      gate.resolve();
      await settle();
      expect(form.getAttribute('aria-busy')).toBe('false');
      // The status line (role=status) ends with the result, so screen readers hear it.
      const progress = h.$('.jp-CartoCredentials-progress');
      expect(progress.getAttribute('role')).toBe('status');
      expect(progress.textContent).toBe('Logged in as alice.');
    });

    const failures: [string, RegExp, string | null][] = [
      ['bad_key', /rejected this API key/, 'keyInput'],
      ['unknown_user', /no such user/, 'usernameInput'],
      ['not_https', /must start with https/, 'baseUrlInput'],
      ['bad_url', /base URL is not valid/, 'baseUrlInput'],
      [
        'unreachable',
        /could not be reached: Server said: bad input\. Check the address/,
        'baseUrlInput'
      ],
      ['timeout', /did not answer in time/, null],
      ['not_carto', /did not answer like CARTO/, 'baseUrlInput'],
      ['server_error', /internal error/, null],
      ['network', /Jupyter server could not be reached/, null],
      ['bad_request', /Server said: bad input/, null]
    ];
    it.each(failures)(
      'explains %s and keeps what was typed',
      async (code, message, field) => {
        const h = (current = await setup());
        h.store.createError =
          code === 'network'
            ? new ServerConnection.NetworkError(
                new TypeError('Failed to fetch')
              )
            : new AccountStoreError(
                code,
                'Server said: bad input',
                new Response(null, { status: 400 })
              );
        type(
          h.$<HTMLInputElement>('.jp-CartoCredentials-usernameInput'),
          'alice'
        );
        type(h.$<HTMLInputElement>('.jp-CartoCredentials-keyInput'), 'wrong');
        await submit(h);
        const alert = h.$('.jp-CartoCredentials-form [role="alert"]');
        expect(alert.hidden).toBe(false);
        expect(alert.textContent).toMatch(message);
        expect(
          h.$<HTMLInputElement>('.jp-CartoCredentials-usernameInput').value
        ).toBe('alice');
        expect(
          h.$<HTMLInputElement>('.jp-CartoCredentials-keyInput').value
        ).toBe('wrong');
        expect(
          h.$<HTMLInputElement>('.jp-CartoCredentials-baseUrlInput').value
        ).toBe('https://alice.carto.com/');
        expect(h.model.accounts).toEqual([]);
        if (field) {
          expect(
            h.$(`.jp-CartoCredentials-${field}`).getAttribute('aria-invalid')
          ).toBe('true');
        }
        expect(alert.textContent).not.toContain('wrong');
      }
    );

    it('marks the base URL, not the empty username, when a base URL alone names no user', async () => {
      const h = (current = await setup());
      h.store.createError = new AccountStoreError(
        'unknown_user',
        'no such user',
        new Response(null, { status: 404 })
      );
      type(
        h.$<HTMLInputElement>('.jp-CartoCredentials-baseUrlInput'),
        'https://carto.example.com/some/other/path'
      );
      type(h.$<HTMLInputElement>('.jp-CartoCredentials-keyInput'), 'k-0001');
      await submit(h);
      expect(
        h.$('.jp-CartoCredentials-baseUrlInput').getAttribute('aria-invalid')
      ).toBe('true');
      expect(
        h.$('.jp-CartoCredentials-usernameInput').hasAttribute('aria-invalid')
      ).toBe(false);
    });

    it('clears the error after a later success', async () => {
      const h = (current = await setup());
      h.store.createError = new AccountStoreError(
        'bad_key',
        'no',
        new Response(null, { status: 401 })
      );
      type(
        h.$<HTMLInputElement>('.jp-CartoCredentials-usernameInput'),
        'alice'
      );
      type(h.$<HTMLInputElement>('.jp-CartoCredentials-keyInput'), 'k');
      await submit(h);
      await submit(h);
      expect(h.$('.jp-CartoCredentials-error').hidden).toBe(true);
      expect(
        h.$('.jp-CartoCredentials-keyInput').hasAttribute('aria-invalid')
      ).toBe(false);
    });
  });

  describe('account list', () => {
    async function twoAccounts(): Promise<IHarness> {
      return setup(store => {
        store.add('acc-a', 'alice', 'alice-key-0001');
        store.add('acc-b', 'bob', 'bob-key-0002');
        store.defaultId = 'acc-a';
      });
    }

    it('lists accounts and marks the default in words', async () => {
      const h = (current = await twoAccounts());
      const list = h.$('.jp-CartoCredentials-accounts');
      expect(list.getAttribute('role')).toBe('list');
      const items = Array.from(
        list.querySelectorAll<HTMLElement>('li.jp-CartoCredentials-account')
      );
      expect(items.map(i => i.dataset.accountId)).toEqual(['acc-a', 'acc-b']);
      expect(items[0].classList.contains('jp-mod-default')).toBe(true);
      expect(items[0].textContent).toContain('Default');
      expect(items[1].textContent).not.toContain('Default');
      expect(items[0].querySelector('.jp-CartoCredentials-makeDefault')).toBe(
        null
      );
      expect(h.panel.node.innerHTML).not.toMatch(/alice-key|bob-key/);
    });

    it('makes another account the default', async () => {
      const h = (current = await twoAccounts());
      const button = h.$(
        '[data-account-id="acc-b"] .jp-CartoCredentials-makeDefault'
      );
      button.focus();
      click(button);
      await settle();
      expect(h.store.defaultId).toBe('acc-b');
      expect(
        h.$('[data-account-id="acc-b"]').classList.contains('jp-mod-default')
      ).toBe(true);
      // The button is gone with the list rebuilt: the keyboard stays on that account, and
      // the status line says what happened.
      expect(document.activeElement).toBe(h.$('[data-account-id="acc-b"]'));
      expect(h.$('.jp-CartoCredentials-listStatus').textContent).toBe(
        'bob is now the default account.'
      );
    });

    it('logs out after confirmation, and keeps the keyboard in the list', async () => {
      const h = (current = await twoAccounts());
      const button = h.$(
        '[data-account-id="acc-b"] .jp-CartoCredentials-logOut'
      );
      button.focus();
      click(button);
      await settle();
      expect(h.confirmed).toEqual(['acc-b']);
      expect(h.store.accounts.map(a => a.id)).toEqual(['acc-a']);
      expect(
        h.panel.node.querySelector('[data-account-id="acc-b"]')
      ).toBeNull();
      // Not on <body>: on the account now in its place.
      expect(document.activeElement).toBe(
        h.$('[data-account-id="acc-a"] .jp-CartoCredentials-logOut')
      );
      const status = h.$('.jp-CartoCredentials-listStatus');
      expect(status.getAttribute('role')).toBe('status');
      expect(status.textContent).toBe('Logged out of bob.');

      // The last account out: the list's heading.
      h.$('.jp-CartoCredentials-logOut').focus();
      click(h.$('.jp-CartoCredentials-logOut'));
      await settle();
      expect(document.activeElement?.textContent).toBe('Accounts');
      expect(status.textContent).toBe('Logged out of alice.');
    });

    it('keeps the account when logging out is cancelled', async () => {
      const store = new FakeStore();
      store.add('acc-a', 'alice', 'k');
      const model = new CartoCredentialsModel({ store });
      await model.refresh();
      const panel = new CartoCredentialsPanel({
        model,
        trans,
        confirm: async () => false
      });
      Widget.attach(panel, document.body);
      panel.node
        .querySelector<HTMLElement>('.jp-CartoCredentials-logOut')!
        .click();
      await settle();
      expect(store.accounts).toHaveLength(1);
      panel.dispose();
    });

    it('shows accounts set by notebook code as read-only', async () => {
      const h = (current = await twoAccounts());
      h.model.setRuntimeCredentials('k1', {
        username: 'carol',
        base_url: 'https://carol.carto.com/',
        api_key: 'carol-runtime-key'
      });
      const item = h.$('[data-account-id="runtime-k1"]');
      expect(item.textContent).toContain('Set by notebook code (read-only)');
      expect(item.querySelector('button')).toBeNull();
      expect(h.panel.node.innerHTML).not.toContain('carol-runtime-key');
    });
  });

  describe('CARTOframes import', () => {
    it('offers and imports creds.json when the server found one', async () => {
      const h = (current = await setup(store => {
        store.importAnswer = {
          available: true,
          path: '/home/u/.config/cartoframes/creds.json',
          username: 'carol',
          base_url: 'https://carol.carto.com/'
        };
      }));
      const offer = h.$('.jp-CartoCredentials-import');
      expect(offer.classList.contains('lm-mod-hidden')).toBe(false);
      expect(offer.textContent).toContain('carol');
      click(h.$('.jp-CartoCredentials-importButton'));
      await settle();
      expect(h.store.imported?.username).toBe('carol');
      expect(offer.classList.contains('lm-mod-hidden')).toBe(true);
      expect(h.$('.jp-CartoCredentials-signedIn').textContent).toBe(
        'Signed in as carol'
      );
    });

    it('makes no offer when nothing was found', async () => {
      const h = (current = await setup());
      expect(
        h.$('.jp-CartoCredentials-import').classList.contains('lm-mod-hidden')
      ).toBe(true);
    });
  });
});
