import { afterEach, describe, expect, it } from 'vitest';
import {
  isPluginBootTimeoutError,
  isPluginLoadError,
  type PluginGateway,
} from '../../src/index.js';
import { fixture, gatewayWith, get } from '../helpers.js';

describe('booting a plugin', () => {
  let gateway: PluginGateway | undefined;
  afterEach(async () => {
    await gateway?.stop();
    gateway = undefined;
  });

  it('fails a plugin whose initialize() outlasts bootTimeout with its own code, and keeps nothing', async () => {
    gateway = await gatewayWith([], { warm: true, bootTimeout: '300ms' });
    const error = await gateway.load(fixture('slow-init')).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'PGW_ERR_PLUGIN_BOOT_TIMEOUT',
      plugin: 'slow-init',
      message: expect.stringContaining('within 300 ms'),
    });
    expect(isPluginBootTimeoutError(error)).toBe(true);
    expect(isPluginLoadError(error)).toBe(true);
    expect(gateway.list()).toEqual([]);
    expect((await get(gateway, '/slow-init')).statusCode).toBe(404);
  });

  it('names a definePlugin() mistake as the cause of the load error', async () => {
    gateway = await gatewayWith([]);
    const error = await gateway.load(fixture('bad-definition')).catch((e: unknown) => e);
    // A fault of the plugin's code: PGW_ERR_PLUGIN_CODE, a kind of PGW_ERR_PLUGIN_LOAD.
    expect(isPluginLoadError(error)).toBe(true);
    expect(error).toMatchObject({
      code: 'PGW_ERR_PLUGIN_CODE',
      message: expect.stringContaining(
        'route "GET /bad-definition" must be a function, got object',
      ),
    });
  });
});
