/**
 * What a malicious plugin's files can do to the host through the code check `start()` makes of a lazy
 * plugin (`src/loader/code-check/`).
 *
 * - A parser bomb (a module of dense literals, which acorn takes seconds and tens of times its text in
 *   memory to parse) used to hold the host's event loop all that time: the check now parses in a
 *   thread of its own, at a lower priority on Linux, so the host serves meanwhile and its heap does
 *   not hold the trees; a broken bomb still fails with PGW_ERR_PLUGIN_CODE at file, line and column.
 * - Files that would block or never end a read (a link to /dev/zero as a module or a package.json)
 *   are refused without being read; nesting past the parser's stack is left to the boot.
 * (The budget of source parsed per plugin is `code-check-budget.test.ts`.)
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { isPluginCodeError, PluginGateway, type PluginCodeError } from '../../src/index.js';

// Inside the repository (its package.json says "type": "module"), where plugins resolve
// `@veza/plugin-gateway/sdk` as an installed one would.
const scratch = mkdtempSync(path.join(import.meta.dirname, '..', '.code-check-attacks-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** About 1 MiB of dense array literal: seconds of parsing, ~40 MB of tree. */
const DENSE = `export const bomb = [${'0,'.repeat(512 * 1024)}0];\n`;

function pluginDir(name: string, code: string): string {
  const dir = path.join(scratch, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'plugin.yaml'),
    `name: ${name}\nversion: 1.0.0\nendpoints:\n  - { method: GET, path: /${name} }\n`,
  );
  writeFileSync(path.join(dir, 'index.js'), code);
  return dir;
}

const SDK = "import { definePlugin } from '@veza/plugin-gateway/sdk';\n";

const serving = (name: string) =>
  `export default { routes: { 'GET /${name}': () => ({ statusCode: 200, body: '${name}' }) } };\n`;

/** A thread's /proc stat fields from the third on (state), past its name. */
function threadStat(tid: number | string): string[] {
  const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** CPU seconds of the host's main thread (its task in /proc: the thread whose id is the pid). */
function mainThreadCpu(): number {
  const fields = threadStat(process.pid);
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ)
}

/** The nice values of the process's threads other than the main one. */
function otherThreadsNice(): number[] {
  return readdirSync('/proc/self/task')
    .filter((tid) => tid !== String(process.pid))
    .flatMap((tid) => {
      try {
        return [Number(threadStat(tid)[16])];
      } catch {
        return []; // ended meanwhile
      }
    });
}

/** The error `load()` throws for `dir` into a started gateway (nothing left loaded). */
async function loadError(dir: string): Promise<PluginCodeError> {
  const gateway = new PluginGateway({ logger: false });
  await gateway.start();
  try {
    const error = await gateway.load(dir).catch((e: unknown) => e);
    expect(isPluginCodeError(error), String(error)).toBe(true);
    expect(gateway.list()).toEqual([]);
    return error as PluginCodeError;
  } finally {
    await gateway.stop();
  }
}

describe('the start() code check against a parser bomb', () => {
  let gateway: PluginGateway | undefined;
  afterEach(async () => {
    await gateway?.stop();
    gateway = undefined;
  });

  it('parses off the host thread: the host serves while the check runs, and its heap stays small', async () => {
    gateway = new PluginGateway({ logger: false });
    await gateway.load(pluginDir('steady', serving('steady')), { warm: true });
    for (let i = 0; i < 3; i++) {
      await gateway.load(pluginDir(`bomb${i}`, `${DENSE}${serving(`bomb${i}`)}`));
    }
    let answeredDuringStart = 0;
    let startDone = false;
    gateway.on('plugin:status', (info) => {
      if (info.name !== 'steady' || info.status !== 'active') return;
      void gateway!.handle({ method: 'GET', path: '/steady', headers: {} }).then((res) => {
        if (res.statusCode === 200 && !startDone) answeredDuringStart++;
      });
    });
    const heapBefore = process.memoryUsage().heapUsed;
    const mainBefore = mainThreadCpu();
    const processBefore = process.cpuUsage();
    const niceSeen = new Set<number>();
    const watch = setInterval(() => otherThreadsNice().forEach((n) => niceSeen.add(n)), 20);
    const infos = await gateway.start();
    startDone = true;
    clearInterval(watch);
    const processCpu = (() => {
      const used = process.cpuUsage(processBefore);
      return (used.user + used.system) / 1e6;
    })();
    const mainCpu = mainThreadCpu() - mainBefore;
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore;

    expect(infos.map((i) => [i.name, i.status])).toEqual([
      ['steady', 'active'],
      ['bomb0', 'active'],
      ['bomb1', 'active'],
      ['bomb2', 'active'],
    ]);
    // The steady plugin answered before the three bombs' checks were over.
    expect(answeredDuringStart).toBe(1);
    // The parsing spent its CPU in the check's thread, not on the host's.
    expect(mainCpu * 2, `main ${mainCpu}s of ${processCpu}s`).toBeLessThan(processCpu);
    // On Linux the check's thread yields the CPU to the host's (nice 19); the main thread keeps its own.
    expect([...niceSeen]).toContain(19);
    expect(Number(threadStat(process.pid)[16])).toBe(0);
    // The trees (~40 MB a bomb) were built in the check's heap.
    expect(heapGrowth).toBeLessThan(30 * 1024 * 1024);
  }, 180_000);

  it('still fails a broken bomb with PGW_ERR_PLUGIN_CODE at its file, line and column', async () => {
    gateway = new PluginGateway({ logger: false });
    await gateway.start();
    const dir = pluginDir('broken-bomb', `${DENSE}export default { routes: { 'GET /x': ( } };\n`);
    const file = path.join(dir, 'index.js');
    const error = await gateway.load(dir).catch((e: unknown) => e);
    // Found in the check's thread, thrown on the host as its own class, location and hint included.
    expect(error).toMatchObject({
      code: 'PGW_ERR_PLUGIN_CODE',
      plugin: 'broken-bomb',
      location: { file, line: 2, column: 40 },
      hint: 'fix the syntax at that line',
      message: expect.stringContaining(`${file}:2:40: SyntaxError: Unexpected token '}'`),
    });
    expect(isPluginCodeError(error)).toBe(true);
    expect(gateway.list()).toEqual([]);
  }, 180_000);
});

describe('the start() code check against files that never end, and nesting past its stack', () => {
  let gateway: PluginGateway | undefined;
  afterEach(async () => {
    await gateway?.stop();
    gateway = undefined;
  });

  it('an import of a link to /dev/zero is refused without being read', async () => {
    const zero = pluginDir(
      'zero-import',
      `${SDK}import './zero.js';\nexport default definePlugin({ routes: {} });\n`,
    );
    execFileSync('ln', ['-s', '/dev/zero', path.join(zero, 'zero.js')]);
    const error = await loadError(zero);
    expect(error.message).toContain('cannot find module "zero.js"');
    // A package whose package.json the resolver would read whole: refused before it is read.
    const pkg = pluginDir(
      'zero-package',
      `${SDK}import evil from 'evil';\nexport default definePlugin({ routes: {} });\n`,
    );
    execFileSync('mkdir', ['-p', path.join(pkg, 'node_modules', 'evil')]);
    execFileSync('ln', ['-s', '/dev/zero', path.join(pkg, 'node_modules', 'evil', 'package.json')]);
    const refused = await loadError(pkg);
    expect(refused.message).toContain('node_modules/evil/package.json is not a regular file');
    expect(refused.location).toMatchObject({ line: 2, column: 18 });
  });

  it("nesting deeper than the parser's stack is left to the boot, never a host crash", async () => {
    const dir = pluginDir(
      'deep-nesting',
      `${SDK}export const x = ${'['.repeat(100_000)}${']'.repeat(100_000)};\nexport default definePlugin({ routes: {} });\n`,
    );
    gateway = new PluginGateway({ logger: false });
    await gateway.load(dir);
    await gateway.start();
    const info = gateway.get('deep-nesting')!;
    expect(info.reason).toBeUndefined();
    expect(info.status).toBe('active');
    const res = await gateway!.handle({ method: 'GET', path: '/deep-nesting', headers: {} });
    expect(res.statusCode).toBe(503);
    expect(gateway!.get('deep-nesting')?.status).toBe('failed');
  });
});
