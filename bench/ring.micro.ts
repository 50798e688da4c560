/**
 * The limit issue 24 asks to measure before any transport of our own: a bare two-thread ping-pong of
 * the benchmark's ~200-byte request, `postMessage` (structured clone and a port wake-up each way, what
 * Piscina does) against a `SharedArrayBuffer` ring each way (the message as JSON text in the ring,
 * `Atomics.notify` to wake the other side), the waiting done three ways:
 *
 * - `waitAsync`: both sides wait with `Atomics.waitAsync`, neither event loop blocked;
 * - `thread blocks`: the host waits with `Atomics.waitAsync`, the thread with `Atomics.wait` between
 *   tasks (its event loop never runs: no timer, no I/O, no port message of its own);
 * - `both block`: the host too waits in `Atomics.wait`, a synchronous call (its event loop blocked for
 *   the round trip): the floor of a wake-up on this machine, not a transport a host could use; one in
 *   flight only.
 *
 * One process, the transports alternating in windows; per round trip: requests per second, the median
 * round trip with one in flight, and CPU on the main thread and on every thread
 * (`/proc/self/task/<tid>/schedstat`), which holds on a loaded machine.
 *
 *   npx tsx bench/ring.micro.ts        (BENCH_ROUNDS, default 5; BENCH_WINDOW_MS, default 1000)
 *
 * Nothing here is wired into the gateway: see docs/performance.md and ADR 0315 for what the figures
 * decided.
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

/** An echo thread and the two rings it serves (`block`: it waits in `Atomics.wait`). */
function echoThread(block: boolean) {
  const toWorker = new SharedArrayBuffer(16 + RING_BYTES);
  const toHost = new SharedArrayBuffer(16 + RING_BYTES);
  // The echo side is TypeScript too: the thread registers tsx's loader before importing it.
  const worker = new Worker(
    `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(
      new URL('./ring-worker.ts', import.meta.url).href,
    )}); });`,
    { eval: true, workerData: { toWorker, toHost, block } },
  );
  return { worker, send: new Ring(toWorker), receive: new Ring(toHost) };
}

/** Answers come back in order on every transport: a FIFO of waiting callers is enough. */
function fifo() {
  const waiting: ((v: unknown) => void)[] = [];
  let head = 0;
  return {
    wait: (resolve: (v: unknown) => void) => waiting.push(resolve),
    answer: (v: unknown) => {
      waiting[head++]!(v);
      if (head === waiting.length) waiting.length = head = 0;
    },
  };
}

const free = echoThread(false);
const blocked = echoThread(true);
const floor = echoThread(true);

const portCallers = fifo();
free.worker.on('message', portCallers.answer);
const viaPort = () =>
  new Promise((resolve) => {
    portCallers.wait(resolve);
    free.worker.postMessage(request);
  });

const ringCallers = fifo();
free.receive.listen((text) => ringCallers.answer(JSON.parse(text)));
const viaRing = () =>
  new Promise((resolve) => {
    ringCallers.wait(resolve);
    while (!free.send.push(JSON.stringify(request)));
  });

const blockedCallers = fifo();
blocked.receive.listen((text) => blockedCallers.answer(JSON.parse(text)));
const viaBlockedThread = () =>
  new Promise((resolve) => {
    blockedCallers.wait(resolve);
    while (!blocked.send.push(JSON.stringify(request)));
  });

/** A synchronous round trip, the host blocked in `Atomics.wait` until the answer is in. */
const viaBothBlocked = () => {
  while (!floor.send.push(JSON.stringify(request)));
  let answer: unknown;
  while (answer === undefined) floor.receive.drainBlocking((text) => (answer = JSON.parse(text)));
  return Promise.resolve(answer);
};

interface Window {
  rps: number;
  p50Us: number;
  mainUs: number;
  allUs: number;
}

async function window(call: () => Promise<unknown>, inFlight: number): Promise<Window> {
  let done = 0;
  const times: number[] = [];
  const cpu0 = threadCpu();
  const t0 = performance.now();
  const until = t0 + WINDOW_MS;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < until) {
        const started = performance.now();
        await call();
        if (inFlight === 1) times.push(performance.now() - started);
        done++;
      }
    }),
  );
  const ms = performance.now() - t0;
  const cpu1 = threadCpu();
  return {
    rps: done / (ms / 1000),
    p50Us: times.length > 0 ? median(times) * 1000 : NaN,
    mainUs: (cpu1.main - cpu0.main) / done,
    allUs: (cpu1.all - cpu0.all) / done,
  };
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!;
const TRANSPORTS = [
  ['postMessage', viaPort],
  ['ring, waitAsync both sides', viaRing],
  ['ring, thread blocks in Atomics.wait', viaBlockedThread],
  ['ring, both block (floor, not usable)', viaBothBlocked],
] as const;
const load: number[] = [];
const lines: string[] = [];
for (const inFlight of [1, 64]) {
  const used = TRANSPORTS.filter(([, call]) => inFlight === 1 || call !== viaBothBlocked);
  const results = used.map((): Window[] => []);
  for (const [, call] of used) await window(call, inFlight);
  for (let round = 0; round < ROUNDS; round++) {
    load.push(os.loadavg()[0]!);
    // Rotated each round, so that no transport always runs after the same one.
    for (let i = 0; i < used.length; i++) {
      const n = (round + i) % used.length;
      results[n]!.push(await window(used[n]![1], inFlight));
    }
  }
  const base = median(results[0]!.map((w) => w.rps));
  used.forEach(([name], n) => {
    const w = results[n]!;
    const rps = median(w.map((x) => x.rps));
    const p50 = inFlight === 1 ? `${median(w.map((x) => x.p50Us)).toFixed(1)} µs` : '–';
    lines.push(
      `| ${inFlight} | ${name} | ${Math.round(rps)} | ×${(rps / base).toFixed(2)} | ${p50} | ${median(w.map((x) => x.mainUs)).toFixed(1)} | ${median(w.map((x) => x.allUs)).toFixed(1)} |`,
    );
  });
}
await Promise.all([free.worker.terminate(), blocked.worker.terminate(), floor.worker.terminate()]);
console.log(
  [
    `date: ${new Date().toISOString()}; node ${process.version}; ${os.cpus().length} CPUs; load average (1 min) ${Math.min(...load).toFixed(1)}–${Math.max(...load).toFixed(1)}; ${ROUNDS} rotated windows of ${WINDOW_MS} ms, medians`,
    '',
    '| in flight | transport | round trips/s | ÷ postMessage | round trip p50 | CPU µs per round trip, main thread | all threads |',
    '| ---: | --- | ---: | ---: | ---: | ---: | ---: |',
    ...lines,
  ].join('\n'),
);
