/**
 * One case of `npm run bench:lazy-start` in a process of its own: N generated lazy plugins (each
 * importing the SDK, with a module of its own) loaded into one gateway of the built package at
 * LAZY_PACKAGE (default: this checkout's), then `start()` timed while `perf_hooks`'
 * `monitorEventLoopDelay` watches the host's event loop. Prints one line of JSON.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import type * as Gateway from '../../src/index.js';

const N = Number(process.env.LAZY_N ?? 300);
/** KiB of a vendored module each plugin also imports (a bundled helper library), 0 for none. */
const VENDOR_KIB = Number(process.env.LAZY_VENDOR_KIB ?? 0);
const PACKAGE = path.resolve(process.env.LAZY_PACKAGE ?? path.join(import.meta.dirname, '../..'));
const { PluginGateway } = (await import(
  pathToFileURL(path.join(PACKAGE, 'dist/index.js')).href
)) as typeof Gateway;

/** N plugin folders: an entry that imports the SDK and a helper module, 3 routes each. */
function generate(root: string): string[] {
  const scope = path.join(root, 'node_modules', '@veza');
  mkdirSync(scope, { recursive: true });
  symlinkSync(PACKAGE, path.join(scope, 'plugin-gateway'));
  const dirs: string[] = [];
  for (let i = 0; i < N; i++) {
    const name = `p${i}`;
    const dir = path.join(root, name);
    mkdirSync(dir);
    const routes = [
      ['GET', `/${name}/items`],
      ['GET', `/${name}/items/{id}`],
      ['POST', `/${name}/items`],
    ];
    writeFileSync(path.join(dir, 'package.json'), '{"type":"module"}');
    writeFileSync(
      path.join(dir, 'plugin.yaml'),
      `name: ${name}\nversion: 1.0.0\nmain: index.js\nendpoints:\n` +
        routes.map(([m, p]) => `  - path: ${p}\n    method: ${m}\n`).join(''),
    );
    writeFileSync(
      path.join(dir, 'store.js'),
      `const items = new Map();\nexport function list() { return [...items.values()]; }\n` +
        `export function get(id) { return items.get(id); }\n` +
        `export function put(item) { items.set(String(item.id), item); return item; }\n`,
    );
    const vendor = VENDOR_KIB > 0 ? "import { helpers } from './vendor.js';\n" : '';
    if (VENDOR_KIB > 0) writeFileSync(path.join(dir, 'vendor.js'), vendorModule(i));
    writeFileSync(
      path.join(dir, 'index.js'),
      `import { definePlugin } from '@veza/plugin-gateway/sdk';\nimport { list, get, put } from './store.js';\n${vendor}` +
        `export default definePlugin({\n  routes: {\n` +
        `    '${routes[0]![0]} ${routes[0]![1]}': () => ({ statusCode: 200, body: list() }),\n` +
        `    '${routes[1]![0]} ${routes[1]![1]}': (req) => ({ statusCode: 200, body: get(req.params.id) ?? null }),\n` +
        `    '${routes[2]![0]} ${routes[2]![1]}': (req) => ({ statusCode: 201, body: put(req.body) }),\n` +
        `  },\n});\n`,
    );
    dirs.push(dir);
  }
  return dirs;
}

/** VENDOR_KIB of ordinary code: small functions with branches, loops, objects and strings. */
function vendorModule(seed: number): string {
  const parts: string[] = [];
  let size = 0;
  for (let f = 0; size < VENDOR_KIB * 1024; f++) {
    const fn =
      `function h${f}(input, options = {}) {\n  const out = [];\n` +
      `  for (const [key, value] of Object.entries(input ?? {})) {\n` +
      `    if (typeof value === 'string' && value.length > ${f % 17}) out.push({ key, value: value.trim() });\n` +
      `    else if (Array.isArray(value)) out.push(...value.map((v, i) => ({ key: key + i, value: v })));\n` +
      `    else out.push({ key, value: options.fallback ?? ${seed} });\n  }\n` +
      `  return out.filter((e) => e.key !== 'skip${f}');\n}\n`;
    parts.push(fn);
    size += fn.length;
  }
  return `${parts.join('')}export const helpers = [${parts.map((_, f) => `h${f}`).join(', ')}];\n`;
}

/** The event loop's delay percentiles over `ms` of doing nothing (the machine's own noise). */
async function idleDelay(ms: number) {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  await new Promise((resolve) => setTimeout(resolve, ms));
  delay.disable();
  return delay;
}

/** CPU ms of the host's main thread so far (/proc: the task whose id is the pid). */
function mainThreadCpuMs(): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, USER_HZ ticks
}

const silent = { debug() {}, info() {}, warn() {}, error() {}, isLevelEnabled: () => false };
const root = mkdtempSync(path.join(os.tmpdir(), 'pgw-lazy-start-'));
try {
  const dirs = generate(root);
  const gateway = new PluginGateway({ maxPlugins: N, logger: silent as never });
  for (const dir of dirs) await gateway.load(dir);
  const idle = await idleDelay(1000);
  const delay = monitorEventLoopDelay({ resolution: 1 });
  const cpu = process.cpuUsage();
  const mainCpu = mainThreadCpuMs();
  delay.enable();
  const t = performance.now();
  const infos = await gateway.start();
  const startMs = performance.now() - t;
  // The histogram records a block when its next timer fires: let it fire once more, else a block that
  // lasts until start() resolves (every check back to back) would go unrecorded.
  await new Promise((resolve) => setTimeout(resolve, 20));
  delay.disable();
  const used = process.cpuUsage(cpu);
  const mainUsed = mainThreadCpuMs() - mainCpu;
  const reasons = new Set(
    infos.filter((i) => i.status !== 'active').map((i) => `${i.status}: ${i.reason}`),
  );
  for (const reason of reasons) process.stderr.write(`not active: ${reason}\n`);
  const ms = (ns: number) => +(ns / 1e6).toFixed(2);
  console.log(
    JSON.stringify({
      n: N,
      vendorKiB: VENDOR_KIB,
      active: infos.filter((i) => i.status === 'active').length,
      startMs: Math.round(startMs),
      delayP50Ms: ms(delay.percentile(50)),
      delayP99Ms: ms(delay.percentile(99)),
      delayMaxMs: ms(delay.max),
      idleP99Ms: ms(idle.percentile(99)),
      cpuMsPerPlugin: +((used.user + used.system) / 1000 / N).toFixed(2),
      mainCpuMsPerPlugin: +(mainUsed / N).toFixed(2),
    }),
  );
  await gateway.stop();
} finally {
  rmSync(root, { recursive: true, force: true });
}
