/**
 * The wasm templates (templates/wasm/*): how each is built, and whether its toolchain is here. With
 * `PGW_REQUIRE_SERVICES` set (CI) a missing toolchain fails; otherwise its tests are skipped, the reason printed.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { findBinary } from '../services/common.js';

export const TEMPLATES = path.resolve(import.meta.dirname, '../../templates/wasm');

export interface Template {
  lang: string;
  dir: string;
  /** The binaries the build needs. */
  tools: string[];
  install: string;
}

export const templates: Template[] = [
  {
    lang: 'assemblyscript',
    dir: path.join(TEMPLATES, 'assemblyscript'),
    tools: ['npx'],
    install: 'npm i -D assemblyscript@0.28 @extism/as-pdk@1.0.0',
  },
  {
    lang: 'rust',
    dir: path.join(TEMPLATES, 'rust'),
    tools: ['rustc'],
    install: 'apt-get install -y rustc libstd-rust-dev-wasm32',
  },
  {
    lang: 'c',
    dir: path.join(TEMPLATES, 'c'),
    tools: ['clang', 'wasm-ld'],
    install: 'apt-get install -y clang lld wasi-libc',
  },
];

/** Whether `t` can be built here (see the module's note on `PGW_REQUIRE_SERVICES`). */
export function toolchainPresent(t: Template): boolean {
  const missing = t.tools.filter((tool) => !findBinary(tool));
  if (missing.length === 0) return true;
  const why = `the ${t.lang} wasm template needs ${missing.join(', ')} (${t.install})`;
  if (process.env.PGW_REQUIRE_SERVICES) throw new Error(`${why}; PGW_REQUIRE_SERVICES is set`);
  console.warn(`skipping: ${why}`);
  return false;
}

/** Runs the template's build script; its plugin.wasm is next to it. */
export function build(t: Template): void {
  // Debian's rustc (its wasm32 std is libstd-rust-dev-wasm32), ahead of a rustup one earlier in PATH.
  const env = existsSync('/usr/bin/rustc')
    ? { ...process.env, RUSTC: '/usr/bin/rustc' }
    : process.env;
  execFileSync('sh', [path.join(t.dir, 'build.sh')], { stdio: 'pipe', timeout: 120_000, env });
}
