/**
 * The limit issue 24 asks to measure before any transport of our own: a bare two-thread ping-pong of
 * the benchmark's ~200-byte request, `postMessage` (structured clone and a port wake-up each way, what
 * Piscina does) against a `SharedArrayBuffer` ring each way (the message as JSON text in the ring,
 * `Atomics.notify` to wake the other side, `Atomics.waitAsync` to wait without blocking either event
 * loop). One process, the two alternating in windows; per round trip: requests per second, and CPU
 * counted on every thread (`/proc/self/task/<tid>/schedstat`), which holds on a loaded machine.
 *
 *   npx tsx bench/ring.micro.ts        (BENCH_ROUNDS, default 5; BENCH_WINDOW_MS, default 1000)
 *
 * Nothing here is wired into the gateway: see docs/performance.md for what the figures decided.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { Ring } from './ring-channel.js';
import { threadCpu } from './thread-cpu.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const WINDOW_MS = Number(process.env.BENCH_WINDOW_MS ?? 1000);
const RING_BYTES = 1 << 20;
const request = {
  t: 'req',
  k: 'POST /echo',
  r: {
    id: 'r1',
    method: 'POST',
    path: '/echo',
    headers: { 'content-type': 'application/json' },
    body: { userId: 456, trackIds: [101, 202, 303, 404], context: { device: 'web' } },
    userId: 456,
  },
  s: 3,
  d: 0,
};

const threadCpuUs = () => threadCpu().all;

const toWorker = new SharedArrayBuffer(16 + RING_BYTES);
const toHost = new SharedArrayBuffer(16 + RING_BYTES);
// The echo side is TypeScript too: the thread registers tsx's loader before importing it.
const worker = new Worker(
  `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(
    new URL('./ring-worker.ts', import.meta.url).href,
  )}); });`,
  { eval: true, workerData: { toWorker, toHost } },
);
const send = new Ring(toWorker);
const receive = new Ring(toHost);
// Answers come back in order on both transports: a FIFO of waiting callers is enough.
const ringWaiting: ((v: unknown) => void)[] = [];
let ringHead = 0;
receive.listen((text) => ringWaiting[ringHead++]!(JSON.parse(text)));
const portWaiting: ((v: unknown) => void)[] = [];
let portHead = 0;
worker.on('message', (m) => portWaiting[portHead++]!(m));

const viaPort = () =>
  new Promise((resolve) => {
    portWaiting.push(resolve);
    worker.postMessage(request);
  });
const viaRing = () =>
  new Promise((resolve) => {
    ringWaiting.push(resolve);
    while (!send.push(JSON.stringify(request)));
  });

async function window(call: () => Promise<unknown>, inFlight: number) {
  let done = 0;
  const cpu0 = threadCpuUs();
  const t0 = performance.now();
  const until = t0 + WINDOW_MS;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < until) {
        await call();
        done++;
      }
    }),
  );
  const ms = performance.now() - t0;
  return { rps: done / (ms / 1000), cpuUs: (threadCpuUs() - cpu0) / done };
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!;
const load: number[] = [];
const lines: string[] = [];
for (const inFlight of [1, 64]) {
  const port: { rps: number; cpuUs: number }[] = [];
  const ring: { rps: number; cpuUs: number }[] = [];
  await window(viaPort, inFlight);
  await window(viaRing, inFlight);
  for (let round = 0; round < ROUNDS; round++) {
    load.push(os.loadavg()[0]!);
    if (round % 2 === 0) {
      port.push(await window(viaPort, inFlight));
      ring.push(await window(viaRing, inFlight));
    } else {
      ring.push(await window(viaRing, inFlight));
      port.push(await window(viaPort, inFlight));
    }
  }
  const p = { rps: median(port.map((w) => w.rps)), cpu: median(port.map((w) => w.cpuUs)) };
  const r = { rps: median(ring.map((w) => w.rps)), cpu: median(ring.map((w) => w.cpuUs)) };
  lines.push(
    `| ${inFlight} | ${Math.round(p.rps)} / ${Math.round(r.rps)} | ×${(r.rps / p.rps).toFixed(2)} | ${p.cpu.toFixed(1)} / ${r.cpu.toFixed(1)} |`,
  );
}
await worker.terminate();
process.exitCode = 0;
console.log(
  [
    `date: ${new Date().toISOString()}; node ${process.version}; ${os.cpus().length} CPUs; load average (1 min) ${Math.min(...load).toFixed(1)}–${Math.max(...load).toFixed(1)}; ${ROUNDS} alternating windows of ${WINDOW_MS} ms, medians`,
    '',
    '| in flight | round trips/s postMessage / ring | ring ÷ postMessage | CPU µs per round trip (all threads) postMessage / ring |',
    '| ---: | --- | ---: | --- |',
    ...lines,
  ].join('\n'),
);
