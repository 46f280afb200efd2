#!/usr/bin/env bash
# Sets up everything this repository needs on a fresh Debian 12 machine, unattended and
# idempotently: Chromium (Debian's: PyPI and npm have no browser we may download), npm packages,
# the extension build, and the Python environments from PyPI with exact pins (requirements/):
# .venv (JupyterLab 4.6, Notebook 7, jupyter_server 2, ipykernel 7) and .venv-ipykernel6.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }

if [[ ! -x /usr/bin/chromium ]]; then
  step "Debian package: chromium"
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi

export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
# The registry snapshot lacks other platforms' optional binaries; without lock entries for them
# `npm ci` refuses the lock. Adds any that a recent `npm install` dropped (idempotent).
node scripts/lock-optional.mjs package-lock.json
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ ! -f node_modules/.setup-stamp || "$(cat node_modules/.setup-stamp)" != "$lock_hash" ]]; then
  step "npm packages"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" >node_modules/.setup-stamp
fi

step "Build the extension"
npm run --silent build:prod

step "Python environments from PyPI (.venv, .venv-ipykernel6) and the development install"
python3 scripts/dev_install.py
