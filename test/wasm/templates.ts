/**
 * The wasm templates (templates/wasm/*): how each is built, and whether its toolchain works here: each
 * is probed by compiling a tiny module for its wasm target, not by a binary's presence. With
 * `PGW_REQUIRE_SERVICES` set (CI) an unusable toolchain fails; otherwise its tests are skipped, the
 * reason printed.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { findBinary } from '../services/common.js';
import { clangWasmReason, runs, rustWasmReason, usable } from '../services/toolchains.js';

export const TEMPLATES = path.resolve(import.meta.dirname, '../../templates/wasm');

export interface Template {
  lang: string;
  dir: string;
  /** Why the toolchain cannot build the template here, or undefined when it can. */
  probe(): string | undefined;
  install: string;
  /** Extra environment for build.sh (the compiler the probe found working). */
  env(): NodeJS.ProcessEnv;
}

/**
 * The first rustc that builds for wasm32 (`RUSTC`, Debian's, the one on PATH): rustup's often comes
 * first on PATH without the wasm32 standard library.
 */
let rust: { rustc?: string; reason?: string } | undefined;
function workingRustc(): { rustc?: string; reason?: string } {
  if (rust) return rust;
  const candidates = [process.env['RUSTC'], '/usr/bin/rustc', findBinary('rustc')].filter(
    (c): c is string => c !== undefined,
  );
  let reason = 'rustc is not installed';
  for (const rustc of new Set(candidates)) {
    const why = rustWasmReason(rustc);
    if (why === undefined) return (rust = { rustc });
    reason = why;
  }
  return (rust = { reason });
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
    probe: () => workingRustc().reason,
    install:
      'apt-get install -y rustc libstd-rust-dev-wasm32, or rustup target add wasm32-unknown-unknown',
    env: () => ({ RUSTC: workingRustc().rustc }),
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
    timeout: 120_000,
    env: { ...process.env, ...t.env() },
  });
}
