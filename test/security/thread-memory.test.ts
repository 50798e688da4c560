import { afterEach, describe, expect, it } from 'vitest';
import type { CrashEvent, PluginGateway } from '../../src/index.js';
import { gatewayWith, get, statusOf } from '../helpers.js';

let gateway: PluginGateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

describe('resources.memory holds memory outside the V8 heap too', () => {
  it('a plugin declared at 32 MB that holds 256 MiB of ArrayBuffers is ended, reported and restarted', async () => {
    gateway = await gatewayWith(['hoarder', 'steady']);
    const g = gateway;
    const crashed = new Promise<CrashEvent>((resolve) => g.on('plugin:crash', resolve));
    const res = await g.handle({ method: 'POST', path: '/hoarder/hoard', headers: {} });
    // The heap limit alone lets it through; the next memory report ends the thread.
    expect(res.statusCode).toBe(202);
    const crash = await crashed;
    expect(crash.plugin).toBe('hoarder');
    expect(crash.reason).toMatch(/^memory: .*outside it, over resources\.memory \(32 MiB\)/);
    // The host and the other plugin never noticed; the hoarder serves again after its restart.
    expect((await get(g, '/steady/2')).statusCode).toBe(200);
    await statusOf(g, 'hoarder', 'active');
    const again = await get(g, '/hoarder/ok');
    expect(again).toMatchObject({ statusCode: 200, body: { held: 0 } });
    expect(g.metrics('hoarder').crashes).toBe(1);
  });
});
