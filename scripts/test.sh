#!/usr/bin/env bash
# Every check, on a fresh machine: install the toolchains, lint, type-check, and run all tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh --dev
export PATH="$PWD/.venv/bin:$PATH"

echo "==> ruff"
ruff check .
ruff format --check .
echo "==> mypy"
mypy
echo "==> tsc + eslint"
npm run --silent compile
npm run --silent lint

echo "==> pytest"
# Two workers: most tests wait on sshd and the network, not the CPU, so two cut the wall time
# on a 2-core machine by about a third. Tests that change machine-wide state run alone after.
# loadgroup: a module marked xdist_group (the Jupyter tests, which install once) stays on one worker.
pytest -p no:cacheprovider -n 2 --dist loadgroup -m "not alone"
pytest -p no:cacheprovider -m alone

echo "==> extension unit tests (vitest)"
npm test --silent

echo "==> extension end-to-end (code-server + Chromium)"
extension/test/e2e/run.sh
