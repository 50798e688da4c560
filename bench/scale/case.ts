/**
 * One case of `npm run bench:scale` in a process of its own: N generated plugins × 5 routes loaded into
 * one gateway (the built package), started warm or lazy; prints the figures as one line of JSON.
 * Driven by bench/scale.bench.ts. Run with `--expose-gc` so that the idle figures are after a collection.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PluginGateway } from '../../dist/index.js';

const N = Number(process.env.SCALE_N ?? 100);
const WARM = process.env.SCALE_WARM === '1';
/** Plugins woken one after the other for the wake latency. */
const WAKES = Math.min(N, Number(process.env.SCALE_WAKES ?? 20));
/** Plugins served a request each, then kept active, for the per-active-plugin RSS. */
const ACTIVE = Math.min(N, Number(process.env.SCALE_ACTIVE ?? 20));
const LOOKUPS = 20_000;
const REQUESTS = 2000;

/** Where the case is, on stderr: a case that dies says how far it got. */
const stage = (what: string) => process.stderr.write(`[n=${N}] ${what}\n`);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const mib = (bytes: number) => +(bytes / 2 ** 20).toFixed(1);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;

/** N plugin folders: 5 routes each (2 static, 3 with a parameter), a trivial handler. */
function generate(root: string): string[] {
  const dirs: string[] = [];
  for (let i = 0; i < N; i++) {
    const name = `p${i}`;
    const dir = path.join(root, name);
    mkdirSync(dir);
    const routes = [
      ['GET', `/${name}/status`],
      ['POST', `/${name}/items`],
      ['GET', `/${name}/items/{id}`],
      ['PUT', `/${name}/items/{id}`],
      ['DELETE', `/${name}/items/{id}`],
    ];
    writeFileSync(
      path.join(dir, 'plugin.yaml'),
      `name: ${name}\nversion: 1.0.0\nmain: index.js\nresources:\n  cpu: 1\n  memory: 64\nendpoints:\n` +
        routes.map(([m, p]) => `  - path: ${p}\n    method: ${m}\n`).join(''),
    );
    writeFileSync(
      path.join(dir, 'index.js'),
      `export default { routes: {\n${routes
        .map(([m, p]) => `  '${m} ${p}': (req) => ({ statusCode: 200, body: { ok: ${i} } }),`)
        .join('\n')}\n} };\n`,
    );
    dirs.push(dir);
  }
  return dirs;
}

const silent = { debug() {}, info() {}, warn() {}, error() {}, isLevelEnabled: () => false };
const root = mkdtempSync(path.join(os.tmpdir(), 'pgw-scale-'));
try {
  const dirs = generate(root);
  gc();
  const base = process.memoryUsage();
  const gateway = new PluginGateway({
    maxPlugins: N,
    warm: WARM,
    logger: silent as never,
    idleTimeout: '10m',
  });
  stage('load');
  let t = performance.now();
  for (const dir of dirs) await gateway.load(dir);
  const loadMs = performance.now() - t;
  gc();
  const loaded = process.memoryUsage();
  let boots = 0;
  gateway.on('plugin:boot', () => boots++);
  stage('start');
  t = performance.now();
  await gateway.start();
  const startMs = performance.now() - t;
  const peakAfterStart = process.resourceUsage().maxRSS * 1024;
  gc();
  const started = process.memoryUsage();
  const notActive = gateway.list().filter((p) => p.status !== 'active').length;

  stage('lookups');
  // 404 and route lookup (a 405 walks the router for every method): no thread involved.
  t = performance.now();
  for (let k = 0; k < LOOKUPS; k++) await gateway.handle({ method: 'GET', path: '/none/here' });
  const notFoundUs = ((performance.now() - t) / LOOKUPS) * 1000;
  t = performance.now();
  for (let k = 0; k < LOOKUPS; k++)
    await gateway.handle({ method: 'PATCH', path: `/p${k % N}/items/7` });
  const lookupUs = ((performance.now() - t) / LOOKUPS) * 1000;

  stage('wakes');
  // Wake latency: the first request to a plugin with no thread (lazy: boot + initialize + request).
  const wakes: number[] = [];
  for (let k = 0; k < WAKES; k++) {
    const name = `p${Math.floor((k * N) / WAKES)}`;
    t = performance.now();
    const r = await gateway.handle({ method: 'GET', path: `/${name}/status` });
    if (r.statusCode !== 200) throw new Error(`wake ${name}: ${r.statusCode}`);
    wakes.push(performance.now() - t);
  }
  stage('active');
  // Per active plugin: more plugins served once each and kept (idleTimeout 10m).
  gc();
  const beforeActive = process.memoryUsage().rss;
  for (let k = 0; k < ACTIVE; k++) {
    const name = `p${N - 1 - Math.floor((k * N) / ACTIVE)}`;
    await gateway.handle({ method: 'GET', path: `/${name}/status` });
  }
  await new Promise((r) => setTimeout(r, 500));
  gc();
  const afterActive = process.memoryUsage().rss;
  stage('requests');
  // Request cost to an active plugin.
  const lat: number[] = [];
  for (let k = 0; k < REQUESTS; k++) {
    t = performance.now();
    await gateway.handle({ method: 'GET', path: '/p0/items/9' });
    lat.push(performance.now() - t);
  }
  const threads = gateway
    .list()
    .reduce((sum, p) => sum + (gateway.metrics(p.name)?.threads ?? 0), 0);
  stage('stop');
  await gateway.stop();
  console.log(
    JSON.stringify({
      n: N,
      warm: WARM,
      routes: N * 5,
      loadMs: Math.round(loadMs),
      loadMsPerPlugin: +(loadMs / N).toFixed(2),
      loadedHeapKiBPerPlugin: +((loaded.heapUsed - base.heapUsed) / 1024 / N).toFixed(1),
      loadedRssKiBPerPlugin: +((loaded.rss - base.rss) / 1024 / N).toFixed(1),
      startMs: Math.round(startMs),
      boots,
      notActive,
      peakRssMiB: mib(peakAfterStart),
      startedRssMiB: mib(started.rss),
      notFoundUs: +notFoundUs.toFixed(2),
      lookup405Us: +lookupUs.toFixed(2),
      wakeP50Ms: +median(wakes).toFixed(1),
      wakeMaxMs: +Math.max(...wakes).toFixed(1),
      rssMiBPerActive: +((afterActive - beforeActive) / 2 ** 20 / ACTIVE).toFixed(2),
      activeThreads: threads,
      requestP50Us: +(median(lat) * 1000).toFixed(0),
      finalRssMiB: mib(process.memoryUsage().rss),
      peakRssEndMiB: mib(process.resourceUsage().maxRSS * 1024),
    }),
  );
} finally {
  rmSync(root, { recursive: true, force: true });
}
