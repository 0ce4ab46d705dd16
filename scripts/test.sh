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
pytest -p no:cacheprovider

echo "==> extension unit tests (vitest)"
npm test --silent

echo "==> extension end-to-end (code-server + Chromium)"
extension/test/e2e/run.sh
