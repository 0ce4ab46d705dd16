#!/usr/bin/env bash
# The main job on a fresh machine: install, then run ColabLink end to end against a local runtime.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/colablink demo
