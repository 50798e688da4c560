#!/bin/sh
# Builds plugin.wasm with rustc alone (Debian: rustc, libstd-rust-dev-wasm32; no cargo, no crates).
set -eu
cd "$(dirname "$0")"
RUSTC="${RUSTC:-rustc}"
if ! command -v "$RUSTC" >/dev/null 2>&1; then
  echo "build.sh: $RUSTC not found. Install Rust (rustup, or apt-get install rustc libstd-rust-dev-wasm32)" >&2
  exit 1
fi
if ! "$RUSTC" --edition 2021 --crate-type cdylib --target wasm32-unknown-unknown -C opt-level=2 \
  -C panic=abort -C strip=symbols -o plugin.wasm src/lib.rs; then
  echo "build.sh: $RUSTC could not build for wasm32-unknown-unknown. Its standard library for that" >&2
  echo "  target may be missing: rustup target add wasm32-unknown-unknown (or, on Debian," >&2
  echo "  apt-get install libstd-rust-dev-wasm32 and RUSTC=/usr/bin/rustc ./build.sh)" >&2
  exit 1
fi
