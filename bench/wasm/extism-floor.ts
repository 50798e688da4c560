/**
 * `npm run bench:wasm:floor`: what one Extism call costs in one thread, taken apart (no gateway, no
 * thread hop). CPU per call (µs, this process's threads from /proc) of:
 * - `noop-instance`: an export that returns 0, called on the WebAssembly instance itself — the floor;
 * - `noop-extism`: the same export through Extism's `plugin.call` (input stored, call context set up
 *   and torn down, output looked up) and `plugin.reset()`, as the gateway's harness calls it;
 *   `noop-extism-noreset` without the reset (a call that stores nothing needs none);
 * - `echo-extism`: the AssemblyScript template's echo with the envelope the gateway sends, as the
 *   harness calls it (input as text, output decoded to text, reset);
 * - `echo-extism-bytes`: the same with the input encoded once and handed as bytes (Extism keeps a
 *   `Uint8Array` on an `ArrayBuffer` as the input block without copying it);
 * - `echo-kernel`: the same echo through the gateway's own Extism host (`extism-host.ts`: the kernel's
 *   per-8-byte functions in wasm, docs/decisions/0320), as the harness calls it now;
 * - `plain`: bench/wasm/plain-echo.c's echo of the same bytes, no Extism (when clang is installed).
 * `PGW_EXTISM=/path/to/node_modules/@extism/extism/dist/esm/mod.js` measures another Extism build.
 * Arguments `name=path.wasm` add `echo-<name>` rows: other modules serving `handle` (the Go and Rust
 * templates, as-parse/), called the same way.
 * Variants alternate within each round; medians over rounds; `BENCH_VARIANTS=a,b` runs some only. Usage: node --import tsx
 * bench/wasm/extism-floor.ts (templates/wasm/assemblyscript built first: `npm run bench:wasm` or its
 * build.sh).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type createPluginType from '@extism/extism';
import { threadCpu } from '../thread-cpu.js';
import { BENCH_INPUT, buildPlain, plainEcho, STUB_IMPORTS, withKernel } from './kernel-setup.js';

// PGW_EXTISM=<path to another @extism/extism> measures that version instead of the installed one.
const createPlugin = (
  (await import(process.env.PGW_EXTISM || '@extism/extism')) as { default: typeof createPluginType }
).default;
// Extism 2's release candidates call by export name only; 1.x as the gateway does, by [module, export].
const target = (name: string): never => (process.env.PGW_EXTISM ? name : ['main', name]) as never;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CALLS = 20_000;
const here = import.meta.dirname;
const echoWasm = readFileSync(path.join(here, '../../templates/wasm/assemblyscript/plugin.wasm'));
// (module (func (export "noop") (result i32) i32.const 0)), byte by byte.
const noopWasm = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, 0x03,
  0x02, 0x01, 0x00, 0x07, 0x08, 0x01, 0x04, 0x6e, 0x6f, 0x6f, 0x70, 0x00, 0x00, 0x0a, 0x06, 0x01,
  0x04, 0x00, 0x41, 0x00, 0x0b,
]);
const input = BENCH_INPUT;

const options = {
  useWasi: false,
  runInWorker: false,
  functions: {
    // Imported by the current PDKs, missing from Extism 1.0's kernel (the gateway provides them too).
    'extism:host/env': { get_log_level: () => 0, log_trace: () => {} },
    ...STUB_IMPORTS,
  },
};
const noop = await createPlugin({ wasm: [{ name: 'main', data: noopWasm }] }, options);
const noopExport = (await noop.getInstance('main')).exports.noop as () => number;
const echo = await createPlugin({ wasm: [{ name: 'main', data: echoWasm }] }, options);
const inputBytes = new TextEncoder().encode(input);

const variants: Record<string, () => unknown> = {
  'noop-instance': () => noopExport(),
  'noop-extism': async () => {
    await noop.call(target('noop'), '');
    await noop.reset();
  },
  'noop-extism-noreset': () => noop.call(target('noop'), ''),
  'echo-extism': async () => {
    const out = (await echo.call(target('handle'), input))!.text();
    await echo.reset();
    return out;
  },
  'echo-extism-bytes': async () => {
    const out = (await echo.call(target('handle'), inputBytes))!.text();
    await echo.reset();
    return out;
  },
};

const kernelEnv = options.functions['extism:host/env'];
const echoKernel = withKernel(echoWasm, kernelEnv);
variants['echo-kernel'] = () => echoKernel(input);

// Further modules serving the gateway's `handle` (the Go and Rust templates, bench's as-parse), given
// as name=path.wasm arguments: `echo-<name>`, called as the harness calls them. A WASI reactor (Go)
// gets Extism's own WASI, which calls its _initialize.
for (const arg of process.argv.slice(2)) {
  const [name, file] = arg.split('=') as [string, string];
  const bytes = readFileSync(file);
  const useWasi = bytes.includes(Buffer.from('wasi_snapshot_preview1'));
  const plugin = await createPlugin(
    { wasm: [{ name: 'main', data: bytes }] },
    { ...options, useWasi },
  );
  variants[`echo-${name}`] = async () => {
    const out = (await plugin.call(target('handle'), input))!.text();
    await plugin.reset();
    return out;
  };
  // Without WASI (not Go), the same module through the gateway's Extism host too.
  if (!useWasi) {
    const viaKernel = withKernel(bytes, kernelEnv);
    variants[`kernel-${name}`] = () => viaKernel(input);
  }
}

const plain = path.join(mkdtempSync(path.join(os.tmpdir(), 'pgw-floor-')), 'plain.wasm');
if (buildPlain(plain)) {
  const echoPlain = plainEcho(readFileSync(plain));
  variants.plain = () => echoPlain(input);
} else {
  process.stderr.write('clang (with lld) is not installed: the plain row is left out\n');
}

const chosen = process.env.BENCH_VARIANTS?.split(',');
const names = Object.keys(variants).filter((n) => !chosen || chosen.includes(n));
const samples = new Map<string, number[]>(names.map((n) => [n, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (let i = 0; i < names.length; i++) {
    const name = names[(round + i) % names.length]!;
    const call = variants[name]!;
    for (let n = 0; n < 2000; n++) await call();
    const before = threadCpu().all;
    for (let n = 0; n < CALLS; n++) await call();
    samples.get(name)!.push((threadCpu().all - before) / CALLS);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
console.log(
  `${new Date().toISOString()}; node ${process.version}; load ${os.loadavg()[0]!.toFixed(1)}`,
);
console.log(`${ROUNDS} rounds of ${CALLS} calls, medians\n`);
console.log('| variant | CPU per call (µs) |');
console.log('| --- | ---: |');
for (const name of names) console.log(`| ${name} | ${median(samples.get(name)!).toFixed(2)} |`);
