import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PluginGateway, type RollbackEvent, type SwapEvent } from '../../src/index.js';
import { memoryLogger } from '../helpers.js';
import { gatewayPerTest, gate, history, outcome, ping } from '../swap-edge-helpers.js';
import { writeVersion } from '../swap-helpers.js';

/**
 * Swaps in sequence: swaps asked for at once run one after another in the order asked, a new version
 * keeps what the plugin was loaded with, and pin() / unpin() hold a plugin at a version and let it go.
 */
const { track, started } = gatewayPerTest();

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
    const g = track(new PluginGateway({ logger: false }));
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
