"""The npm module that holds the map widget's model and view (``_model_module``/``_view_module``).

``MODULE_VERSION`` must match ``package.json``'s version (a pytest compares them): the widget
manager loads the module whose registered version satisfies this semver range.
"""

MODULE_NAME = "jupyterlab-carto-credentials"
MODULE_VERSION = "^0.1.0"
