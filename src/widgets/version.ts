/**
 * The widget module's name and version, as the kernel's `carto_credentials/_frontend.py` names
 * them (`_model_module`, `_model_module_version`). Kept tiny: the plugin imports it eagerly.
 */
export const MODULE_NAME = 'jupyterlab-carto-credentials';

/** The version registered with the widget manager (package.json's, without a range). */
export const MODULE_VERSION = '0.1.0';

/** The semver range the kernel asks for. */
export const MODULE_VERSION_RANGE = `^${MODULE_VERSION}`;
