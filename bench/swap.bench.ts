/**
 * Hot swap under load, side by side with the new version's cold start, in one run. Per round: the cold
 * start of v2 on a gateway of its own (load + boot + first answer); then, on a gateway serving v1 to 16
 * concurrent in-process callers, `swap()` to v2 — its duration (call to the previous version's threads
 * ended), the new version's start within it, and the requests that failed meanwhile (goal: 0; swap
 * <= 2x the cold start). Medians over BENCH_ROUNDS (default 5) rounds. Runs the TypeScript sources;
 * plugins import the SDK from dist/ (`node scripts/ensure-dist.mjs` first).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { PluginGateway, type SwapEvent } from '../src/index.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CALLERS = 16;
const root = path.join(import.meta.dirname, '.swap-plugins', String(process.pid));

function version(v: string): string {
  const dir = path.join(root, v);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'plugin.yaml'),
    `name: swapbench\nversion: ${v}\nendpoints:\n  - path: /b/ping\n    method: GET\n`,
  );
  writeFileSync(
    path.join(dir, 'index.js'),
    `import { definePlugin } from '@veza/plugin-gateway/sdk';\nexport default definePlugin({ routes: { 'GET /b/ping': () => ({ statusCode: 200, body: { v: '${v}' } }) } });\n`,
  );
  return dir;
}

const median = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

const v1 = version('1.0.0');
const v2 = version('2.0.0');
const cold: number[] = [];
const swap: number[] = [];
const start: number[] = [];
let failed = 0;
let during = 0;
try {
  for (let round = 0; round < ROUNDS; round++) {
    const alone = new PluginGateway({ logger: false });
    await alone.start();
    const t0 = performance.now();
    await alone.load(v2);
    await alone.handle({ method: 'GET', path: '/b/ping' });
    cold.push(performance.now() - t0);
    await alone.stop();

    const gateway = new PluginGateway({ logger: false });
    await gateway.load(v1);
    await gateway.start();
    let running = true;
    let counting = false;
    const loops = Array.from({ length: CALLERS }, async () => {
      while (running) {
        const res = await gateway.handle({ method: 'GET', path: '/b/ping' });
        if (counting) {
          during++;
          if (res.statusCode !== 200) failed++;
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    let event: SwapEvent | undefined;
    gateway.once('plugin:swap', (e) => (event = e));
    counting = true;
    const t1 = performance.now();
    await gateway.swap('swapbench', v2);
    swap.push(performance.now() - t1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    counting = false;
    running = false;
    await Promise.all(loops);
    start.push(event!.startMs);
    await gateway.stop();
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
const c = median(cold);
const s = median(swap);
console.log(
  '| cold start of v2 ms | swap v1→v2 under load ms | of which v2 start ms | swap / cold start | requests during swaps | failed |',
);
console.log('| --- | --- | --- | --- | --- | --- |');
console.log(
  `| ${c.toFixed(0)} | ${s.toFixed(0)} | ${median(start).toFixed(0)} | ${(s / c).toFixed(2)} | ${during} | ${failed} |`,
);
