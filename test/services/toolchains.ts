/**
 * What a toolchain-dependent test really needs, checked by using it (a binary on PATH is not enough:
 * rustup's rustc without the wasm32 standard library, bwrap without user namespaces, a chromium stub
 * that only points at a snap). Each probe returns undefined when the thing works, else the reason it
 * does not; {@link usable} turns that into run / skip-with-the-reason / fail under PGW_REQUIRE_SERVICES.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findBinary } from './common.js';

/**
 * True when `reason` is undefined. Otherwise the tests of `what` are skipped with the reason printed,
 * or, with `PGW_REQUIRE_SERVICES` set (CI), this throws.
 */
export function usable(what: string, reason: string | undefined, install: string): boolean {
  if (reason === undefined) return true;
  const why = `${what}: ${reason} (${install})`;
  if (process.env.PGW_REQUIRE_SERVICES) throw new Error(`${why}; PGW_REQUIRE_SERVICES is set`);
  console.warn(`skipping ${why}`);
  return false;
}

/** Runs `command args`; undefined when it exits 0, else the first line it printed on failure. */
export function runs(command: string, args: string[], cwd?: string): string | undefined {
  const bin = path.isAbsolute(command) ? command : findBinary(command);
  if (!bin) return `${command} is not installed`;
  const out = spawnSync(bin, args, { cwd, encoding: 'utf8', timeout: 60_000 });
  if (out.status === 0) return undefined;
  const said = `${out.stderr ?? ''}\n${out.stdout ?? ''}`
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l.length > 0);
  return `\`${command} ${args.join(' ')}\` failed${said ? `: ${said}` : ` (${out.error?.message ?? `exit ${out.status}`})`}`;
}

/** Compiles `source` (written to a scratch folder as `file`) with `compile(file, out)`. */
function compiles(
  file: string,
  source: string,
  compile: (src: string, out: string) => string | undefined,
) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pgw-probe-'));
  try {
    writeFileSync(path.join(dir, file), source);
    return compile(path.join(dir, file), path.join(dir, 'probe.wasm'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `rustc` builds a std cdylib for wasm32-unknown-unknown (rustup's needs `rustup target add`). */
export function rustWasmReason(rustc: string): string | undefined {
  return compiles(
    'probe.rs',
    '#[no_mangle]\npub extern "C" fn n() -> usize { vec![1u8].len() }\n',
    (src, out) =>
      runs(rustc, ['--crate-type', 'cdylib', '--target', 'wasm32-unknown-unknown', '-o', out, src]),
  );
}

/** `go` (1.24 or later) builds a WASI reactor with a `//go:wasmexport` function, as the Go template's build.sh does. */
export function goWasmReason(): string | undefined {
  const go = findBinary('go');
  if (!go) return 'go is not installed';
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pgw-probe-'));
  try {
    writeFileSync(path.join(dir, 'go.mod'), 'module probe\n\ngo 1.24\n');
    writeFileSync(
      path.join(dir, 'main.go'),
      'package main\n\n//go:wasmexport n\nfunc n() int32 { return 1 }\n\nfunc main() {}\n',
    );
    const out = spawnSync(go, ['build', '-buildmode=c-shared', '-o', 'probe.wasm', '.'], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, GOOS: 'wasip1', GOARCH: 'wasm' },
    });
    if (out.status === 0) return undefined;
    const said = `${out.stderr ?? ''}`.split('\n').find((l) => l.trim().length > 0);
    return `go cannot build a wasip1 reactor${said ? `: ${said.trim()}` : ` (${out.error?.message ?? `exit ${out.status}`})`}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** clang and wasm-ld build a wasm32-wasi module against wasi-libc, as templates/wasm/c/build.sh does. */
export function clangWasmReason(): string | undefined {
  return compiles(
    'probe.c',
    '#include <string.h>\n__attribute__((export_name("n"))) unsigned long n(const char *s) { return strlen(s); }\n',
    (src, out) =>
      runs('clang', [
        '--target=wasm32-wasi',
        '--sysroot=/usr',
        '-O2',
        '-nostartfiles',
        '-nodefaultlibs',
        '-Wl,--no-entry',
        '-o',
        out,
        src,
        '-lc',
      ]),
  );
}

/** bwrap can make the namespaces the process sandbox uses (not only: is it installed). */
export function bwrapReason(): string | undefined {
  return runs('bwrap', ['--unshare-all', '--die-with-parent', '--ro-bind', '/', '/', 'true']);
}
