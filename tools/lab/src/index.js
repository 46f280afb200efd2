// Application start-up of the lab host: collects the built-in and federated
// plugins and starts JupyterLab (mirrors JupyterLab's own index.js).

import { PageConfig } from '@jupyterlab/coreutils';
import { PluginRegistry } from '@lumino/coreutils';
import { extensions, mimeExtensions } from '@lab-host/generated/extensions.js';

import '@lab-host/generated/style.js';

async function federatedModule(scope, module) {
  try {
    const factory = await window._JUPYTERLAB[scope].get(module);
    const instance = factory();
    instance.__scope__ = scope;
    return instance;
  } catch (e) {
    console.warn(
      `Failed to create module: package: ${scope}; module: ${module}`
    );
    throw e;
  }
}

export async function main() {
  const disabled = [];
  const deferred = [];
  const ignorePlugins = [];
  const allPlugins = [];

  function* activePlugins(extension) {
    const exported = Object.prototype.hasOwnProperty.call(
      extension,
      '__esModule'
    )
      ? extension.default
      : extension;
    const plugins = Array.isArray(exported) ? exported : [exported];
    for (const plugin of plugins) {
      const isDisabled = PageConfig.Extension.isDisabled(plugin.id);
      allPlugins.push({
        id: plugin.id,
        description: plugin.description,
        requires: plugin.requires ?? [],
        optional: plugin.optional ?? [],
        provides: plugin.provides ?? null,
        autoStart: plugin.autoStart,
        enabled: !isDisabled,
        extension: extension.__scope__
      });
      if (isDisabled) {
        disabled.push(plugin.id);
        continue;
      }
      if (PageConfig.Extension.isDeferred(plugin.id)) {
        deferred.push(plugin.id);
        ignorePlugins.push(plugin.id);
      }
      yield plugin;
    }
  }

  const federated = JSON.parse(
    PageConfig.getOption('federated_extensions') || '[]'
  );
  const replaced = new Set();
  const fedExtensions = [];
  const fedMimeExtensions = [];
  const fedStyles = [];
  for (const data of federated) {
    if (data.extension) {
      replaced.add(data.name);
      fedExtensions.push(federatedModule(data.name, data.extension));
    }
    if (data.mimeExtension) {
      replaced.add(data.name);
      fedMimeExtensions.push(federatedModule(data.name, data.mimeExtension));
    }
    if (data.style && !PageConfig.Extension.isDisabled(data.name)) {
      fedStyles.push(federatedModule(data.name, data.style));
    }
  }

  async function collect(builtIn, federatedPromises) {
    const out = [];
    for (const [name, load] of builtIn) {
      if (replaced.has(name)) {
        continue;
      }
      try {
        const ext = await load();
        ext.__scope__ = name;
        out.push(...activePlugins(ext));
      } catch (e) {
        console.error(e);
      }
    }
    for (const result of await Promise.allSettled(federatedPromises)) {
      if (result.status === 'fulfilled') {
        out.push(...activePlugins(result.value));
      } else {
        console.error(result.reason);
      }
    }
    return out;
  }

  const mimePlugins = await collect(mimeExtensions, fedMimeExtensions);
  const plugins = await collect(extensions, fedExtensions);
  for (const result of await Promise.allSettled(fedStyles)) {
    if (result.status === 'rejected') {
      console.error(result.reason);
    }
  }

  const { JupyterLab } = await import('@jupyterlab/application');
  const { IConnectionStatus, IServiceManager } =
    await import('@jupyterlab/services');
  const pluginRegistry = new PluginRegistry();
  pluginRegistry.registerPlugins(plugins);
  const connectionStatus =
    await pluginRegistry.resolveOptionalService(IConnectionStatus);
  const serviceManager =
    await pluginRegistry.resolveOptionalService(IServiceManager);

  const lab = new JupyterLab({
    pluginRegistry,
    serviceManager,
    connectionStatus,
    mimeExtensions: mimePlugins,
    disabled: {
      matches: disabled,
      patterns: PageConfig.Extension.disabled.map(v => v.raw)
    },
    deferred: {
      matches: deferred,
      patterns: PageConfig.Extension.deferred.map(v => v.raw)
    },
    availablePlugins: allPlugins
  });

  const expose =
    (PageConfig.getOption('exposeAppInBrowser') || '').toLowerCase() === 'true';
  const devMode =
    (PageConfig.getOption('devMode') || '').toLowerCase() === 'true';
  if (expose || devMode) {
    window.jupyterapp = lab;
  }
  await lab.start({ ignorePlugins, bubblingKeydown: true });
}
