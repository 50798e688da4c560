/**
 * `npm run bench:overhead`: the gateway's CPU per request, counted rather than timed, side by side with
 * a tuned Piscina pool in ONE process, the two alternating in windows of 64 requests in flight.
 *
 * Wall-clock throughput on a shared machine moves with its load; the CPU a request costs moves much
 * less. Each window reports, per request: the main thread's CPU (the host's side: the gateway's work,
 * Piscina's, the copy to and from the thread) and every thread's (the plugin's thread too), read from
 * Linux's `/proc/self/task/<tid>/schedstat`, how often the main thread went to sleep (its wake-ups), and
 * the requests per second for what they are worth.
 *
 * Rows (ADR-001's quality gate "< 10% CPU overhead"): the echo of ~200 bytes, then a plugin doing a
 * fixed amount of CPU work (~100 µs and ~1 ms: a loop whose cost is measured in this process first).
 * The overhead of a row is what a request costs through the gateway beyond the work itself, as a share
 * of that work; the same figure for the bare pool is the floor any thread-isolated design pays.
 *
 * Runs against the built package (dist/): `npm run bench:overhead` builds it first.
 *   BENCH_ROUNDS (default 5), BENCH_WINDOW_MS (default 1500)
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { PluginGateway } from '../dist/index.js';
import { threadCpu } from './thread-cpu.js';

const here = import.meta.dirname;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const WINDOW_MS = Number(process.env.BENCH_WINDOW_MS ?? 1500);
const IN_FLIGHT = 64;
const headers = { 'content-type': 'application/json' };
const echoBody = {
  userId: 456,
  trackIds: [101, 202, 303, 404],
  context: { device: 'web', locale: 'fr-FR' },
};

/** The loop the work route runs (bench/plugins/echo, bench/echo-worker.js), in a thread of its own. */
const LOOP = `
const { parentPort } = require('node:worker_threads');
function loop(loops) {
  let x = 0;
  for (let i = 0; i < loops; i++) x = (Math.imul(x, 31) + i) | 0;
  return x;
}
parentPort.on('message', ({ loops, calls }) => {
  let x = 0;
  for (let i = 0; i < calls; i++) x ^= loop(loops);
  parentPort.postMessage(x);
});`;

/**
 * Loops that cost about `us` of CPU in a thread (as the plugin runs them), and what they cost there:
 * every thread's CPU while only that thread works, per call.
 */
async function calibrate(us: number): Promise<{ loops: number; cpuUs: number }> {
  const thread = new Worker(LOOP, { eval: true });
  const cpuPerCall = async (loops: number) => {
    // ~0.3 s of work per measure.
    const calls = Math.max(50, Math.round(3e8 / loops));
    const before = threadCpu().all;
    thread.postMessage({ loops, calls });
    await once(thread, 'message');
    return (threadCpu().all - before) / calls;
  };
  try {
    await cpuPerCall(1e5); // optimised before it is measured
    let loops = 1000;
    for (;;) {
      const cpuUs = await cpuPerCall(loops);
      if (cpuUs >= us / 4) {
        const scaled = Math.round((loops * us) / cpuUs);
        return { loops: scaled, cpuUs: await cpuPerCall(scaled) };
      }
      loops *= 4;
    }
  } finally {
    await thread.terminate();
  }
}

interface Window {
  main: number;
  all: number;
  rps: number;
  /** Times the main thread went to sleep (voluntary context switches), per request: its wake-ups. */
  sleeps: number;
}

/** Voluntary context switches of the main thread (Linux; NaN elsewhere). */
function mainSleeps(): number {
  try {
    const status = readFileSync(`/proc/self/task/${process.pid}/status`, 'utf8');
    return Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}

/** One closed-loop window of 64 in flight: CPU per request by thread, and requests per second. */
async function window(call: () => Promise<unknown>): Promise<Window> {
  let done = 0;
  const sleeps0 = mainSleeps();
  const cpu0 = threadCpu();
  const started = performance.now();
  const until = started + WINDOW_MS;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (performance.now() < until) {
        await call();
        done++;
      }
    }),
  );
  const elapsed = performance.now() - started;
  const cpu1 = threadCpu();
  const sleeps1 = mainSleeps();
  return {
    sleeps: (sleeps1 - sleeps0) / done,
    main: (cpu1.main - cpu0.main) / done,
    all: (cpu1.all - cpu0.all) / done,
    rps: done / (elapsed / 1000),
  };
}

const median = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

const pool = new Piscina({
  filename: path.join(here, 'echo-worker.js'),
  minThreads: 1,
  maxThreads: 1,
  atomics: 'disabled',
  concurrentTasksPerWorker: 16,
  idleTimeout: 30_000,
  // As the gateway's pools: no task timing (the gateway keeps its own histogram).
  recordTiming: false,
});
const gateway = new PluginGateway({ logger: false });
await gateway.load(path.join(here, 'plugins/echo'));
await gateway.start();

const works = [
  { label: 'echo (~200 bytes)', path: '/echo', body: echoBody as unknown, workUs: 0 },
  // One after the other: each measures every thread's CPU.
  ...[
    { us: 100, ...(await calibrate(100)) },
    { us: 1000, ...(await calibrate(1000)) },
  ].map(({ us, loops, cpuUs }) => ({
    label: `work ${us >= 1000 ? `${us / 1000} ms` : `${us} µs`}`,
    path: '/work',
    body: { loops } as unknown,
    workUs: cpuUs,
  })),
];

const load: number[] = [];
const rows = [];
for (const work of works) {
  const request = { method: 'POST', path: work.path, headers, body: work.body, userId: 456 };
  const res = await gateway.handle(request);
  if (res.statusCode !== 200) throw new Error(`${work.path} answered ${res.statusCode}`);
  const sides = { pool: [] as Window[], gateway: [] as Window[] };
  const callPool = () => pool.run(request);
  const callGateway = () => gateway.handle(request);
  // Warm both, then alternate (which goes first alternates too).
  await window(callPool);
  await window(callGateway);
  for (let round = 0; round < ROUNDS; round++) {
    load.push(os.loadavg()[0]!);
    const order = round % 2 === 0 ? (['pool', 'gateway'] as const) : (['gateway', 'pool'] as const);
    for (const side of order)
      sides[side].push(await window(side === 'pool' ? callPool : callGateway));
    process.stderr.write('.');
  }
  const m = (side: Window[], k: keyof Window) => median(side.map((w) => w[k]));
  rows.push({ work, pool: sides.pool, gateway: sides.gateway, m });
}
process.stderr.write('\n');
await gateway.stop();
await pool.destroy();

const f1 = (n: number) => n.toFixed(1);
const pct = (n: number) => `${(100 * n).toFixed(1)}%`;
const cpu = os.cpus();
console.log(
  [
    `date: ${new Date().toISOString()}; node ${process.version}; ${cpu.length} × ${cpu[0]?.model ?? 'cpu'}; load average (1 min) over the run ${Math.min(...load).toFixed(1)}–${Math.max(...load).toFixed(1)}`,
    `${ROUNDS} alternating windows of ${WINDOW_MS} ms per side and row, 64 in flight, one process; medians`,
    '',
    '| work per request | CPU of the work (µs) | main thread µs/req pool / gateway | all threads µs/req pool / gateway | gateway − pool, main thread (µs) | overhead: all threads beyond the work, pool / gateway | the gateway’s own (gateway − pool, all threads) / work | req/s pool / gateway | main-thread sleeps/req pool / gateway |',
    '| --- | ---: | --- | --- | ---: | --- | ---: | --- | --- |',
    ...rows.map(({ work, pool: p, gateway: g, m }) => {
      const beyond = (side: Window[]) =>
        work.workUs > 0 ? pct((m(side, 'all') - work.workUs) / work.workUs) : '–';
      return `| ${work.label} | ${work.workUs > 0 ? f1(work.workUs) : '–'} | ${f1(m(p, 'main'))} / ${f1(m(g, 'main'))} | ${f1(m(p, 'all'))} / ${f1(m(g, 'all'))} | ${f1(m(g, 'main') - m(p, 'main'))} | ${beyond(p)} / ${beyond(g)} | ${work.workUs > 0 ? pct((m(g, 'all') - m(p, 'all')) / work.workUs) : '–'} | ${Math.round(m(p, 'rps'))} / ${Math.round(m(g, 'rps'))} | ${m(p, 'sleeps').toFixed(2)} / ${m(g, 'sleeps').toFixed(2)} |`;
    }),
  ].join('\n'),
);
