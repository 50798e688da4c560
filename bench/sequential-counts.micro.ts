/**
 * What one sequential request costs the host's main thread, counted rather than timed (counts do not
 * move with the machine's load): promises made (async_hooks `init`), clock reads (`performance.now()`
 * and `Date.now()`, ~150 ns each on this project's VM) and bytes allocated on the main thread's heap
 * (`used_heap_size` across 200 requests with no GC in between, median of 40 such runs), for
 * `gateway.handle()` of the bench's echo and for a bare Piscina pool tuned like the gateway's.
 *
 *   npm run build && npx tsx bench/sequential-counts.micro.ts
 */
import path from 'node:path';
import v8 from 'node:v8';
import { createHook } from 'node:async_hooks';
import { PerformanceObserver } from 'node:perf_hooks';
import { Piscina } from 'piscina';
import { PluginGateway } from '../dist/index.js';

const here = import.meta.dirname;
const body = {
  userId: 456,
  trackIds: [101, 202, 303, 404],
  context: { device: 'web', locale: 'fr-FR' },
};
const headers = { 'content-type': 'application/json' };

async function variant(name: 'gateway' | 'piscina-tuned') {
  if (name === 'piscina-tuned') {
    const pool = new Piscina({
      filename: path.join(here, 'echo-worker.js'),
      minThreads: 1,
      maxThreads: 1,
      atomics: 'disabled',
      concurrentTasksPerWorker: 16,
      idleTimeout: 30_000,
      recordTiming: false,
    });
    const task = { id: 'r1', method: 'POST', path: '/echo', headers, body, userId: 456 };
    return { call: () => pool.run(task), close: () => pool.destroy() };
  }
  const gateway = new PluginGateway({ logger: false });
  await gateway.load(path.join(here, 'plugins/echo'));
  await gateway.start();
  const request = { method: 'POST', path: '/echo', headers, body, userId: 456 };
  return { call: () => gateway.handle(request), close: () => gateway.stop() };
}

async function count(call: () => Promise<unknown>) {
  for (let i = 0; i < 20_000; i++) await call();
  let promises = 0;
  const hook = createHook({
    init(_id, type) {
      if (type === 'PROMISE') promises++;
    },
  });
  hook.enable();
  for (let i = 0; i < 1000; i++) await call();
  hook.disable();

  let clocks = 0;
  const performanceNow = performance.now;
  const dateNow = Date.now;
  performance.now = function (this: typeof performance) {
    clocks++;
    return performanceNow.call(this);
  };
  Date.now = () => (clocks++, dateNow());
  try {
    for (let i = 0; i < 1000; i++) await call();
  } finally {
    performance.now = performanceNow;
    Date.now = dateNow;
  }

  let collections = 0;
  const gc = new PerformanceObserver((list) => (collections += list.getEntries().length));
  gc.observe({ entryTypes: ['gc'] });
  const bytes: number[] = [];
  for (let run = 0; run < 40; run++) {
    const before = collections;
    const used = v8.getHeapStatistics().used_heap_size;
    for (let i = 0; i < 200; i++) await call();
    const grown = v8.getHeapStatistics().used_heap_size - used;
    await new Promise(setImmediate); // the observer reports a collection asynchronously
    if (collections === before && grown > 0) bytes.push(grown / 200);
  }
  gc.disconnect();
  bytes.sort((a, b) => a - b);
  return {
    promises: promises / 1000,
    clockReads: clocks / 1000,
    heapBytes: Math.round(bytes[bytes.length >> 1] ?? NaN),
  };
}

const rows: string[] = [];
for (const name of ['piscina-tuned', 'gateway'] as const) {
  const { call, close } = await variant(name);
  const c = await count(call);
  await close();
  rows.push(`| ${name} | ${c.promises.toFixed(1)} | ${c.clockReads.toFixed(1)} | ${c.heapBytes} |`);
}
console.log(
  [
    `date: ${new Date().toISOString()}; node ${process.version}; per sequential request, main thread`,
    '',
    '| variant | promises | clock reads | heap bytes allocated |',
    '| --- | ---: | ---: | ---: |',
    ...rows,
  ].join('\n'),
);
