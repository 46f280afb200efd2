#!/usr/bin/env bash
# Sets up everything this repository needs on a fresh Debian 12 machine, unattended and
# idempotently: Debian packages (Python/Jupyter, Chromium), npm packages, the extension build,
# a development install into ./.venv, and the JupyterLab front end used by the demo and tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }

DEBIAN_PACKAGES=(
  python3-jupyter-server python3-jupyterlab-server python3-jupyter-client python3-ipykernel
  python3-comm python3-jsonschema python3-pytest python3-requests python3-venv chromium
)
missing=()
for package in "${DEBIAN_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$package")
  fi
done
if ((${#missing[@]})); then
  step "Debian packages: ${missing[*]}"
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
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

step "Development install into .venv"
/usr/bin/python3 scripts/dev_install.py

step "JupyterLab front end (tools/lab)"
bash tools/lab/build.sh
