import { execFileSync } from 'node:child_process';
import path from 'node:path';
import binaryen from 'binaryen';
import { describe, expect, it } from 'vitest';
import { ExtismHost, PluginError } from './extism-host.js';

/** A plugin, in the text format, importing Extism's kernel the way the PDKs do. */
const PLUGIN = `(module
  (import "extism:host/env" "input_length" (func $il (result i64)))
  (import "extism:host/env" "input_load_u8" (func $ilu8 (param i64) (result i32)))
  (import "extism:host/env" "input_load_u64" (func $ilu64 (param i64) (result i64)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $s8 (param i64 i32)))
  (import "extism:host/env" "store_u64" (func $s64 (param i64 i64)))
  (import "extism:host/env" "load_u64" (func $l64 (param i64) (result i64)))
  (import "extism:host/env" "length" (func $len (param i64) (result i64)))
  (import "extism:host/env" "output_set" (func $os (param i64 i64)))
  (import "extism:host/env" "error_set" (func $es (param i64)))
  (import "extism:host/env" "config_get" (func $cg (param i64) (result i64)))
  (import "extism:host/env" "var_get" (func $vg (param i64) (result i64)))
  (import "extism:host/env" "var_set" (func $vs (param i64 i64)))
  (global $last (mut i64) (i64.const 0))
  ;; the input copied to a new block, 8 bytes a call and the rest byte by byte
  (func $copy (result i64) (local $n i64) (local $i i64) (local $out i64)
    (local.set $n (call $il))
    (local.set $out (call $alloc (local.get $n)))
    (block $done (loop $next
      (br_if $done (i64.ge_u (local.get $i) (local.get $n)))
      (if (i64.le_u (i64.add (local.get $i) (i64.const 8)) (local.get $n))
        (then
          (call $s64 (i64.add (local.get $out) (local.get $i)) (call $ilu64 (local.get $i)))
          (local.set $i (i64.add (local.get $i) (i64.const 8))))
        (else
          (call $s8 (i64.add (local.get $out) (local.get $i)) (call $ilu8 (local.get $i)))
          (local.set $i (i64.add (local.get $i) (i64.const 1)))))
      (br $next)))
    (global.set $last (local.get $out))
    (local.get $out))
  (func (export "echo") (result i32) (local $out i64)
    (local.set $out (call $copy))
    (call $os (local.get $out) (call $len (local.get $out)))
    (i32.const 0))
  ;; reads the block the previous call wrote its output to
  (func (export "peek") (result i32) (drop (call $l64 (global.get $last))) (i32.const 0))
  (func (export "past_input") (result i32) (drop (call $ilu64 (call $il))) (i32.const 0))
  (func (export "far") (result i32) (drop (call $l64 (i64.const 0x10000000000048))) (i32.const 0))
  (func (export "low") (result i32) (call $s64 (i64.const 8) (i64.const 1)) (i32.const 0))
  (func (export "huge") (result i32) (drop (call $alloc (i64.const 0x7fffffff))) (i32.const 0))
  ;; a size of 2^64 - 1 (-1 as an i64), then a block of 8 written and read back
  (func (export "negative") (result i32) (drop (call $alloc (i64.const -1))) (i32.const 0))
  (func (export "after") (result i32) (local $b i64)
    (local.set $b (call $alloc (i64.const 8)))
    (call $s64 (local.get $b) (i64.const 0x4b4f4b4f4b4f4b4f))
    (call $os (local.get $b) (i64.const 8))
    (i32.const 0))
  ;; a fresh 64-byte block as output: what an earlier call left there shows
  (func (export "fresh") (result i32) (local $b i64)
    (local.set $b (call $alloc (i64.const 64)))
    (call $os (local.get $b) (i64.const 64))
    (i32.const 0))
;; a block whose length header the module rewrites (store_u64 reaches it) to the input's first
  ;; 8 bytes, little-endian, then given as output and as a config key
  (func (export "forge_output") (result i32) (local $b i64)
    (local.set $b (call $alloc (i64.const 8)))
    (call $s64 (i64.sub (local.get $b) (i64.const 8)) (call $ilu64 (i64.const 0)))
    (call $os (local.get $b) (i64.const 8))
    (i32.const 0))
  (func (export "forge_config") (result i32) (local $b i64)
    (local.set $b (call $alloc (i64.const 8)))
    (call $s64 (i64.sub (local.get $b) (i64.const 8)) (call $ilu64 (i64.const 0)))
    (drop (call $cg (local.get $b)))
    (i32.const 0))
  (func (export "fail") (result i32) (call $es (call $copy)) (i32.const 1))
  ;; the config value named by the input, or no output
  (func (export "config") (result i32) (local $v i64)
    (local.set $v (call $cg (call $copy)))
    (if (i64.ne (local.get $v) (i64.const 0))
      (then (call $os (local.get $v) (call $len (local.get $v)))))
    (i32.const 0))
  ;; "k" set to the input; "k" read back
  (func (export "set") (result i32) (local $k i64)
    (local.set $k (call $alloc (i64.const 1)))
    (call $s8 (local.get $k) (i32.const 107))
    (call $vs (local.get $k) (call $copy))
    (i32.const 0))
  (func (export "get") (result i32) (local $k i64) (local $v i64)
    (local.set $k (call $alloc (i64.const 1)))
    (call $s8 (local.get $k) (i32.const 107))
    (local.set $v (call $vg (local.get $k)))
    (if (i64.ne (local.get $v) (i64.const 0))
      (then (call $os (local.get $v) (call $len (local.get $v)))))
    (i32.const 0))
)`;

interface Wasm {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (m: object, i: object) => { exports: Record<string, () => unknown> };
}
const wasm = (globalThis as unknown as { WebAssembly: Wasm }).WebAssembly;
const pluginModule = new wasm.Module(binaryen.parseText(PLUGIN).emitBinary());

function plugin(
  capBytes = 1 << 20,
  config: Record<string, string> = {},
  blocksCapBytes = capBytes,
) {
  const logs: string[] = [];
  const host = new ExtismHost({
    config,
    log: (level, line) => logs.push(`${level} ${line}`),
    capBytes,
    blocksCapBytes,
    moduleBytes: () => 0,
  });
  const { exports } = new wasm.Instance(pluginModule, { 'extism:host/env': host.env() });
  const call = (name: string, input = '') => host.call(exports[name]!, input);
  return { host, call, logs };
}

describe("Extism's kernel in wasm (extism-host.ts)", () => {
  it('is the assembled extism-kernel.wat', () => {
    const script = path.resolve(import.meta.dirname, '../../../scripts/wasm-kernel.mjs');
    execFileSync(process.execPath, [script, '--check'], { stdio: 'pipe' });
  });

  it('hands a module its input and takes its output, byte for byte', () => {
    const { call } = plugin();
    for (const input of [
      '',
      'a',
      '{"key":"POST /echo"}',
      'é€😀 — twelve+ bytes',
      'x'.repeat(70_000),
    ]) {
      expect(call('echo', input)).toBe(input);
    }
  });

  it('traps an access outside the call’s own blocks: an earlier call’s, past the input, far, low', () => {
    const { call } = plugin();
    call('echo', 'a secret of the previous request');
    for (const name of ['peek', 'past_input', 'far', 'low']) {
      expect(() => call(name)).toThrow(/unreachable/);
    }
    // and it serves on
    expect(call('echo', 'next')).toBe('next');
  });

  it('zeroes the blocks after a call: a new block never holds an earlier call’s bytes', () => {
    const { call } = plugin();
    call('echo', 'S'.repeat(200));
    expect(call('fresh')).toBe('\0'.repeat(64));
  });

  it('fails an allocation past resources.memory, and only that call', () => {
    const { call } = plugin(1 << 20);
    expect(() => call('huge')).toThrow(/would pass resources.memory/);
    expect(() => call('echo', 'y'.repeat(1 << 20))).toThrow(/would pass resources.memory/);
    expect(call('echo', 'fine')).toBe('fine');
  });

  it('reads sizes as unsigned: an alloc of -1 is one of 2^64 - 1 bytes, refused; the blocks stay whole', () => {
    const { call } = plugin();
    expect(() => call('negative')).toThrow(/would pass resources.memory/);
    expect(call('after')).toBe('OKOKOKOK');
  });

  it('never grows the blocks past their share, whatever the module’s own memory leaves free', () => {
    // resources.memory 1 MiB, of which the module may take 3/4: the blocks get the other 256 KiB
    const { call } = plugin(1 << 20, {}, 1 << 18);
    expect(() => call('echo', 'z'.repeat(200_000))).toThrow(/blocks' share of resources.memory/);
    expect(call('echo', 'z'.repeat(100_000))).toBe('z'.repeat(100_000));
  });

  it('takes no block whose length header the module forged past its call’s blocks, high word or low', () => {
    const { call } = plugin();
    const le64 = (n: bigint) => {
      const bytes = Buffer.alloc(8);
      bytes.writeBigUInt64LE(n);
      return bytes.toString('latin1');
    };
    // 2^32 + 8: a reader of the low word alone would see 8; past top, as is 0xffff
    for (const length of [(1n << 32n) + 8n, 1n << 63n, 0xffffn]) {
      expect(() => call('forge_output', le64(length))).toThrow(/output_set: .* is not a block/);
      expect(() => call('forge_config', le64(length))).toThrow(/config_get: .* is not a block/);
    }
    // an honest header still reads
    expect(() => call('forge_output', le64(8n))).not.toThrow();
    expect(call('echo', 'after')).toBe('after');
  });

  it('answers error_set as the call’s error', () => {
    const { call } = plugin();
    expect(() => call('fail', 'no such route')).toThrow(PluginError);
    expect(() => call('fail', 'no such route')).toThrow('Plugin-originated error: no such route');
    expect(call('echo', 'after')).toBe('after');
  });

  it('gives config values by their own names only', () => {
    const { call } = plugin(1 << 20, { region: 'eu' });
    expect(call('config', 'region')).toBe('eu');
    expect(call('config', 'constructor')).toBeUndefined();
    expect(call('config', 'missing')).toBeUndefined();
  });

  it('keeps variables across calls, within resources.memory', () => {
    const { call } = plugin(1 << 20);
    expect(call('get')).toBeUndefined();
    call('set', 'kept');
    expect(call('get')).toBe('kept');
    // 100 kB kept; 360 kB more fits the call's own blocks (input and copy) but not beside them
    expect(() => call('set', 'v'.repeat(100_000))).not.toThrow();
    expect(() => call('set', 'w'.repeat(360_000))).toThrow(/var_set: past resources.memory/);
    expect(call('get')).toBe('v'.repeat(100_000));
  });
});
