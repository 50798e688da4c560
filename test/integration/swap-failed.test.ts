import { describe, expect, it } from 'vitest';
import type { RollbackEvent } from '../../src/index.js';
import { memoryLogger } from '../helpers.js';
import { gatewayPerTest, gate, history, ping, storeSwitch } from '../swap-edge-helpers.js';
import { steadyLoad, until, writeVersion } from '../swap-helpers.js';

/**
 * A plugin whose version serving becomes `failed`: with nothing to go back to it stays failed, going
 * back to the last good version is tried and said, and a fix swapped in is taken at once.
 */
const { started } = gatewayPerTest();

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
