#!/bin/sh
# Builds plugin.wasm: Go 1.24+ as a WASI reactor (GOOS=wasip1, //go:wasmexport), with Extism's Go PDK
# from the Go module proxy.
set -eu
cd "$(dirname "$0")"
GO="${GO:-go}"
if ! command -v "$GO" >/dev/null 2>&1; then
  echo "build.sh: $GO not found. Install Go 1.24 or later (https://go.dev/dl)" >&2
  exit 1
fi
GOOS=wasip1 GOARCH=wasm "$GO" build -buildmode=c-shared -trimpath -ldflags=-s -o plugin.wasm .
