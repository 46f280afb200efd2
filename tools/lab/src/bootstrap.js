// Entry point of the lab host. Loads every federated (prebuilt) extension's
// remoteEntry and initialises the shared scope before the application code
// (index.js) is imported, as JupyterLab's own bootstrap does.
// No static imports here: the public path must be set first.

let configData = null;
function getOption(name) {
  if (configData === null) {
    const el = document.getElementById('jupyter-config-data');
    configData = el ? JSON.parse(el.textContent || '{}') : {};
  }
  return configData[name] || '';
}

// eslint-disable-next-line no-undef
__webpack_public_path__ = getOption('fullStaticUrl') + '/';

function loadScript(url) {
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.onerror = () => reject(new Error(`Failed to load ${url}`));
    script.onload = resolve;
    script.async = true;
    document.head.appendChild(script);
    script.src = url;
  });
}

async function loadRemote(url, scope) {
  await loadScript(url);
  // eslint-disable-next-line no-undef
  await __webpack_init_sharing__('default');
  const container = window._JUPYTERLAB[scope];
  if (!container) {
    throw new Error(`Extension ${scope} did not register a container`);
  }
  // eslint-disable-next-line no-undef
  await container.init(__webpack_share_scopes__.default);
}

void (async function bootstrap() {
  const federated = getOption('federated_extensions') || [];
  const base = getOption('fullLabextensionsUrl');
  const results = await Promise.allSettled(
    federated.map(data =>
      loadRemote(`${base}/${data.name}/${data.load}`, data.name)
    )
  );
  results.forEach(result => {
    if (result.status === 'rejected') {
      console.error(result.reason);
    }
  });
  const { main } = await import('./index.js');
  if (document.readyState === 'complete') {
    void main();
  } else {
    window.addEventListener('load', () => void main());
  }
})();
