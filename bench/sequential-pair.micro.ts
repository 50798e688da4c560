/**
 * Issue 24's sequential goal, timed so that the machine's two modes cannot favour one side: sequential
 * p50 on this VM is bimodal (~25 µs when the other vCPU is busy, ~65–80 µs when it sleeps deeply),
 * and separate processes run minutes apart can land in different modes. Here the tuned Piscina pool,
 * `gateway.handle()` of this checkout's build, and (with `BENCH_BASE`) of another checkout's build run in
 * ONE process, in windows of sequential requests alternated round by round (order rotated), so that
 * each round's windows share the machine's state. Reported: medians over rounds of each window's p50
 * and CPU per request (main thread, all threads: /proc schedstat), and the median of the per-round
 * ratios to the pool's window of the same round (what the goal compares), with the load average.
 * Then the same at 64 in flight (req/s, CPU per request).
 *
 *   npm run build && BENCH_BASE=/path/to/other/checkout npx tsx bench/sequential-pair.micro.ts [rounds]
 *
 * `BENCH_BASE` must lie under this checkout's folder (its `dist/` built): placed elsewhere, its plugin
 * threads were refused reading their harness by Node's permission model.
 */
import os from 'node:os';
import path from 'node:path';
import { Piscina } from 'piscina';
import { threadCpu } from './thread-cpu.js';

const here = import.meta.dirname;
const rounds = Number(process.argv[2] ?? 15);
const PER_WINDOW = Number(process.env.BENCH_WINDOW ?? 3000);
const THROUGHPUT_MS = Number(process.env.BENCH_THROUGHPUT_MS ?? 1000);
const body = {
  userId: 456,
  trackIds: [101, 202, 303, 404],
  context: { device: 'web', locale: 'fr-FR' },
};
const headers = { 'content-type': 'application/json' };
const task = { id: 'r1', method: 'POST', path: '/echo', headers, body, userId: 456 };
const request = { method: 'POST', path: '/echo', headers, body, userId: 456 };

type Call = () => Promise<unknown>;
const calls = new Map<string, Call>();
const closers: (() => Promise<unknown>)[] = [];

const pool = new Piscina({
  filename: path.join(here, 'echo-worker.js'),
  minThreads: 1,
  maxThreads: 1,
  atomics: 'disabled',
  concurrentTasksPerWorker: 16,
  idleTimeout: 30_000,
});
calls.set('piscina-tuned', () => pool.run(task));
closers.push(() => pool.destroy());

async function gatewayOf(dist: string, label: string): Promise<void> {
  const { PluginGateway } = (await import(path.join(dist, 'index.js'))) as {
    PluginGateway: new (o: object) => {
      load(dir: string): Promise<unknown>;
      start(): Promise<void>;
      stop(): Promise<void>;
      handle(r: object): Promise<{ statusCode: number }>;
    };
  };
  const gateway = new PluginGateway({ logger: false, circuitBreaker: {} });
  await gateway.load(path.join(here, 'plugins/echo'));
  await gateway.start();
  const res = await gateway.handle(request);
  if (res.statusCode !== 200) throw new Error(`${label}: ${res.statusCode} ${JSON.stringify(res)}`);
  calls.set(label, () => gateway.handle(request));
  closers.push(() => gateway.stop());
}
await gatewayOf(path.join(here, '../dist'), 'gateway (this build)');
if (process.env.BENCH_BASE)
  await gatewayOf(path.join(process.env.BENCH_BASE, 'dist'), 'gateway (BENCH_BASE)');

interface Window {
  p50: number;
  cpuMain: number;
  cpuAll: number;
}
async function sequential(call: Call, n: number): Promise<Window> {
  const times = new Float64Array(n);
  const cpu0 = threadCpu();
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await call();
    times[i] = performance.now() - t0;
  }
  const cpu1 = threadCpu();
  times.sort();
  return {
    p50: times[n >> 1]! * 1000,
    cpuMain: (cpu1.main - cpu0.main) / n,
    cpuAll: (cpu1.all - cpu0.all) / n,
  };
}
async function inFlight64(call: Call): Promise<Window & { rps: number }> {
  let done = 0;
  const cpu0 = threadCpu();
  const started = performance.now();
  const until = started + THROUGHPUT_MS;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (performance.now() < until) {
        await call();
        done++;
      }
    }),
  );
  const elapsed = performance.now() - started;
  const cpu1 = threadCpu();
  return {
    p50: NaN,
    rps: done / (elapsed / 1000),
    cpuMain: (cpu1.main - cpu0.main) / done,
    cpuAll: (cpu1.all - cpu0.all) / done,
  };
}

const labels = [...calls.keys()];
for (const label of labels) await sequential(calls.get(label)!, 10_000);
const seq = new Map<string, Window[]>(labels.map((l) => [l, []]));
const flight = new Map<string, (Window & { rps: number })[]>(labels.map((l) => [l, []]));
const load: number[] = [];
for (let r = 0; r < rounds; r++) {
  for (let i = 0; i < labels.length; i++) {
    const label = labels[(r + i) % labels.length]!;
    seq.get(label)!.push(await sequential(calls.get(label)!, PER_WINDOW));
  }
  load.push(os.loadavg()[0]!);
}
const flightRounds = Math.max(3, Math.ceil(rounds / 3));
for (let r = 0; r < flightRounds; r++) {
  for (let i = 0; i < labels.length; i++) {
    const label = labels[(r + i) % labels.length]!;
    flight.get(label)!.push(await inFlight64(calls.get(label)!));
  }
  load.push(os.loadavg()[0]!);
}
for (const close of closers) await close();

const median = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const poolSeq = seq.get('piscina-tuned')!;
const poolFlight = flight.get('piscina-tuned')!;
console.log(
  `${rounds} rounds of ${PER_WINDOW} sequential requests, ${flightRounds} of ${THROUGHPUT_MS} ms at 64 in flight, alternated in one process; load average ${Math.min(...load).toFixed(1)}–${Math.max(...load).toFixed(1)}`,
);
console.log(
  '| variant | sequential p50 µs | ÷ pool (per round) | p50 range | CPU µs/req main | all threads | 64 in flight req/s | ÷ pool | CPU µs/req main | all threads |',
);
console.log('| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |');
/** Rounds whose windows all fell in the slow mode (the other vCPU asleep): the quiet machine's figure. */
const SLOW_US = 45;
const slowRounds = poolSeq
  .map((_, i) => i)
  .filter((i) => labels.every((l) => seq.get(l)![i]!.p50 > SLOW_US));
const slowNote = labels
  .filter((l) => l !== 'piscina-tuned')
  .map((l) => {
    const ratios = slowRounds.map((i) => seq.get(l)![i]!.p50 / poolSeq[i]!.p50);
    return ratios.length ? `${l} ×${median(ratios).toFixed(3)}` : `${l} –`;
  });
for (const label of labels) {
  const s = seq.get(label)!;
  const f = flight.get(label)!;
  const ratio = median(s.map((w, i) => w.p50 / poolSeq[i]!.p50));
  const rpsRatio = median(f.map((w, i) => w.rps / poolFlight[i]!.rps));
  const p50s = s.map((w) => w.p50);
  console.log(
    `| ${label} | ${median(p50s).toFixed(1)} | ×${ratio.toFixed(3)} | ${Math.min(...p50s).toFixed(1)}–${Math.max(...p50s).toFixed(1)} | ${median(s.map((w) => w.cpuMain)).toFixed(1)} | ${median(s.map((w) => w.cpuAll)).toFixed(1)} | ${Math.round(median(f.map((w) => w.rps)))} | ×${rpsRatio.toFixed(2)} | ${median(f.map((w) => w.cpuMain)).toFixed(1)} | ${median(f.map((w) => w.cpuAll)).toFixed(1)} |`,
  );
}
console.log(
  `rounds with every window in the slow mode (p50 > ${SLOW_US} µs): ${slowRounds.length} of ${rounds}; their median ratio to the pool: ${slowNote.join(', ')}`,
);
