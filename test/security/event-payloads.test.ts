import { afterEach, describe, expect, it } from 'vitest';
import type { PluginGateway } from '../../src/index.js';
import { gatewayWith, get } from '../helpers.js';

describe('event payloads', () => {
  let gateway: PluginGateway | undefined;
  afterEach(async () => {
    await gateway?.stop();
    gateway = undefined;
  });

  it("carry only their own bytes, never the rest of Node's shared buffer pool", async () => {
    gateway = await gatewayWith(['payload-inspector']);
    // A small Buffer is a view on an 8 KiB slab shared with whatever else the process allocated.
    Buffer.from('password=hunter2'); // another user's bytes, on the same slab
    const data = Buffer.from('five!');
    expect(data.buffer.byteLength).toBeGreaterThan(data.byteLength);
    const result = await gateway.publish({ type: 'bytes.sent', payload: { data } });
    expect(result.delivered).toEqual(['payload-inspector']);
    const seen = await get(gateway, '/payload-inspector/last');
    expect(seen.body).toEqual({ byteLength: 5, backing: 5 });
  });
});
