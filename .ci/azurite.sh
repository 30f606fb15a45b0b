#!/usr/bin/env bash
# Installs Azurite (the Azure Storage emulator, npm package azurite@3) into .ci/azurite-npm,
# where tests/emulators/azurite.py looks for it; does nothing if it is already there.
# Needs Node.js and npm.
set -euo pipefail
cd "$(dirname "$0")"
bin=azurite-npm/node_modules/.bin/azurite-blob
if [ ! -x "$bin" ]; then
  if ! command -v npm >/dev/null; then
    echo "azurite.sh: npm is missing; install Node.js (Debian: apt-get install nodejs npm)" >&2
    exit 1
  fi
  npm install --prefix azurite-npm --silent --no-audit --no-fund --no-update-notifier \
    azurite@3 >/dev/null
fi
test -x "$bin"
