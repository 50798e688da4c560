// Live flags reach worker threads through shared memory the plugin's threads can reach too
// (`workerData.flagCells`). What a plugin writes there is its own business: the host never reads the
// cells back, another plugin has cells of its own, and the host's next setFlag() rewrites every cell.
import { afterEach, describe, expect, it } from 'vitest';
import type { PluginGateway } from '../../src/index.js';
import { gatewayWith, get } from '../helpers.js';

let gateway: PluginGateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

describe('shared flag cells', () => {
  it('a plugin that forges its own cells changes only what its own ctx.flags shows', async () => {
    gateway = await gatewayWith(['flag-forger', 'echo']);
    const forged = await gateway.handle({ method: 'POST', path: '/forge', headers: {} });
    expect(forged.body).toEqual({ forged: true });
    expect((await get(gateway, '/flags')).body).toEqual({ premium: true });
    // The host's state and the other plugin are untouched.
    expect(gateway.get('flag-forger')?.flags).toEqual({ premium: false });
    const echo = await gateway.handle({ method: 'POST', path: '/echo/ada', headers: {} });
    expect((echo.body as { name: string }).name).toBe('ada');
    // The host's next change rewrites every cell.
    await gateway.setFlag('flag-forger', 'premium', false);
    expect((await get(gateway, '/flags')).body).toEqual({ premium: false });
  });

  it('per-request values (a rollout rule) win over whatever the cells hold', async () => {
    gateway = await gatewayWith(['flag-forger']);
    await gateway.setFlag('flag-forger', 'premium', { users: ['ada'] });
    await gateway.handle({ method: 'POST', path: '/forge', headers: {} });
    expect((await get(gateway, '/flags', { userId: 'bob' })).body).toEqual({ premium: false });
    expect((await get(gateway, '/flags', { userId: 'ada' })).body).toEqual({ premium: true });
  });
});
