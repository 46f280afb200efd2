#!/usr/bin/env bash
# Sets everything up, then runs every test: lint, jest, pytest (real jupyter_server 2 and
# ipykernel 7 and 6.29), integration through @jupyterlab/services, and browser tests in Chromium.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
started=$SECONDS
bash scripts/setup.sh

step() { printf '\n==> %s (%ss elapsed)\n' "$*" "$((SECONDS - started))"; }

step "Lint: ruff (Python), stylelint, prettier, eslint"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
npm run --silent lint:check
npm run --silent lint:cycles

step "Unit tests: jest"
npx jest --ci

step "Python tests: pytest"
.venv/bin/python -m pytest test/python -q -p no:cacheprovider

step "Integration tests: the real bridge and model through @jupyterlab/services, real server and kernel"
npx jest --ci -c jest.integration.config.js

step "Browser tests: JupyterLab in headless Chromium"
node --test --test-concurrency=1 test/e2e/
(cd ui-tests && npx playwright test)

step "All tests passed"
