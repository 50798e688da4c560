/**
 * `npm run soak`: steady mixed load on one gateway for `SOAK_SECONDS` (600 by default) — GETs and
 * POSTs to the `chaos` fixture and GETs to `steady`, over real HTTP on 127.0.0.1 from 16 concurrent
 * callers — sampling the process's RSS, V8 heap and active handles (`process.getActiveResourcesInfo()`)
 * every `SOAK_SAMPLE_SECONDS` (5). Prints every sample, then the least-squares slope of each over the run
 * (the first 10 % left out as warm-up) and the error count: requests not answered 2xx, or not at all.
 * `SOAK_JSON=file` writes the figures as JSON too.
 */
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import type { AddressInfo } from 'node:net';
import { createRequestListener } from '../src/adapters/node.js';
import { PluginGateway } from '../src/index.js';
import { startLoad } from '../test/chaos/load.js';
import { fixture } from '../test/helpers.js';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 600);
const SAMPLE_SECONDS = Number(process.env.SOAK_SAMPLE_SECONDS ?? 5);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Sample {
  t: number;
  rssMiB: number;
  heapMiB: number;
  handles: number;
}

/** Least-squares slope of `y` over `x`. */
function slope(points: readonly [number, number][]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

// A count, not a map of ids: the soak measures the gateway's memory, not its own. With no faults, every
// POST answered 201 ran once: executions above that count ran twice.
let executions = 0;
const gateway = new PluginGateway({ logger: false });
gateway.provide('ledger', '1.0.0', () => {
  executions++;
  return { statusCode: 200 };
});
await gateway.load(fixture('chaos'));
await gateway.load(fixture('steady'));
await gateway.start();
const server = http.createServer(createRequestListener(gateway));
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

const load = startLoad({
  base,
  get: (n) => `/chaos/items/${n}`,
  post: () => '/chaos/orders',
  bystander: (n) => `/steady/${n}`,
  callers: 8,
});
const samples: Sample[] = [];
const started = performance.now();
console.log(
  `soak: ${SECONDS} s, a sample every ${SAMPLE_SECONDS} s (node ${process.version}, ${os.cpus().length} cpus)`,
);
console.log('   t (s)   RSS (MiB)   heap (MiB)   handles');
while (performance.now() - started < SECONDS * 1000) {
  await sleep(SAMPLE_SECONDS * 1000);
  const memory = process.memoryUsage();
  const sample: Sample = {
    t: Math.round((performance.now() - started) / 1000),
    rssMiB: memory.rss / 2 ** 20,
    heapMiB: memory.heapUsed / 2 ** 20,
    handles: process.getActiveResourcesInfo().length,
  };
  samples.push(sample);
  console.log(
    `${String(sample.t).padStart(8)} ${sample.rssMiB.toFixed(1).padStart(11)} ${sample.heapMiB.toFixed(1).padStart(12)} ${String(sample.handles).padStart(9)}`,
  );
}
const report = await load.stop();
await new Promise((r) => server.close(r));
await gateway.stop();

const steady = samples.slice(Math.floor(samples.length / 10));
const perMinute = (pick: (s: Sample) => number) =>
  slope(steady.map((s) => [s.t / 60, pick(s)] as [number, number]));
const requests = report.get.sent + report.post.sent + report.bystander.sent;
const errors =
  report.get.failed +
  report.get.lost +
  report.post.failed +
  report.post.lost +
  report.bystander.failed +
  report.bystander.lost;
const twice = executions - (report.post.statuses['201'] ?? 0);
const figures = {
  seconds: SECONDS,
  requests,
  perSecond: Math.round(requests / SECONDS),
  errors,
  postsExecutedTwice: twice,
  rssSlopeMiBPerMin: Number(perMinute((s) => s.rssMiB).toFixed(3)),
  heapSlopeMiBPerMin: Number(perMinute((s) => s.heapMiB).toFixed(3)),
  handleSlopePerMin: Number(perMinute((s) => s.handles).toFixed(3)),
  rssFirstLastMiB: [steady[0]?.rssMiB.toFixed(1), steady.at(-1)?.rssMiB.toFixed(1)],
  handlesFirstLast: [steady[0]?.handles, steady.at(-1)?.handles],
  statuses: {
    get: report.get.statuses,
    post: report.post.statuses,
    bystander: report.bystander.statuses,
  },
};
console.log(JSON.stringify(figures, null, 2));
if (process.env.SOAK_JSON)
  writeFileSync(process.env.SOAK_JSON, JSON.stringify({ figures, samples }, null, 2));
process.exitCode = errors === 0 && twice === 0 ? 0 : 1;
