#!/usr/bin/env bash
# Installs and builds the test/demo JupyterLab front end into tools/lab/build/.
# Idempotent: npm ci runs only when package-lock.json changed since the last
# install, and the build is skipped when its inputs are unchanged (see
# build.mjs). Usage: tools/lab/build.sh [--force] [--minify]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

fail() {
  echo "tools/lab/build.sh: ERROR: $*" >&2
  exit 1
}

command -v node >/dev/null || fail "node is not on PATH (Node >= 20 is needed)"
command -v npm >/dev/null || fail "npm is not on PATH"

export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
node ../../scripts/lock-optional.mjs package-lock.json
lock_hash="$(sha256sum package-lock.json | cut -d' ' -f1)"
stamp=node_modules/.lab-host-install-stamp
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$lock_hash" ]]; then
  echo "lab host: installing npm packages (npm ci)..."
  start=$SECONDS
  log="$(mktemp)"
  if ! npm ci --no-audit --no-fund --loglevel=error >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    fail "npm ci failed in $here (output above)"
  fi
  rm -f "$log"
  echo "$lock_hash" >"$stamp"
  echo "lab host: installed in $((SECONDS - start)) s"
fi

node build.mjs "$@" || fail "build of the JupyterLab front end failed (output above)"
