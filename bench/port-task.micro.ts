/**
 * Issue 24, sequential goal, the lever ADR 0355 named: what Piscina's per-task plumbing costs one
 * request in flight. One Piscina pool tuned like the gateway's (one thread), the same echo reached two
 * ways on that same thread, alternated in windows in one process: a task by `pool.run()`, answered
 * through Piscina; and a message on the thread's own parent port (`worker.postMessage`), answered on
 * it. Per window: p50 of a plain `await` loop, CPU per request (main thread and all threads, from
 * /proc schedstat) and voluntary context switches per request. Medians over windows.
 *
 *   npx tsx bench/port-task.micro.ts [rounds]
 */
import os from 'node:os';
import path from 'node:path';
import { Piscina } from 'piscina';
import { threadCpu, threadSleeps } from './thread-cpu.js';

const here = import.meta.dirname;
const rounds = Number(process.argv[2] ?? 10);
const PER_WINDOW = 5_000;
const body = {
  userId: 456,
  trackIds: [101, 202, 303, 404],
  context: { device: 'web', locale: 'fr-FR' },
};
const task = {
  id: 'r1',
  method: 'POST',
  path: '/echo',
  headers: { 'content-type': 'application/json' },
  body,
  userId: 456,
};

const pool = new Piscina({
  filename: path.join(here, 'port-task-worker.js'),
  minThreads: 1,
  maxThreads: 1,
  atomics: 'disabled',
  concurrentTasksPerWorker: 16,
  idleTimeout: 30_000,
});
await pool.run(task);
const worker = pool.threads[0]!;
// Piscina unrefs a thread it holds no task for: a task on the port must keep the loop alive itself.
worker.ref();
let waiting: ((r: unknown) => void) | undefined;
let seq = 0;
worker.on('message', (m: { t?: string; id?: number; r?: unknown }) => {
  if (m?.t !== 'port' || m.id !== seq) return;
  const resolve = waiting!;
  waiting = undefined;
  resolve(m.r);
});
const byPort = (): Promise<unknown> =>
  new Promise((resolve) => {
    waiting = resolve;
    worker.postMessage({ t: 'port', id: ++seq, task });
  });
const byRun = (): Promise<unknown> => pool.run(task);

interface Window {
  p50: number;
  cpuMain: number;
  cpuAll: number;
  sleeps: number;
}

async function window(call: () => Promise<unknown>, n: number): Promise<Window> {
  const times = new Float64Array(n);
  const cpu0 = threadCpu();
  const sleeps0 = threadSleeps();
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await call();
    times[i] = performance.now() - t0;
  }
  const cpu1 = threadCpu();
  const sleeps1 = threadSleeps();
  times.sort();
  return {
    p50: times[n >> 1]! * 1000,
    cpuMain: (cpu1.main - cpu0.main) / n,
    cpuAll: (cpu1.all - cpu0.all) / n,
    sleeps: (sleeps1 - sleeps0) / n,
  };
}

const variants = { run: byRun, port: byPort } as const;
const results: Record<keyof typeof variants, Window[]> = { run: [], port: [] };
for (const call of Object.values(variants)) await window(call, 20_000);
const load: number[] = [];
for (let r = 0; r < rounds; r++) {
  const order = (r % 2 === 0 ? ['run', 'port'] : ['port', 'run']) as (keyof typeof variants)[];
  for (const name of order) results[name].push(await window(variants[name], PER_WINDOW));
  load.push(os.loadavg()[0]!);
}
await pool.destroy();

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
};
const row = (name: keyof typeof variants) => {
  const w = results[name];
  const f = (k: keyof Window, d = 1) => median(w.map((x) => x[k])).toFixed(d);
  return `| ${name.padEnd(5)} | ${f('p50')} | ${f('cpuMain')} | ${f('cpuAll')} | ${f('sleeps', 2)} |`;
};
console.log(
  `${rounds} rounds of ${PER_WINDOW} sequential requests a variant, alternated; load average ${Math.min(...load).toFixed(1)}–${Math.max(...load).toFixed(1)}`,
);
console.log('| path  | p50 µs | CPU µs/req main | CPU µs/req all | sleeps/req |');
console.log('| ----- | -----: | --------------: | -------------: | ---------: |');
console.log(row('run'));
console.log(row('port'));
