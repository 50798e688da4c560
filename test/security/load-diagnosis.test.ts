import { afterEach, describe, expect, it } from 'vitest';
import { isPluginCodeError, isPluginLoadError, type PluginGateway } from '../../src/index.js';
import { fixture, gatewayWith } from '../helpers.js';

// The host locates a load failure from the text the plugin's thread sent: that text is the plugin's to
// write, and must not make the host read files outside the plugin's folder.
describe('locating a load failure', () => {
  let gateway: PluginGateway | undefined;
  afterEach(async () => {
    await gateway?.stop();
    gateway = undefined;
  });

  it('reads no file a forged failure names outside the plugin (here /dev/zero, which never ends)', async () => {
    gateway = await gatewayWith([], { warm: true });
    const error = await gateway.load(fixture('forged-failure')).catch((e: unknown) => e);
    expect(isPluginLoadError(error)).toBe(true);
    expect(isPluginCodeError(error)).toBe(false);
    expect((error as Error).message).not.toContain('/dev/zero:');
  });
});
