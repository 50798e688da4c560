/**
 * The ceiling of micro-batching the thread hop (issue 24): a bare two-thread echo of the benchmark's
 * ~200-byte request, one `postMessage` per request each way (what Piscina does) against the requests
 * issued in one tick sent as one array, flushed at the end of the tick (`queueMicrotask`), and the
 * replies the thread finishes in one of its ticks sent back as one array. A batch of one goes out as a
 * bare message on both sides. One process, the two alternating in windows; per round trip: requests
 * per second, and CPU on the main thread and on all threads (`/proc/self/task/<tid>/schedstat`), which
 * holds on a loaded machine; and messages per round trip.
 *
 *   npx tsx bench/batch.micro.ts        (BENCH_ROUNDS, default 5; BENCH_WINDOW_MS, default 1000)
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { threadCpu } from './thread-cpu.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const WINDOW_MS = Number(process.env.BENCH_WINDOW_MS ?? 1000);
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

// The echo thread: a message is one task or an array of them; it answers in the same shape, replies
// that finish in one of its ticks (all of them: the echo is synchronous) in one message.
const worker = new Worker(
  `const { parentPort } = require('node:worker_threads');
   const echo = (task) => ({ s: task.s, statusCode: 200, body: task.r.body });
   parentPort.on('message', (m) => parentPort.postMessage(Array.isArray(m) ? m.map(echo) : echo(m)));`,
  { eval: true },
);

// Answers come back in order on both transports: a FIFO of waiting callers is enough.
const waiting: ((v: unknown) => void)[] = [];
let head = 0;
let messages = 0;
worker.on('message', (m: unknown) => {
  messages++;
  if (Array.isArray(m)) for (const r of m) waiting[head++]!(r);
  else waiting[head++]!(m);
});

const one = () =>
  new Promise((resolve) => {
    waiting.push(resolve);
    messages++;
    worker.postMessage(request);
  });

let queued: unknown[] = [];
const flush = () => {
  const batch = queued;
  queued = [];
  messages++;
  worker.postMessage(batch.length === 1 ? batch[0] : batch);
};
const batched = () =>
  new Promise((resolve) => {
    waiting.push(resolve);
    if (queued.push(request) === 1) queueMicrotask(flush);
  });

interface Window {
  rps: number;
  main: number;
  all: number;
  messages: number;
}

async function window(call: () => Promise<unknown>, inFlight: number): Promise<Window> {
  let done = 0;
  messages = 0;
  const cpu0 = threadCpu();
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
  const cpu = threadCpu();
  return {
    rps: done / (ms / 1000),
    main: (cpu.main - cpu0.main) / done,
    all: (cpu.all - cpu0.all) / done,
    messages: messages / done,
  };
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!;
const summary = (ws: Window[]) => ({
  rps: median(ws.map((w) => w.rps)),
  main: median(ws.map((w) => w.main)),
  all: median(ws.map((w) => w.all)),
  messages: median(ws.map((w) => w.messages)),
});
const load: number[] = [];
const lines: string[] = [];
for (const inFlight of [1, 8, 64]) {
  const single: Window[] = [];
  const batch: Window[] = [];
  await window(one, inFlight);
  await window(batched, inFlight);
  for (let round = 0; round < ROUNDS; round++) {
    load.push(os.loadavg()[0]!);
    if (round % 2 === 0) {
      single.push(await window(one, inFlight));
      batch.push(await window(batched, inFlight));
    } else {
      batch.push(await window(batched, inFlight));
      single.push(await window(one, inFlight));
    }
  }
  const s = summary(single);
  const b = summary(batch);
  lines.push(
    `| ${inFlight} | ${Math.round(s.rps)} / ${Math.round(b.rps)} | ×${(b.rps / s.rps).toFixed(2)} | ${s.main.toFixed(1)} / ${b.main.toFixed(1)} | ${s.all.toFixed(1)} / ${b.all.toFixed(1)} | ${s.messages.toFixed(2)} / ${b.messages.toFixed(2)} |`,
  );
}
await worker.terminate();
console.log(
  [
    `date: ${new Date().toISOString()}; node ${process.version}; ${os.cpus().length} CPUs; load average (1 min) ${Math.min(...load).toFixed(1)}–${Math.max(...load).toFixed(1)}; ${ROUNDS} alternating windows of ${WINDOW_MS} ms, medians`,
    '',
    '| in flight | round trips/s one / batched | batched ÷ one | CPU µs per round trip, main thread, one / batched | all threads, one / batched | messages per round trip, one / batched |',
    '| ---: | --- | ---: | --- | --- | --- |',
    ...lines,
  ].join('\n'),
);
