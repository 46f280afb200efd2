#!/usr/bin/env bash
# Sets everything up, then starts JupyterLab with the extension and the local CARTO API.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
exec /usr/bin/python3 scripts/demo.py
