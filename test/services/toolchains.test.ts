import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { runs, rustWasmReason, usable } from './toolchains.js';

// A toolchain-dependent test asks whether the toolchain works, not whether a binary exists.
const dir = mkdtempSync(path.join(os.tmpdir(), 'pgw-toolchains-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.unstubAllEnvs());

/** A rustc like rustup's without the wasm32 target: on PATH, runs, cannot build for wasm32. */
function rustcWithoutWasmStd(): string {
  const file = path.join(dir, 'rustc');
  writeFileSync(
    file,
    '#!/bin/sh\necho "error[E0463]: can\'t find crate for \\`std\\`" >&2\nexit 1\n',
  );
  chmodSync(file, 0o755);
  return file;
}

describe('toolchain probes', () => {
  it('a rustc without the wasm32 standard library is unusable, with the compiler’s reason', () => {
    expect(rustWasmReason(rustcWithoutWasmStd())).toContain("can't find crate for `std`");
  });

  it('a binary that is missing or fails is a reason; one that runs is not', () => {
    expect(runs('pgw-no-such-binary', [])).toBe('pgw-no-such-binary is not installed');
    expect(runs('false', [])).toMatch(/failed/);
    expect(runs('true', [])).toBeUndefined();
  });

  it('skips with the reason printed, or fails when PGW_REQUIRE_SERVICES is set', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    vi.stubEnv('PGW_REQUIRE_SERVICES', '');
    expect(usable('the x tests', 'x is broken', 'apt-get install x')).toBe(false);
    expect(warn).toHaveBeenCalledWith('skipping the x tests: x is broken (apt-get install x)');
    expect(usable('the x tests', undefined, 'apt-get install x')).toBe(true);
    vi.stubEnv('PGW_REQUIRE_SERVICES', '1');
    expect(() => usable('the x tests', 'x is broken', 'apt-get install x')).toThrow(
      /PGW_REQUIRE_SERVICES is set/,
    );
    warn.mockRestore();
  });
});
