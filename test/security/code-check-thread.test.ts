/**
 * A lazy plugin's code check parses its source in a thread of its own (`check-thread.ts`), never on
 * the host's: a parser bomb — a module of dense literals, which acorn takes seconds and tens of times
 * its text in memory to parse — used to hold the host's event loop for all that time. Now the host
 * serves while the check runs, its heap does not hold the trees, and the check still fails a broken
 * plugin with PGW_ERR_PLUGIN_CODE at file, line and column.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { isPluginCodeError, PluginGateway } from '../../src/index.js';

const scratch = mkdtempSync(path.join(import.meta.dirname, '..', '.code-check-thread-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** About 1 MiB of dense array literal: seconds of parsing, ~40 MB of tree. */
const DENSE = `export const bomb = [${'0,'.repeat(512 * 1024)}0];\n`;

function pluginDir(name: string, code: string): string {
  const dir = path.join(scratch, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'package.json'), '{"type":"module"}');
  writeFileSync(
    path.join(dir, 'plugin.yaml'),
    `name: ${name}\nversion: 1.0.0\nendpoints:\n  - { method: GET, path: /${name} }\n`,
  );
  writeFileSync(path.join(dir, 'index.js'), code);
  return dir;
}

const serving = (name: string) =>
  `export default { routes: { 'GET /${name}': () => ({ statusCode: 200, body: '${name}' }) } };\n`;

/** CPU seconds of the host's main thread (its task in /proc: the thread whose id is the pid). */
function mainThreadCpu(): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ)
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
    const infos = await gateway.start();
    startDone = true;
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
