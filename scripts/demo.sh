#!/usr/bin/env bash
# Sets everything up, then starts the real JupyterLab (.venv) with the extension and the local
# CARTO API. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
exec .venv/bin/python scripts/demo.py
