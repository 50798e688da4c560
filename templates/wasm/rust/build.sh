#!/bin/sh
# Builds plugin.wasm with cargo for wasm32-unknown-unknown, with Extism's Rust PDK from crates.io.
# CARGO_TARGET_DIR chooses where cargo builds (default ./target).
set -eu
cd "$(dirname "$0")"
CARGO="${CARGO:-cargo}"
if ! command -v "$CARGO" >/dev/null 2>&1; then
  echo "build.sh: $CARGO not found. Install Rust with rustup (https://rustup.rs)" >&2
  exit 1
fi
if ! "$CARGO" build --release --target wasm32-unknown-unknown --quiet; then
  echo "build.sh: cargo could not build for wasm32-unknown-unknown. Its standard library may be" >&2
  echo "  missing: rustup target add wasm32-unknown-unknown" >&2
  exit 1
fi
target="${CARGO_TARGET_DIR:-target}"
name=$(sed -n 's/^name = "\(.*\)"/\1/p' Cargo.toml | head -1 | tr - _)
cp "$target/wasm32-unknown-unknown/release/$name.wasm" plugin.wasm
