#!/bin/sh
# Builds plugin.wasm with AssemblyScript (npm: assemblyscript@0.28, @extism/as-pdk@1.0.0).
set -eu
cd "$(dirname "$0")"
npx --no-install asc assembly/index.ts --outFile plugin.wasm --optimize --runtime incremental
