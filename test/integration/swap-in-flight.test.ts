import { afterEach, describe, expect, it } from 'vitest';
import { PluginGateway } from '../../src/index.js';
import { steadyLoad, until, writeVersion } from '../swap-helpers.js';

// Handlers that take a while, so that requests are still running on the old version at the moment it
// is switched away from or unloaded: the swap tests' instant handlers leave nothing in flight there.
const SLOW_MS = 150;
const slowPing = `return new Promise((r) => setTimeout(() => r({ statusCode: 200, body: { version } }), ${SLOW_MS}));`;
const slowVersion = (version: string) => writeVersion(version, { ping: slowPing });

let gateway: PluginGateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

async function started(v1: string) {
  gateway = new PluginGateway({ logger: false });
  await gateway.load(v1);
  await gateway.start();
  return gateway;
}

/** Versions that answered, in order; at least one answer from each shows the switch happened under load. */
const answeredBy = (versions: string[]) => [...new Set(versions)].sort();

describe('requests in flight on the old version finish (drain)', () => {
  it('swap: slow requests running on v1 when v2 takes over all succeed', async () => {
    const g = await started(slowVersion('1.0.0'));
    const load = steadyLoad(g, ['/sw/ping'], 12);
    await until(() => load.total >= 24, 'slow load to run');
    await g.swap('swapme', slowVersion('2.0.0'));
    const after = load.total;
    await until(() => load.total >= after + 24, 'load to go on on v2');
    const { failures, versions } = await load.stop();
    expect(failures).toEqual([]);
    expect(answeredBy(versions)).toEqual(['1.0.0', '2.0.0']);
  });

  it('rollback: slow requests running on v2 when v1 takes over again all succeed', async () => {
    const g = await started(slowVersion('1.0.0'));
    await g.swap('swapme', slowVersion('2.0.0'));
    const load = steadyLoad(g, ['/sw/ping'], 12);
    await until(() => load.total >= 24, 'slow load to run');
    await g.rollback('swapme');
    const after = load.total;
    await until(() => load.total >= after + 24, 'load to go on on v1');
    const { failures, versions } = await load.stop();
    expect(failures).toEqual([]);
    expect(answeredBy(versions)).toEqual(['1.0.0', '2.0.0']);
    expect(g.get('swapme')!.version).toBe('1.0.0');
  });

  it('unload: slow requests already running when unload() is called all succeed', async () => {
    const g = await started(slowVersion('1.0.0'));
    const requests = Array.from({ length: 12 }, () =>
      g.handle({ method: 'GET', path: '/sw/ping' }),
    );
    // Every one of them is in the plugin (none still queued at the gateway) before the unload.
    await until(() => g.metrics('swapme').active_connections === 12, 'requests in flight');
    await g.unload('swapme');
    const answers = await Promise.all(requests);
    expect(answers.map((r) => r.statusCode)).toEqual(Array(12).fill(200));
    expect(answers.map((r) => (r.body as { version: string }).version)).toEqual(
      Array(12).fill('1.0.0'),
    );
    expect(g.get('swapme')).toBeUndefined();
  });
});
