import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PluginGateway, type RollbackEvent } from '../../src/index.js';
import { memoryLogger } from '../helpers.js';
import { gatewayPerTest, gate, history, outcome, ping, storeSwitch } from '../swap-edge-helpers.js';
import { until, writeVersion } from '../swap-helpers.js';

/**
 * The edges of `gateway.swap()`, `rollback()`, `pin()` and `unpin()` the load tests of swap.test.ts
 * do not reach, where a swap is refused or given up: what they refuse, a version that cannot even be
 * read, a kept version that no longer starts, and routes taken while the new version starts.
 */
const { track, started } = gatewayPerTest();

describe('what swap(), rollback(), pin() and unpin() refuse', () => {
  it('refuse before start(), and for a plugin that is not loaded', async () => {
    const g = track(new PluginGateway({ logger: false }));
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
