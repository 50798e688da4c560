/**
 * What `run.ts` and `extism-floor.ts` both set up: the request and the envelope the gateway's harness
 * hands a module for it, the imports the AssemblyScript template needs outside a gateway, a module
 * instantiated with the gateway's own Extism host (`extism-host.ts`) as the harness does, and the plain
 * wasm echo (`plain-echo.c`, no Extism) built with clang.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { ExtismHost } from '../../src/loader/wasm/extism-host.js';

export const BENCH_REQUEST = {
  method: 'POST',
  path: '/echo',
  headers: {},
  body: { hello: 'wasm', n: 42 },
};

/** What the gateway's harness hands the module for {@link BENCH_REQUEST}. */
export const BENCH_INPUT = JSON.stringify({
  key: 'POST /echo',
  request: { ...BENCH_REQUEST, id: 'x', params: {}, query: {} },
});

/** The template's imports besides Extism's kernel: its host functions, answered as if unused. */
export const STUB_IMPORTS = {
  'extism:host/user': {
    pgw_kv_get: () => 0n,
    pgw_kv_set: () => {},
    pgw_stream_head: () => -2,
    pgw_stream_write: () => -2,
  },
  env: {
    abort: () => {
      throw new Error('abort');
    },
  },
};

/** The ES lib this project compiles against has no WebAssembly types; Node has the API. */
const wasm = (globalThis as unknown as Record<string, unknown>).WebAssembly as {
  Module: new (b: Uint8Array) => object;
  Instance: new (m: object, i: object) => { exports: Record<string, unknown> };
};

/**
 * `bytes` instantiated with the gateway's Extism host, as the harness does; its `handle` called as the
 * harness calls it. `env` is merged over the kernel's `extism:host/env`.
 */
export function withKernel(
  bytes: Uint8Array,
  env: Record<string, unknown> = {},
): (input: string) => string | undefined {
  const host = new ExtismHost({
    config: {},
    log: () => {},
    capBytes: 32 << 20,
    blocksCapBytes: 8 << 20,
    moduleBytes: () => 0,
  });
  const { exports } = new wasm.Instance(new wasm.Module(bytes), {
    ...STUB_IMPORTS,
    'extism:host/env': { ...host.env(), ...env },
  });
  return (input) => host.call(exports.handle as () => unknown, input);
}

/** Builds `plain-echo.c` into `out`; false when clang (with lld) is not installed. */
export function buildPlain(out: string): boolean {
  try {
    execFileSync('clang', [
      '--target=wasm32',
      '-O2',
      '-fno-builtin',
      '-nostdlib',
      '-Wl,--no-entry',
      '-o',
      out,
      path.join(import.meta.dirname, 'plain-echo.c'),
    ]);
    return true;
  } catch {
    return false;
  }
}

/** The plain echo module's `echo` of `input`'s bytes, no Extism: the floor of a wasm call. */
export function plainEcho(bytes: Uint8Array): (input: string) => string {
  const e = new wasm.Instance(new wasm.Module(bytes), {}).exports as unknown as {
    memory: { buffer: ArrayBuffer };
    input(): number;
    output(): number;
    echo(n: number): number;
  };
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  return (input) => {
    const text = encoder.encode(input);
    new Uint8Array(e.memory.buffer, e.input(), text.length).set(text);
    const n = e.echo(text.length);
    return decoder.decode(new Uint8Array(e.memory.buffer, e.output(), n));
  };
}
