/**
 * Plugins only. The public API (the `ICartoCredentials` token and its types) is re-exported for
 * other extensions.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, IToolbarWidgetRegistry } from '@jupyterlab/apputils';
import { IConsoleTracker } from '@jupyterlab/console';
import { INotebookTracker, type NotebookPanel } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import {
  ITranslator,
  nullTranslator,
  TranslationBundle
} from '@jupyterlab/translation';
import { Token } from '@lumino/coreutils';
import { IJupyterWidgetRegistry } from '@jupyter-widgets/base';
import { Poll } from '@lumino/polling';
import { Panel } from '@lumino/widgets';

import { addToPalette, CommandIDs, registerCommands } from './commands';
import { askGrant } from './grantDialog';
// The model, panel, redactor and session watcher are needed while the plugins activate (the
// sidebar, kernels and outputs must be served from the first moment): not lazy on purpose. So is
// the pydeck map renderer: a small class on JupyterLab's shared RenderedHTML.
/* eslint-disable jupyter/prefer-lazy-imports */
import { deckRendererFactory } from './deckOutput';
import { CartoCredentialsModel } from './model';
import { CartoCredentialsPanel } from './panel';
import { OutputRedactor } from './redact';
import { RestCarto3Store } from './carto3Rest';
import { RestAccountStore } from './rest';
import { SessionWatcher } from './sessions';
/* eslint-enable jupyter/prefer-lazy-imports */
import { parseSettings } from './settings';
import { CartoStatusItem } from './statusbar';
import { concernSignals, ICartoCredentialsManager } from './manager';
import { ICartoAccountStore, ICartoCredentials } from './tokens';
import { setWidgetServices } from './widgets/services';
import { MODULE_NAME, MODULE_VERSION } from './widgets/version';

export { ICartoAccountStore, ICartoCredentials } from './tokens';
export { CommandIDs } from './commands';

const PLUGIN_ID = 'jupyterlab-carto-credentials:plugin';
/** The toolbar item's name in `jupyter.lab.toolbars` (schema/plugin.json). */
const TOOLBAR_ITEM = 'carto-account';

/** This extension's translation bundle, shared by its plugins (not public). */
const ICartoTranslation = new Token<TranslationBundle>(
  'jupyterlab-carto-credentials:translation',
  "The CARTO credentials extension's translation bundle."
);

/** The account store: the server extension's REST API; another plugin may provide its own. */
const accountStorePlugin: JupyterFrontEndPlugin<ICartoAccountStore> = {
  id: 'jupyterlab-carto-credentials:account-store',
  description:
    "Provides the CARTO account store: the Jupyter server's /carto-credentials/ REST API.",
  autoStart: true,
  provides: ICartoAccountStore,
  activate: (app: JupyterFrontEnd): ICartoAccountStore =>
    new RestAccountStore(app.serviceManager.serverSettings)
};

/** This extension's translations, loaded once for every plugin. */
const translationPlugin: JupyterFrontEndPlugin<TranslationBundle> = {
  id: 'jupyterlab-carto-credentials:translation',
  description: "Loads the CARTO credentials extension's translations.",
  autoStart: true,
  provides: ICartoTranslation,
  optional: [ITranslator],
  activate: (_: JupyterFrontEnd, translator: ITranslator | null) =>
    (translator ?? nullTranslator).load('jupyterlab_carto_credentials')
};

/**
 * The shared context: accounts from the account store, preferences from the settings. It gives
 * this extension's plugins the operations their views need (an internal token); other extensions
 * get it through the public `ICartoCredentials` (the `credentials` plugin below).
 */
/** How often a window reads the account store for changes made elsewhere (ms). */
const STORE_SYNC_MS = 10 * 1000;

const managerPlugin: JupyterFrontEndPlugin<ICartoCredentialsManager> = {
  id: PLUGIN_ID,
  description:
    'Keeps the shared CARTO login (accounts, default, per-notebook choice, grants).',
  autoStart: true,
  provides: ICartoCredentialsManager,
  requires: [ICartoAccountStore],
  optional: [ISettingRegistry],
  activate: (
    app: JupyterFrontEnd,
    store: ICartoAccountStore,
    registry: ISettingRegistry | null
  ): ICartoCredentialsManager => {
    // CARTO 3 logins are routes of the same server extension: only with its REST store.
    const model = new CartoCredentialsModel({
      store,
      carto3:
        store instanceof RestAccountStore
          ? new RestCarto3Store(app.serviceManager.serverSettings)
          : undefined
    });
    app.serviceManager.contents.fileChanged.connect((_, change) => {
      if (change.type === 'delete' && change.oldValue?.path) {
        model.forgetDeleted(change.oldValue.path);
      }
    });
    if (registry) {
      void registry.load(PLUGIN_ID).then(
        settings => {
          const apply = () =>
            model.configure(
              parseSettings(settings.composite, field =>
                console.warn(
                  `CARTO credentials: invalid setting "${field}" ignored.`
                )
              )
            );
          apply();
          settings.changed.connect(apply);
        },
        reason =>
          console.warn('CARTO credentials: settings not loaded.', reason)
      );
    }
    model.refresh().catch(reason => {
      console.warn('CARTO credentials: accounts not loaded.', reason.message);
    });
    // Another window of this server may log out, change the default or a grant: follow it (the
    // kernels of this window too), at once when this window gets the focus back.
    const sync = new Poll({
      auto: true,
      factory: () => model.sync(),
      frequency: {
        interval: STORE_SYNC_MS,
        backoff: true,
        max: 20 * STORE_SYNC_MS
      },
      name: `${PLUGIN_ID}:sync`,
      standby: 'when-hidden'
    });
    window.addEventListener('focus', () => void sync.refresh());
    return model;
  }
};

/** The public token for other extensions: the same shared login, through its public interface. */
const credentialsPlugin: JupyterFrontEndPlugin<ICartoCredentials> = {
  id: 'jupyterlab-carto-credentials:credentials',
  description:
    'Provides the shared CARTO login to other extensions (ICartoCredentials).',
  autoStart: true,
  provides: ICartoCredentials,
  requires: [ICartoCredentialsManager],
  activate: (
    _: JupyterFrontEnd,
    manager: ICartoCredentialsManager
  ): ICartoCredentials => manager
};

/** One kernel bridge per notebook and console. */
const bridgePlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-carto-credentials:kernel-bridge',
  description:
    'Pushes the right CARTO credentials to every notebook and console kernel.',
  autoStart: true,
  requires: [ICartoCredentialsManager, ICartoTranslation],
  optional: [INotebookTracker, IConsoleTracker],
  activate: (
    app: JupyterFrontEnd,
    model: ICartoCredentialsManager,
    trans: TranslationBundle,
    notebooks: INotebookTracker | null,
    consoles: IConsoleTracker | null
  ): void => {
    const watcher = new SessionWatcher(model, (path, label) =>
      askGrant(path, label, trans)
    );
    notebooks?.widgetAdded.connect((_, panel) => {
      void panel.context.ready.then(() =>
        watcher.watch(panel, () => panel.content.model)
      );
    });
    consoles?.widgetAdded.connect((_, panel) => watcher.watch(panel));
    app.commands.commandExecuted.connect((_, executed) => {
      void executed.result.then(
        result => watcher.grantIfCreated(executed.id, result),
        () => undefined
      );
    });
  }
};

/** The sidebar (login, accounts) and the palette commands. */
const panelPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-carto-credentials:panel',
  description: 'Adds the CARTO sidebar (log in, accounts) and its commands.',
  autoStart: true,
  requires: [ICartoCredentialsManager, ICartoTranslation],
  optional: [ILayoutRestorer, ICommandPalette, INotebookTracker],
  activate: (
    app: JupyterFrontEnd,
    model: ICartoCredentialsManager,
    trans: TranslationBundle,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    notebooks: INotebookTracker | null
  ): void => {
    const carto3Store = model.carto3Store;
    const panel = new CartoCredentialsPanel({
      model,
      trans,
      carto3: carto3Store
        ? {
            store: carto3Store,
            accountAdded: (account, oauth) =>
              model.carto3AccountAdded(account, oauth)
          }
        : undefined
    });
    app.shell.add(panel, 'left', { rank: 850 });
    restorer?.add(panel, 'carto-credentials');
    registerCommands(app.commands, {
      model,
      trans,
      openPanel: () => app.shell.activateById(panel.id),
      focusLogin: () => panel.form.focusUsername(),
      current: () => {
        // The notebook in the main area, not the tracker's last one behind a console or an
        // editor: commands act on what the user is looking at.
        const widget = notebooks?.currentWidget;
        return widget && widget === app.shell.currentWidget
          ? { path: widget.context.path, metadata: widget.content.model }
          : null;
      }
    });
    if (palette) {
      addToPalette(palette, trans);
    }
    // Labels and enabled states depend on the accounts and grants.
    for (const signal of concernSignals(model)) {
      signal.connect(() => app.commands.notifyCommandChanged());
    }
    notebooks?.currentChanged.connect(() =>
      app.commands.notifyCommandChanged()
    );
  }
};

/**
 * The account selector in every notebook's toolbar, through the toolbar registry: its place comes
 * from `jupyter.lab.toolbars` in our schema, so users move or hide it from Settings like core items
 * (JupyterLab and Notebook 7 build the notebook toolbar from that registry).
 */
const toolbarPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-carto-credentials:notebook-toolbar',
  description:
    "Adds a selector of the notebook's CARTO account to its toolbar.",
  autoStart: true,
  requires: [
    ICartoCredentialsManager,
    ICartoTranslation,
    IToolbarWidgetRegistry
  ],
  activate: (
    app: JupyterFrontEnd,
    model: ICartoCredentialsManager,
    trans: TranslationBundle,
    toolbarRegistry: IToolbarWidgetRegistry
  ): void => {
    toolbarRegistry.addFactory<NotebookPanel>(
      'Notebook',
      TOOLBAR_ITEM,
      panel => {
        // The registry wants a widget now; the selector's code loads on first use.
        const host = new Panel();
        host.addClass('jp-CartoCredentials-notebookAccountHost');
        void Promise.all([panel.context.ready, import('./toolbar')]).then(
          ([, { NotebookAccountSelector }]) => {
            if (host.isDisposed || panel.isDisposed) {
              return;
            }
            host.addWidget(
              new NotebookAccountSelector({
                model,
                trans,
                path: () => panel.context.path,
                metadata: () => panel.content.model
              })
            );
          }
        );
        return host;
      }
    );
  }
};

/** The status bar item; hidden when the `showStatusBar` setting is off. */
const statusBarPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-carto-credentials:status-bar',
  description: "Shows the current notebook's CARTO account in the status bar.",
  autoStart: true,
  requires: [ICartoCredentialsManager, ICartoTranslation],
  optional: [IStatusBar, INotebookTracker],
  activate: (
    app: JupyterFrontEnd,
    model: ICartoCredentialsManager,
    trans: TranslationBundle,
    statusBar: IStatusBar | null,
    notebooks: INotebookTracker | null
  ): void => {
    if (!statusBar) {
      return;
    }
    const currentPath = () => notebooks?.currentWidget?.context.path ?? null;
    const item = new CartoStatusItem({
      model,
      trans,
      currentPath,
      onClick: () => {
        // A notebook not allowed yet: the question it needs, not the panel, which cannot answer it.
        const path = currentPath();
        if (path !== null && app.commands.isEnabled(CommandIDs.allowAccess)) {
          const { account } = model.effectiveAccount(path);
          void askGrant(path, account?.label ?? '', trans).then(decision =>
            decision ? model.setGrant(path, decision) : undefined
          );
          return;
        }
        void app.commands.execute(CommandIDs.openPanel);
      }
    });
    notebooks?.currentChanged.connect(() => item.refresh());
    statusBar.registerStatusItem('jupyterlab-carto-credentials:status', {
      item,
      align: 'left',
      rank: 4,
      isActive: () => item.isActive,
      activeStateChanged: item.activeStateChanged
    });
  }
};

/** Masks known keys in notebook outputs, on display and on save. */
const redactPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-carto-credentials:redact',
  description: 'Masks known CARTO API keys in notebook outputs.',
  autoStart: true,
  requires: [ICartoCredentialsManager, INotebookTracker],
  activate: (
    app: JupyterFrontEnd,
    model: ICartoCredentialsManager,
    notebooks: INotebookTracker
  ): void => {
    const redactor = new OutputRedactor(model);
    notebooks.widgetAdded.connect((_, panel) => {
      void panel.context.ready.then(() => {
        const notebook = panel.content.model;
        if (notebook && !panel.isDisposed) {
          redactor.watchNotebook(notebook);
        }
      });
    });
  }
};

/** pydeck maps drawing with a CARTO 3 login, shown with the login's current token. */
const deckOutputPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-carto-credentials:deck-output',
  description:
    "Shows pydeck maps that draw with a CARTO 3 login with the login's current access token, which outputs never hold.",
  autoStart: true,
  requires: [ICartoCredentialsManager, IRenderMimeRegistry, ICartoTranslation],
  activate: (
    _: JupyterFrontEnd,
    model: ICartoCredentialsManager,
    rendermime: IRenderMimeRegistry,
    trans: TranslationBundle
  ): void => {
    rendermime.addFactory(deckRendererFactory(model, trans));
  }
};

/** Map widgets, when a Jupyter widget manager is present; their code loads on first use. */
const widgetsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-carto-credentials:widgets',
  description:
    'Registers the CARTO map widget, which resolves keys from the shared login at render time.',
  autoStart: true,
  requires: [ICartoCredentials, ICartoTranslation],
  optional: [IJupyterWidgetRegistry],
  activate: (
    _: JupyterFrontEnd,
    credentials: ICartoCredentials,
    trans: TranslationBundle,
    registry: IJupyterWidgetRegistry | null
  ): void => {
    if (!registry) {
      return;
    }
    setWidgetServices({ credentials, trans });
    registry.registerWidget({
      name: MODULE_NAME,
      version: MODULE_VERSION,
      // The map, layer and source models and the map view (./widgets/exports).
      exports: () => import('./widgets/exports')
    });
  }
};

export default [
  accountStorePlugin,
  translationPlugin,
  managerPlugin,
  credentialsPlugin,
  bridgePlugin,
  panelPlugin,
  toolbarPlugin,
  statusBarPlugin,
  redactPlugin,
  deckOutputPlugin,
  widgetsPlugin
];
