/**
 * One variant per process: `gateway` (the AssemblyScript template through PluginGateway), `gateway-go`
 * and `gateway-rust` (the Go and Rust templates, on Extism's official PDKs, through it), `worker`
 * (the JavaScript echo fixture through PluginGateway), `worker-slow` (the same echo spinning 60 µs
 * first: slow-echo/), `extism`
 * (the same module with @extism/extism in-thread), `kernel` (the same module in-thread through the
 * gateway's own Extism host, `extism-host.ts`), `plain` (a module without Extism, called directly),
 * `gateway-go-echo` (the AssemblyScript echo written in Go without encoding/json, built by bench.ts),
 * `gateway-as-parse` (the AssemblyScript echo that decodes its input with json-as, built by bench.ts),
 * `worker-envelope` (a JavaScript echo answering the envelope as the AssemblyScript echo does: envelope-echo/).
 * Prints JSON: sequential p50 (µs), throughput at 64 in flight (req/s), cold start (ms), RSS (MiB).
 * `BENCH_THREAD_PRELOAD=<file.cjs>`: the plugin's threads preload that file (a variant that is not
 * shipped, such as answers-together.cjs: bench/thread-preload.ts).
 * Usage: node --import tsx bench/wasm/run.ts <variant> [plain.wasm] [go-echo dir] [as-parse dir]
 *   (plain.wasm: clang --target=wasm32 -O2 -fno-builtin -nostdlib -Wl,--no-entry -o plain.wasm bench/wasm/plain-echo.c)
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import createPlugin from '@extism/extism';
import { PluginGateway } from '../../src/index.js';
import { threadCpu, threadSleeps } from '../thread-cpu.js';
import { preloadIntoThreads } from '../thread-preload.js';
import { BENCH_INPUT, BENCH_REQUEST, plainEcho, STUB_IMPORTS, withKernel } from './kernel-setup.js';

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
const request = BENCH_REQUEST;
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

if (process.env.BENCH_THREAD_PRELOAD)
  preloadIntoThreads(path.resolve(process.env.BENCH_THREAD_PRELOAD));

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
} else if (variant === 'worker-envelope') {
  // The JavaScript echo that answers the envelope, as the AssemblyScript echo does (envelope-echo/).
  const gateway = new PluginGateway({ logger: false });
  await gateway.load(path.join(import.meta.dirname, 'envelope-echo'));
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
    { useWasi: false, runInWorker: false, functions: STUB_IMPORTS },
  );
  const call = async () => {
    const out = await plugin.call('handle', BENCH_INPUT);
    const res = JSON.parse(out!.text()) as unknown;
    await plugin.reset();
    return res;
  };
  await call();
  report(performance.now() - t0, await measure(call));
} else if (variant === 'kernel') {
  const handle = withKernel(readFileSync(path.join(dir, 'plugin.wasm')));
  const call = async () => JSON.parse(handle(BENCH_INPUT)!) as unknown;
  await call();
  report(performance.now() - t0, await measure(call));
} else if (variant === 'plain') {
  const echo = plainEcho(readFileSync(process.argv[3]!));
  const call = async () => JSON.parse(echo(JSON.stringify(request))) as unknown;
  await call();
  report(performance.now() - t0, await measure(call));
}
