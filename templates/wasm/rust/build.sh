#!/bin/sh
# Builds plugin.wasm with rustc alone (Debian: rustc, libstd-rust-dev-wasm32; no cargo, no crates).
set -eu
cd "$(dirname "$0")"
"${RUSTC:-rustc}" --edition 2021 --crate-type cdylib --target wasm32-unknown-unknown -C opt-level=2 \
  -C panic=abort -C strip=symbols -o plugin.wasm src/lib.rs
