#!/bin/sh
# Builds plugin.wasm with clang and lld against wasi-libc (Debian: clang, lld, wasi-libc). No entry
# point, no start files and no compiler-rt (Debian ships it apart, in libclang-rt-14-dev-wasm32): the
# code needs none. Only string and memory functions of libc: stdio would import WASI, which the gateway
# refuses.
set -eu
cd "$(dirname "$0")"
"${CC:-clang}" --target=wasm32-wasi --sysroot=/usr -O2 -nostartfiles -nodefaultlibs \
  -Wl,--no-entry -Wl,--strip-all -o plugin.wasm plugin.c -lc
