#!/usr/bin/env bash
# Installs Azurite (the Azure Storage emulator) from npm into .ci/azurite-npm, once.
set -euo pipefail
cd "$(dirname "$0")"
bin=azurite-npm/node_modules/.bin/azurite-blob
if [ ! -x "$bin" ]; then
  npm install --silent --no-audit --no-fund --prefix azurite-npm azurite@3 >/dev/null
fi
test -x "$bin"
