#!/bin/sh
# Builds plugin.wasm with clang and lld against wasi-libc (Debian: clang, lld, wasi-libc). No entry
# point, no start files and no compiler-rt (Debian ships it apart, in libclang-rt-14-dev-wasm32): the
# code needs none. Only string and memory functions of libc: stdio would import WASI, which the gateway
# refuses.
set -eu
cd "$(dirname "$0")"
CC="${CC:-clang}"
if ! command -v "$CC" >/dev/null 2>&1; then
  echo "build.sh: $CC not found. This template needs clang, lld and wasi-libc:" >&2
  echo "  Debian/Ubuntu: apt-get install clang lld wasi-libc (or CC=/path/to/clang ./build.sh)" >&2
  exit 1
fi
if ! "$CC" --target=wasm32-wasi --sysroot=/usr -O2 -nostartfiles -nodefaultlibs \
  -Wl,--no-entry -Wl,--strip-all -o plugin.wasm plugin.c -lc; then
  echo "build.sh: $CC could not build for wasm32-wasi. It needs lld (wasm-ld) and wasi-libc's" >&2
  echo "  headers and libc under /usr: apt-get install lld wasi-libc" >&2
  exit 1
fi
