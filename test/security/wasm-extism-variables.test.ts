// ADR 0320: Extism variables (`var_set`) are kept by the gateway's Extism host across calls, within
// resources.memory. A variable is counted whole (key, value and the host's own entry), so that neither
// long keys with empty values nor many small variables hold the harness's heap past the plugin's cap.
import binaryen from 'binaryen';
import { expect, it } from 'vitest';
import { ExtismHost } from '../../src/loader/wasm/extism-host.js';

const PLUGIN = `(module
  (import "extism:host/env" "input_length" (func $il (result i64)))
  (import "extism:host/env" "input_load_u8" (func $ilu8 (param i64) (result i32)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $s8 (param i64 i32)))
  (import "extism:host/env" "var_set" (func $vs (param i64 i64)))
  (func $copy (result i64) (local $n i64) (local $i i64) (local $out i64)
    (local.set $n (call $il))
    (local.set $out (call $alloc (local.get $n)))
    (block $done (loop $next
      (br_if $done (i64.ge_u (local.get $i) (local.get $n)))
      (call $s8 (i64.add (local.get $out) (local.get $i)) (call $ilu8 (local.get $i)))
      (local.set $i (i64.add (local.get $i) (i64.const 1)))
      (br $next)))
    (local.get $out))
  ;; variable <input> set to an empty value
  (func (export "setkey") (result i32)
    (call $vs (call $copy) (call $alloc (i64.const 0)))
    (i32.const 0))
)`;

interface Wasm {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (m: object, i: object) => { exports: Record<string, () => unknown> };
}
const wasm = (globalThis as unknown as { WebAssembly: Wasm }).WebAssembly;

it('variables past resources.memory are refused, keys counted as values are', () => {
  const cap = 4 << 20; // resources.memory: 4 MiB
  const host = new ExtismHost({
    config: {},
    log: () => {},
    capBytes: cap,
    blocksCapBytes: cap,
    moduleBytes: () => 0,
  });
  const { exports } = new wasm.Instance(new wasm.Module(binaryen.parseText(PLUGIN).emitBinary()), {
    'extism:host/env': host.env(),
  });
  let refused = 0;
  for (let i = 0; i < 64; i++) {
    const key = `${i}:`.padEnd(512 * 1024, 'k');
    try {
      host.call(exports.setkey!, key);
    } catch (error) {
      expect(String(error)).toMatch(/resources.memory/);
      refused++;
    }
  }
  // 64 × 512 KiB of keys = 32 MiB asked for, under a 4 MiB cap: most of them must be refused.
  expect(refused).toBeGreaterThanOrEqual(56);
});

it('many small variables are refused past resources.memory too', () => {
  const cap = 1 << 20;
  const host = new ExtismHost({
    config: {},
    log: () => {},
    capBytes: cap,
    blocksCapBytes: cap,
    moduleBytes: () => 0,
  });
  const { exports } = new wasm.Instance(new wasm.Module(binaryen.parseText(PLUGIN).emitBinary()), {
    'extism:host/env': host.env(),
  });
  let kept = 0;
  for (let i = 0; i < 20_000; i++) {
    try {
      host.call(exports.setkey!, i.toString(36));
      kept++;
    } catch (error) {
      expect(String(error)).toMatch(/resources.memory/);
    }
  }
  // Each costs at least its host entry (128 bytes): 1 MiB holds fewer than 8,192.
  expect(kept).toBeLessThan(8192);
  expect(kept).toBeGreaterThan(1000);
});
