import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  PluginGateway,
  type GatewayOptions,
  type RollbackEvent,
  type SwapEvent,
} from '../../src/index.js';
import { memoryLogger } from '../helpers.js';
import { steadyLoad, until, writeVersion } from '../swap-helpers.js';

/**
 * The edges of `gateway.swap()`, `rollback()`, `pin()` and `unpin()` the load tests of swap.test.ts
 * do not reach: what they refuse, a version that cannot even be read, a kept version that no longer
 * starts, swaps asked for at once, routes taken while the new version starts, and a plugin that is
 * `failed` with nothing to go back to.
 */
let gateway: PluginGateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

async function started(options: GatewayOptions = {}, v1 = writeVersion('1.0.0')) {
  gateway = new PluginGateway({ logger: false, ...options });
  await gateway.load(v1);
  await gateway.start();
  return gateway;
}

const ping = async (g: PluginGateway) => {
  const res = await g.handle({ method: 'GET', path: '/sw/ping' });
  return { status: res.statusCode, version: (res.body as { version?: string }).version };
};
const outcome = async (run: () => unknown): Promise<unknown> => {
  try {
    return await run();
  } catch (error) {
    return error;
  }
};
const history = (g: PluginGateway) => g.get('swapme')!.versions!.map((r) => [r.version, r.outcome]);

/** A file outside every version's folder, so that its code and hash stay the same. */
const scratchFile = (what: string) =>
  path.join(path.dirname(writeVersion('0.0.0')), `${what}-${Math.random()}`);

/** `initialize()` throws once `down()` was called (a store it needs is down). */
function storeSwitch() {
  const marker = scratchFile('store-down');
  return {
    init: `const { existsSync } = await import('node:fs'); if (existsSync(${JSON.stringify(marker)})) throw new Error('the store is down');`,
    down: () => writeFileSync(marker, ''),
  };
}

/** `initialize()` logs that it is waiting, and waits until `open()` is called. */
function gate(logger: { lines: { msg?: string }[] }) {
  const marker = scratchFile('gate');
  return {
    init: `console.log('waiting at the gate'); const { existsSync } = await import('node:fs'); while (!existsSync(${JSON.stringify(marker)})) await new Promise((r) => setTimeout(r, 10));`,
    waiting: () => logger.lines.some((l) => l.msg === 'waiting at the gate'),
    open: () => writeFileSync(marker, ''),
  };
}

describe('what swap(), rollback(), pin() and unpin() refuse', () => {
  it('refuse before start(), and for a plugin that is not loaded', async () => {
    gateway = new PluginGateway({ logger: false });
    const g = gateway;
    await g.load(writeVersion('1.0.0'));
    const v2 = writeVersion('2.0.0');
    const notStarted = {
      code: 'PGW_ERR_INVALID_ARGUMENT',
      message: expect.stringMatching(/need a started gateway/),
    };
    expect(await outcome(() => g.swap('swapme', v2))).toMatchObject(notStarted);
    expect(await outcome(() => g.rollback('swapme'))).toMatchObject(notStarted);
    expect(await outcome(() => g.pin('swapme', '1.0.0'))).toMatchObject(notStarted);
    expect(await outcome(() => g.unpin('swapme'))).toMatchObject(notStarted);
    await g.start();
    const missing = {
      code: 'PGW_ERR_PLUGIN_NOT_FOUND',
      message: 'no plugin named "nope" is loaded',
      plugin: 'nope',
    };
    expect(await outcome(() => g.swap('nope', v2))).toMatchObject(missing);
    expect(await outcome(() => g.rollback('nope'))).toMatchObject(missing);
    expect(await outcome(() => g.pin('nope', '1.0.0'))).toMatchObject(missing);
    expect(await outcome(() => g.unpin('nope'))).toMatchObject(missing);
    expect(await ping(g)).toEqual({ status: 200, version: '1.0.0' });
  });

  it('refuse a source that is neither a folder nor a kept version, changing nothing', async () => {
    const g = await started();
    const sources: unknown[] = ['', null, 42, {}, { version: 2 }];
    for (const source of sources) {
      expect(
        await outcome(() => g.swap('swapme', source as string)),
        JSON.stringify(source),
      ).toMatchObject({
        code: 'PGW_ERR_INVALID_ARGUMENT',
        // A RegExp inside toMatchObject matches anything: expect.stringMatching does not.
        message: expect.stringMatching(/as a folder path or \{ version \}/),
      });
    }
    expect(await outcome(() => g.swap('swapme', { version: '9.9.9' }))).toMatchObject({
      code: 'PGW_ERR_VERSION_NOT_FOUND',
      message: 'plugin "swapme" has no kept version 9.9.9',
      plugin: 'swapme',
    });
    expect(await outcome(() => g.rollback('swapme'))).toMatchObject({
      code: 'PGW_ERR_VERSION_NOT_FOUND',
      message: 'plugin "swapme" has no earlier good version to go back to',
    });
    expect(await ping(g)).toEqual({ status: 200, version: '1.0.0' });
    expect(history(g)).toEqual([['1.0.0', 'serving']]);
  });
});

describe('a new version that cannot serve', () => {
  it('a folder with no plugin in it is given up at load, naming no version', async () => {
    const g = await started();
    const rollbacks: RollbackEvent[] = [];
    g.on('plugin:rollback', (e) => rollbacks.push(e));
    const empty = path.join(path.dirname(writeVersion('0.0.0')), `empty-${Math.random()}`);
    mkdirSync(empty);
    const error = await outcome(() => g.swap('swapme', empty));
    expect(error).toMatchObject({ code: 'PGW_ERR_SWAP_FAILED', reason: 'load' });
    expect((error as { version?: string }).version).toBeUndefined();
    expect((error as Error).message).toMatch(
      /^plugin "swapme": swap to a new version given up \(load\): .+; 1\.0\.0 serves on$/,
    );
    expect(rollbacks).toMatchObject([{ from: 'a new version', to: '1.0.0', reason: 'load' }]);
    expect(await ping(g)).toEqual({ status: 200, version: '1.0.0' });
    expect(history(g)).toEqual([['1.0.0', 'serving']]);
  });

  it('a kept version that no longer starts: the rollback is given up and the version serving serves on', async () => {
    const store = storeSwitch();
    const g = await started({}, writeVersion('1.0.0', { init: store.init }));
    await g.swap('swapme', writeVersion('2.0.0'));
    const rollbacks: RollbackEvent[] = [];
    g.on('plugin:rollback', (e) => rollbacks.push(e));
    store.down();
    const error = await outcome(() => g.rollback('swapme'));
    expect(error).toMatchObject({
      code: 'PGW_ERR_SWAP_FAILED',
      reason: 'start',
      version: '1.0.0',
    });
    expect((error as Error).message).toMatch(
      /^plugin "swapme": rollback to 1\.0\.0 given up \(start\): .*the store is down.*; 2\.0\.0 serves on$/s,
    );
    expect(rollbacks).toMatchObject([{ from: '1.0.0', to: '2.0.0', reason: 'start' }]);
    expect(await ping(g)).toEqual({ status: 200, version: '2.0.0' });
    expect(history(g)).toEqual([
      ['1.0.0', 'replaced'],
      ['2.0.0', 'serving'],
      ['1.0.0', 'failed'],
    ]);
  });

  it('a version that fails to start after its plugin was unloaded still fails with a typed error', async () => {
    const logger = memoryLogger();
    const g = await started({ logger });
    const starting = gate(logger);
    const v2 = writeVersion('2.0.0', { init: `${starting.init} throw new Error('no store');` });
    const swapping = outcome(() => g.swap('swapme', v2));
    await until(starting.waiting, 'v2 to be starting');
    await g.unload('swapme');
    starting.open();
    expect(await swapping).toMatchObject({ code: 'PGW_ERR_SWAP_FAILED', reason: 'start' });
    expect(g.get('swapme')).toBeUndefined();
  });

  it('routes another plugin took while the new version started: given up at the switch', async () => {
    const logger = memoryLogger();
    const g = await started({ logger });
    const starting = gate(logger);
    const v2 = writeVersion('2.0.0', { routes: ['GET /sw/new'], init: starting.init });
    const swapping = outcome(() => g.swap('swapme', v2));
    await until(starting.waiting, 'v2 to be starting');
    // v2 was checked against the routes before it started; the other plugin comes while it starts.
    await g.load(writeVersion('9.0.0', { routes: ['GET /sw/new'] }, 'other'));
    starting.open();
    expect(await swapping).toMatchObject({ code: 'PGW_ERR_ROUTE_CONFLICT' });
    expect(await ping(g)).toEqual({ status: 200, version: '1.0.0' });
    const taken = await g.handle({ method: 'GET', path: '/sw/new' });
    expect([taken.statusCode, taken.body]).toEqual([200, { version: '9.0.0' }]);
    expect(history(g)).toEqual([['1.0.0', 'serving']]);
  });
});

describe('routes taken during a canary', () => {
  it('the share the canary moved comes back to the version serving when the switch is refused', async () => {
    const g = await started();
    const ended: [string, string | undefined][] = [];
    g.on('plugin:status', (info) => {
      if (info.status === 'inactive') ended.push([info.version, info.reason]);
    });
    const swapping = outcome(() =>
      g.swap('swapme', writeVersion('2.0.0', { routes: ['GET /sw/new'] }), {
        // Latency is not what this test judges: a fresh thread on a busy host has a cold p99.
        canary: { share: 0.5, steps: 1, window: '5s', margin: { p99: 10_000 } },
      }),
    );
    // Asked one after another until v2 answers one: the canary has its share.
    for (let answered = ''; answered !== '2.0.0'; answered = (await ping(g)).version ?? '');
    await g.load(writeVersion('9.0.0', { routes: ['GET /sw/new'] }, 'other'));
    expect(await swapping).toMatchObject({ code: 'PGW_ERR_ROUTE_CONFLICT' });
    const after = await Promise.all(Array.from({ length: 20 }, () => ping(g)));
    expect(after).toEqual(Array(20).fill({ status: 200, version: '1.0.0' }));
    expect(ended).toEqual([['2.0.0', 'given up: its routes clash']]);
  });
});

describe('swaps asked for at once', () => {
  it('one asked while two are queued waits for both: it may name the version the second brings', async () => {
    const logger = memoryLogger();
    const g = await started({ logger });
    const starting = gate(logger);
    const first = g.swap('swapme', writeVersion('2.0.0'));
    const second = g.swap('swapme', writeVersion('3.0.0', { init: starting.init }));
    await first;
    // 3.0.0 is kept only once it took over: a swap to it that ran now would find no such version.
    const third = outcome(() => g.swap('swapme', { version: '3.0.0' }));
    starting.open();
    expect(await second).toMatchObject({ version: '3.0.0' });
    expect(await third).toMatchObject({ version: '3.0.0', status: 'active' });
  });

  it('run one after another, in the order asked, and one given up does not stop the next', async () => {
    const g = await started();
    const swaps: SwapEvent[] = [];
    g.on('plugin:swap', (e) => swaps.push(e));
    const slow = writeVersion('2.0.0', { init: 'await new Promise((r) => setTimeout(r, 300));' });
    const broken = writeVersion('3.0.0', { init: "throw new Error('broken');" });
    const results = await Promise.all([
      outcome(() => g.swap('swapme', slow)),
      outcome(() => g.swap('swapme', broken)),
      outcome(() => g.swap('swapme', writeVersion('4.0.0'))),
    ]);
    expect(results).toMatchObject([
      { version: '2.0.0' },
      { code: 'PGW_ERR_SWAP_FAILED', reason: 'start', version: '3.0.0' },
      { version: '4.0.0', status: 'active' },
    ]);
    expect(swaps.map((e) => [e.from, e.to])).toEqual([
      ['1.0.0', '2.0.0'],
      ['2.0.0', '4.0.0'],
    ]);
    expect(history(g)).toEqual([
      ['1.0.0', 'replaced'],
      ['2.0.0', 'replaced'],
      ['3.0.0', 'failed'],
      ['4.0.0', 'serving'],
    ]);
    expect(await ping(g)).toEqual({ status: 200, version: '4.0.0' });
  });
});

describe('what a new version keeps of the plugin', () => {
  it('the load() options the plugin was loaded with (its config)', async () => {
    const v1 = writeVersion('1.0.0');
    gateway = new PluginGateway({ logger: false });
    const g = gateway;
    await g.load(v1, { config: { greeting: 'kept' } });
    await g.start();
    const v2 = writeVersion('2.0.0');
    writeFileSync(
      path.join(v2, 'index.js'),
      `import { definePlugin } from '@veza/plugin-gateway/sdk';
export default definePlugin({
  routes: { 'GET /sw/ping': (req, ctx) => ({ statusCode: 200, body: { version: '2.0.0', greeting: ctx.config.greeting } }) },
});
`,
    );
    await g.swap('swapme', v2);
    expect((await g.handle({ method: 'GET', path: '/sw/ping' })).body).toEqual({
      version: '2.0.0',
      greeting: 'kept',
    });
  });
});

describe('pin() and unpin()', () => {
  it('pinning a kept version goes back to it; pinning the version serving changes nothing else', async () => {
    const logger = memoryLogger();
    const g = await started({ logger });
    await g.swap('swapme', writeVersion('2.0.0'));
    const rollbacks: RollbackEvent[] = [];
    g.on('plugin:rollback', (e) => rollbacks.push(e));
    expect(await g.pin('swapme', '1.0.0')).toMatchObject({ version: '1.0.0', pinned: '1.0.0' });
    expect(await ping(g)).toEqual({ status: 200, version: '1.0.0' });
    expect(rollbacks).toMatchObject([
      { from: '2.0.0', to: '1.0.0', reason: 'manual', message: 'rollback() asked for it' },
    ]);
    expect(await g.pin('swapme', '1.0.0')).toMatchObject({ version: '1.0.0', pinned: '1.0.0' });
    expect(rollbacks).toHaveLength(1);
    expect(logger.lines.filter((l) => l.msg === 'plugin "swapme" pinned at 1.0.0')).toMatchObject([
      { level: 'info', plugin_id: 'swapme', version: '1.0.0' },
      { level: 'info', plugin_id: 'swapme', version: '1.0.0' },
    ]);
    const said =
      'plugin "swapme" rolled back from 2.0.0 to 1.0.0 (manual): rollback() asked for it';
    expect(logger.lines.filter((l) => l.msg === said)).toMatchObject([
      { level: 'warn', plugin: 'swapme', from: '2.0.0', to: '1.0.0', reason: 'manual' },
    ]);
    expect(await outcome(() => g.pin('swapme', '7.7.7'))).toMatchObject({
      code: 'PGW_ERR_VERSION_NOT_FOUND',
      message: 'plugin "swapme" has no kept version 7.7.7',
      plugin: 'swapme',
    });
    expect(g.get('swapme')!.pinned).toBe('1.0.0');
    expect(g.unpin('swapme').pinned).toBeUndefined();
    expect(g.get('swapme')!.pinned).toBeUndefined();
    expect(g.get('swapme')!.version).toBe('1.0.0');
  });

  it('a plugin unloaded and loaded again starts a history of its own, unpinned', async () => {
    const g = await started();
    await g.swap('swapme', writeVersion('2.0.0'));
    await g.pin('swapme', '2.0.0');
    await g.unload('swapme');
    await g.load(writeVersion('1.0.0'));
    expect(g.get('swapme')!.pinned).toBeUndefined();
    expect(history(g)).toEqual([['1.0.0', 'serving']]);
    expect(await outcome(() => g.rollback('swapme'))).toMatchObject({
      code: 'PGW_ERR_VERSION_NOT_FOUND',
    });
  });
});

describe('a version that becomes failed', () => {
  const crashLoop = { restart: { maxCrashes: 2, window: '60s', backoff: 10 } };

  it('with no earlier version, stays failed: nothing to go back to', async () => {
    const g = await started(crashLoop, writeVersion('1.0.0', { ping: 'process.exit(7);' }));
    const rollbacks: RollbackEvent[] = [];
    g.on('plugin:rollback', (e) => rollbacks.push(e));
    const callers = steadyLoad(g, ['/sw/ping'], 2);
    await until(() => g.get('swapme')?.status === 'failed', 'v1 to be failed', 20_000);
    await callers.stop();
    expect(rollbacks).toEqual([]);
    expect(history(g)).toEqual([['1.0.0', 'serving']]);
  });

  it('when going back to the last good version cannot start either, says so and stays failed', async () => {
    const logger = memoryLogger();
    const store = storeSwitch();
    const g = await started({ ...crashLoop, logger }, writeVersion('1.0.0', { init: store.init }));
    await g.swap('swapme', writeVersion('2.0.0', { ping: 'process.exit(7);' }));
    const rollbacks: RollbackEvent[] = [];
    g.on('plugin:rollback', (e) => rollbacks.push(e));
    store.down();
    const callers = steadyLoad(g, ['/sw/ping'], 2);
    const said = 'plugin "swapme": going back to 1.0.0 failed';
    await until(() => logger.lines.some((l) => l.msg === said), 'going back to fail', 20_000);
    await callers.stop();
    expect(logger.lines.find((l) => l.msg === said)).toMatchObject({
      level: 'error',
      plugin_id: 'swapme',
      version: '1.0.0',
      err: { code: 'PGW_ERR_SWAP_FAILED' },
    });
    expect(rollbacks).toMatchObject([{ from: '1.0.0', to: '2.0.0', reason: 'start' }]);
    expect(g.get('swapme')).toMatchObject({ version: '2.0.0', status: 'failed' });
    expect(history(g)).toEqual([
      ['1.0.0', 'replaced'],
      ['2.0.0', 'serving'],
      ['1.0.0', 'failed'],
    ]);
  });

  it('a fix swapped in while the version serving crash-loops is not undone by going back', async () => {
    const logger = memoryLogger();
    const g = await started({ ...crashLoop, logger });
    await g.swap('swapme', writeVersion('2.0.0', { ping: 'process.exit(7);' }));
    const rollbacks: RollbackEvent[] = [];
    g.on('plugin:rollback', (e) => rollbacks.push(e));
    const starting = gate(logger);
    const fixing = g.swap('swapme', writeVersion('3.0.0', { init: starting.init }));
    await until(starting.waiting, 'v3 to be starting');
    // v2 fails while v3 starts: going back to v1 waits behind the swap, which replaces v2.
    const callers = steadyLoad(g, ['/sw/ping'], 2);
    await until(() => g.get('swapme')?.status === 'failed', 'v2 to be failed', 20_000);
    await callers.stop();
    starting.open();
    expect(await fixing).toMatchObject({ version: '3.0.0', status: 'active' });
    // Runs after whatever was queued before it, going back included.
    await g.swap('swapme', writeVersion('4.0.0'));
    expect(rollbacks).toEqual([]);
    expect(history(g)).toEqual([
      ['1.0.0', 'replaced'],
      ['2.0.0', 'replaced'],
      ['3.0.0', 'replaced'],
      ['4.0.0', 'serving'],
    ]);
  });

  it('a failed plugin swapped to a fix takes it at once: no canary against a version that cannot serve', async () => {
    const g = await started(crashLoop, writeVersion('1.0.0', { ping: 'process.exit(7);' }));
    const callers = steadyLoad(g, ['/sw/ping'], 2);
    await until(() => g.get('swapme')?.status === 'failed', 'v1 to be failed', 20_000);
    await callers.stop();
    // A canary window far longer than the test's timeout: only a swap that skips it resolves.
    const info = await g.swap('swapme', writeVersion('2.0.0'), {
      canary: { share: 0.1, steps: 2, window: '1h' },
    });
    expect(info).toMatchObject({ version: '2.0.0', status: 'active' });
    expect(await ping(g)).toEqual({ status: 200, version: '2.0.0' });
  });
});
