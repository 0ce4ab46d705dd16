#!/usr/bin/env bash
# Install what ColabLink needs on a fresh Debian/Ubuntu machine, then a project venv in .venv.
#   scripts/bootstrap.sh          runtime pieces + Python package (enough for the demo)
#   scripts/bootstrap.sh --dev    also the test, lint and extension toolchains
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
[ "${1:-}" = "--dev" ] && dev=1

apt_packages=(openssh-server openssh-client procps)
if [ "$dev" = 1 ]; then
  # rsync is the benchmarks' reference; chromium and the build tools serve the VS Code e2e test;
  # tests that run code as another account use Debian's /usr/bin/python3 (a venv under /root is
  # out of their reach), and a venv on it proves the CLI on Debian's own Python.
  apt_packages+=(rsync chromium libkrb5-dev build-essential pkg-config git python3 python3-venv)
fi

sudo_cmd=()
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null; then sudo_cmd=(sudo); else sudo_cmd=(); fi
fi
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] || [ "${#sudo_cmd[@]}" -gt 0 ]; then
    echo "==> apt-get install ${missing[*]}"
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "colablink: please install these Debian packages first: ${missing[*]}" >&2
    exit 1
  fi
fi

if [ ! -x .venv/bin/python ]; then
  echo "==> python3 -m venv .venv"
  python3 -m venv .venv
fi
echo "==> pip install -e ."
extra=""
[ "$dev" = 1 ] && extra="[dev]"
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".${extra}"

if [ "$dev" = 1 ]; then
  echo "==> npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
