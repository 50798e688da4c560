/**
 * The wasm templates (templates/wasm/*): how each is built, and whether its toolchain works here: each
 * is probed by compiling a tiny module for its wasm target, not by a binary's presence. With
 * `PGW_REQUIRE_SERVICES` set (CI) an unusable toolchain fails; otherwise its tests are skipped, the
 * reason printed.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { findBinary } from '../services/common.js';
import {
  clangWasmReason,
  goWasmReason,
  runs,
  rustWasmReason,
  usable,
} from '../services/toolchains.js';

export const TEMPLATES = path.resolve(import.meta.dirname, '../../templates/wasm');

export interface Template {
  lang: string;
  dir: string;
  /** Why the toolchain cannot build the template here, or undefined when it can. */
  probe(): string | undefined;
  install: string;
  /** Extra environment for build.sh (the compiler the probe found working). */
  env(): NodeJS.ProcessEnv;
  /**
   * Built by `veza plugin validate`/`test` from a folder `veza plugin create` made (Go, Rust), rather
   * than copied with its plugin.wasm.
   */
  created?: boolean;
}

/** cargo's build folder for every Rust build of a test run: the crates compile once. */
export const CARGO_TARGET_DIR = path.join(os.tmpdir(), 'pgw-cargo-target');

/** cargo, with rustc's wasm32-unknown-unknown standard library (rustup target add). */
let cargo: string | undefined | null = null;
function cargoReason(): string | undefined {
  if (cargo !== null) return cargo;
  const rustc = findBinary('rustc');
  cargo = !findBinary('cargo')
    ? 'cargo is not installed'
    : rustc
      ? rustWasmReason(rustc)
      : 'rustc is not installed';
  return cargo;
}

let go: string | undefined | null = null;
function goReason(): string | undefined {
  if (go === null) go = goWasmReason();
  return go;
}

export const templates: Template[] = [
  {
    lang: 'assemblyscript',
    dir: path.join(TEMPLATES, 'assemblyscript'),
    probe: () =>
      runs('npx', ['--no-install', 'asc', '--version'], path.join(TEMPLATES, 'assemblyscript')),
    install: 'npm i -D assemblyscript@0.28 @extism/as-pdk@1.0.0',
    env: () => ({}),
  },
  {
    lang: 'rust',
    dir: path.join(TEMPLATES, 'rust'),
    probe: cargoReason,
    install: 'rustup (cargo), then rustup target add wasm32-unknown-unknown',
    env: () => ({ CARGO_TARGET_DIR }),
    created: true,
  },
  {
    lang: 'go',
    dir: path.join(TEMPLATES, 'go'),
    probe: goReason,
    install: 'Go 1.24 or later',
    env: () => ({}),
    created: true,
  },
  {
    lang: 'c',
    dir: path.join(TEMPLATES, 'c'),
    probe: clangWasmReason,
    install: 'apt-get install -y clang lld wasi-libc',
    env: () => ({}),
  },
];

/** Whether `t` can be built here (see the module's note on `PGW_REQUIRE_SERVICES`). */
export function toolchainPresent(t: Template): boolean {
  return usable(`the ${t.lang} wasm template`, t.probe(), t.install);
}

/** Runs the template's build script; its plugin.wasm is next to it. */
export function build(t: Template): void {
  execFileSync('sh', [path.join(t.dir, 'build.sh')], {
    stdio: 'pipe',
    timeout: 600_000,
    env: { ...process.env, ...t.env() },
  });
}
