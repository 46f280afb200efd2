"""Loggers of the package.

``carto_credentials`` (and its children) get a NullHandler, as a library should: internal
diagnostics only show when the user configures logging. User-facing messages that cartoframes
prints (``save()``/``delete()``) go to ``carto_credentials.user``, which writes to the *current*
``sys.stdout`` so they show in the notebook cell, as in cartoframes. Silence them with
``logging.getLogger('carto_credentials.user').setLevel(logging.ERROR)``.
"""

import logging
import sys

logging.getLogger("carto_credentials").addHandler(logging.NullHandler())


class _CurrentStdoutHandler(logging.StreamHandler):
    # ipykernel swaps sys.stdout per cell parent; bind at emit time, not at import time.
    def emit(self, record):
        self.stream = sys.stdout
        super().emit(record)


user_log = logging.getLogger("carto_credentials.user")
if not any(isinstance(h, _CurrentStdoutHandler) for h in user_log.handlers):
    _handler = _CurrentStdoutHandler()
    _handler.setFormatter(logging.Formatter("%(message)s"))
    user_log.addHandler(_handler)
    user_log.setLevel(logging.INFO)
    user_log.propagate = False
