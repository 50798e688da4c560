/**
 * One variant per process: `gateway` (the AssemblyScript template through PluginGateway), `gateway-go`
 * and `gateway-rust` (the Go and Rust templates, on Extism's official PDKs, through it), `worker`
 * (the JavaScript echo fixture through PluginGateway), `worker-slow` (the same echo spinning 60 µs
 * first: slow-echo/), `extism`
 * (the same module with @extism/extism in-thread), `kernel` (the same module in-thread through the
 * gateway's own Extism host, `extism-host.ts`), `plain` (a module without Extism, called directly),
 * `gateway-go-echo` (the AssemblyScript echo written in Go without encoding/json, built by bench.ts),
 * `gateway-as-parse` (the AssemblyScript echo that decodes its input with json-as, built by bench.ts).
 * Prints JSON: sequential p50 (µs), throughput at 64 in flight (req/s), cold start (ms), RSS (MiB).
 * Usage: node --import tsx bench/wasm/run.ts <variant> [plain.wasm] [go-echo dir] [as-parse dir]
 *   (plain.wasm: clang --target=wasm32 -O2 -fno-builtin -nostdlib -Wl,--no-entry -o plain.wasm bench/wasm/plain-echo.c)
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import createPlugin from '@extism/extism';
import { PluginGateway } from '../../src/index.js';
import { threadCpu, threadSleeps } from '../thread-cpu.js';
import { ExtismHost } from '../../src/loader/wasm/extism-host.js';

const variant = process.argv[2];
const templates = path.resolve(import.meta.dirname, '../../templates/wasm');
const dir = path.join(templates, 'assemblyscript');
/** The template each gateway variant loads. */
const GATEWAY_DIRS: Record<string, string> = {
  gateway: dir,
  'gateway-go': path.join(templates, 'go'),
  'gateway-rust': path.join(templates, 'rust'),
  'gateway-go-echo': process.argv[4] ?? '',
  'gateway-as-parse': process.argv[5] ?? '',
};
const SEQ = 3000;
const WINDOW_MS = 3000;
const request = { method: 'POST', path: '/echo', headers: {}, body: { hello: 'wasm', n: 42 } };
const mib = (n: number) => Math.round((n / 1048576) * 10) / 10;

async function measure(call: () => Promise<unknown>) {
  for (let i = 0; i < 300; i++) await call();
  const times: number[] = [];
  const seqCpu0 = threadCpu();
  const seqSleeps0 = threadSleeps();
  for (let i = 0; i < SEQ; i++) {
    const t = performance.now();
    await call();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const seqCpu = threadCpu();
  const seqSleeps = threadSleeps();
  let done = 0;
  let peak = 0;
  const cpu0 = threadCpu();
  const sleeps0 = threadSleeps();
  const end = performance.now() + WINDOW_MS;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (performance.now() < end) {
        await call();
        if (++done % 2000 === 0) peak = Math.max(peak, process.memoryUsage().rss);
      }
    }),
  );
  const cpu = threadCpu();
  const perCall = (n: number) => Math.round((n / done) * 10) / 10;
  return {
    p50_us: Math.round(times[times.length >> 1]! * 1000),
    // Sequential, per call: CPU of every thread (µs) and thread sleeps.
    seq_cpu_us: Math.round(((seqCpu.all - seqCpu0.all) / SEQ) * 10) / 10,
    seq_main_cpu_us: Math.round(((seqCpu.main - seqCpu0.main) / SEQ) * 10) / 10,
    seq_sleeps: Math.round(((seqSleeps - seqSleeps0) / SEQ) * 10) / 10,
    rps_64: Math.round(done / (WINDOW_MS / 1000)),
    // At 64 in flight, per call: CPU of every thread and of the main thread (µs), and thread sleeps.
    cpu_us: perCall(cpu.all - cpu0.all),
    main_cpu_us: perCall(cpu.main - cpu0.main),
    sleeps: perCall(threadSleeps() - sleeps0),
    rss_active_mib: mib(Math.max(peak, process.memoryUsage().rss)),
  };
}

const rss0 = process.memoryUsage().rss;
const t0 = performance.now();
const report = (cold: number, figures: object) =>
  console.log(
    JSON.stringify({
      variant,
      cold_ms: Math.round(cold * 10) / 10,
      rss_base_mib: mib(rss0),
      rss_idle_mib: mib(process.memoryUsage().rss),
      ...figures,
    }),
  );

if ((variant === 'gateway-go-echo' || variant === 'gateway-as-parse') && !GATEWAY_DIRS[variant]) {
  throw new Error(`${variant} needs the folder bench.ts built it in`);
}
if (variant !== undefined && Object.hasOwn(GATEWAY_DIRS, variant)) {
  const gateway = new PluginGateway({ logger: false });
  await gateway.load(GATEWAY_DIRS[variant]!);
  await gateway.start();
  await gateway.handle(request);
  const cold = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 200));
  report(cold, await measure(() => gateway.handle(request)));
  await gateway.stop();
} else if (variant === 'worker' || variant === 'worker-slow') {
  // The JavaScript echo fixture through the same gateway: the worker runtime's cost for comparison;
  // worker-slow spins 60 µs a request first (slow-echo/): what a slower plugin costs the main thread.
  const gateway = new PluginGateway({ logger: false });
  await gateway.load(
    variant === 'worker'
      ? path.resolve(import.meta.dirname, '../../test/fixtures/echo')
      : path.join(import.meta.dirname, 'slow-echo'),
  );
  await gateway.start();
  const js = { ...request, path: '/echo/x' };
  await gateway.handle(js);
  const cold = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 200));
  report(cold, await measure(() => gateway.handle(js)));
  await gateway.stop();
} else if (variant === 'extism') {
  const plugin = await createPlugin(
    { wasm: [{ data: readFileSync(path.join(dir, 'plugin.wasm')) }] },
    {
      useWasi: false,
      runInWorker: false,
      functions: {
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
      },
    },
  );
  // What the gateway's harness hands the module for this request.
  const input = JSON.stringify({
    key: 'POST /echo',
    request: { ...request, id: 'x', params: {}, query: {} },
  });
  const call = async () => {
    const out = await plugin.call('handle', input);
    const res = JSON.parse(out!.text()) as unknown;
    await plugin.reset();
    return res;
  };
  await call();
  report(performance.now() - t0, await measure(call));
} else if (variant === 'kernel') {
  const wasm = (globalThis as unknown as Record<string, unknown>).WebAssembly as {
    Module: new (b: Uint8Array) => object;
    Instance: new (m: object, i: object) => { exports: Record<string, () => unknown> };
  };
  const host = new ExtismHost({
    config: {},
    log: () => {},
    capBytes: 32 << 20,
    blocksCapBytes: 8 << 20,
    moduleBytes: () => 0,
  });
  const { exports } = new wasm.Instance(
    new wasm.Module(readFileSync(path.join(dir, 'plugin.wasm'))),
    {
      'extism:host/env': host.env(),
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
    },
  );
  const input = JSON.stringify({
    key: 'POST /echo',
    request: { ...request, id: 'x', params: {}, query: {} },
  });
  const call = async () => JSON.parse(host.call(exports.handle!, input)!) as unknown;
  await call();
  report(performance.now() - t0, await measure(call));
} else if (variant === 'plain') {
  // The ES lib this project compiles against has no WebAssembly types; Node has the API.
  const wasm = (globalThis as unknown as Record<string, unknown>).WebAssembly as {
    instantiate(bytes: Uint8Array): Promise<{ instance: { exports: unknown } }>;
  };
  const { instance } = await wasm.instantiate(readFileSync(process.argv[3]!));
  const e = instance.exports as unknown as {
    memory: { buffer: ArrayBuffer };
    input(): number;
    output(): number;
    echo(n: number): number;
  };
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const call = async () => {
    const bytes = encoder.encode(JSON.stringify(request));
    new Uint8Array(e.memory.buffer, e.input(), bytes.length).set(bytes);
    const n = e.echo(bytes.length);
    return JSON.parse(decoder.decode(new Uint8Array(e.memory.buffer, e.output(), n))) as unknown;
  };
  await call();
  report(performance.now() - t0, await measure(call));
}
