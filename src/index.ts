/**
 * Plugins only. The public API (the `ICartoCredentials` token and its types) is re-exported for
 * other extensions.
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { IConsoleTracker } from '@jupyterlab/console';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { askGrant } from './grantDialog';
import { CartoCredentialsModel } from './model';
import { RestAccountStore } from './rest';
import { SessionWatcher } from './sessions';
import { parseSettings } from './settings';
import { ICartoCredentials } from './tokens';

export { ICartoCredentials } from './tokens';

const PLUGIN_ID = 'jupyterlab-carto-credentials:plugin';

/** The shared context: accounts from the server-side store, preferences from the settings. */
const credentialsPlugin: JupyterFrontEndPlugin<ICartoCredentials> = {
  id: PLUGIN_ID,
  description:
    'Provides the shared CARTO login (accounts, default, per-notebook choice).',
  autoStart: true,
  provides: ICartoCredentials,
  optional: [ISettingRegistry],
  activate: (
    app: JupyterFrontEnd,
    registry: ISettingRegistry | null
  ): ICartoCredentials => {
    const model = new CartoCredentialsModel({
      store: new RestAccountStore(app.serviceManager.serverSettings)
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
    return model;
  }
};

/** One kernel bridge per notebook and console. */
const bridgePlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-carto-credentials:kernel-bridge',
  description:
    'Pushes the right CARTO credentials to every notebook and console kernel.',
  autoStart: true,
  requires: [ICartoCredentials],
  optional: [INotebookTracker, IConsoleTracker, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    credentials: ICartoCredentials,
    notebooks: INotebookTracker | null,
    consoles: IConsoleTracker | null,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load(
      'jupyterlab_carto_credentials'
    );
    const model = CartoCredentialsModel.from(credentials);
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
      if (executed.id === 'notebook:create-new') {
        void executed.result.then(widget => {
          const path = widget?.context?.path;
          if (typeof path === 'string') {
            void watcher.grantCreated(path);
          }
        });
      }
    });
  }
};

export default [credentialsPlugin, bridgePlugin];
