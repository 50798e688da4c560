import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PluginGateway, PluginResponse } from '../../src/index.js';
import { oversizedReply, replyBytesAtLeast } from '../../src/loader/reply-size.js';
import { gatewayWith, get } from '../helpers.js';

/**
 * `maxResponseBytes` was checked only in the plugin's thread: a worker that wraps `postMessage`
 * handed the host a 48 MiB reply, passed on to the caller. The host measures the reply it received.
 */
let gateway: PluginGateway;
beforeAll(async () => {
  gateway = await gatewayWith(['reply-smuggler']);
});
afterAll(() => gateway?.stop());

const codeOf = (res: PluginResponse) => (res.body as { error?: { code: string } }).error?.code;

describe('the reply limit, enforced on the host', () => {
  it('a 48 MiB reply swapped in after the thread checked it is refused: 500 PGW_ERR_RESPONSE_TOO_LARGE', async () => {
    const res = await get(gateway, '/smuggle');
    expect(res.statusCode).toBe(500);
    expect(codeOf(res)).toBe('PGW_ERR_RESPONSE_TOO_LARGE');
    expect((await get(gateway, '/small')).body).toBe('small');
  }, 30_000);

  it('counts at least the bytes a copy holds, and stops counting past the limit', () => {
    expect(replyBytesAtLeast({ statusCode: 200, body: 'abc' }, 1000)).toBeGreaterThanOrEqual(3);
    expect(replyBytesAtLeast({ body: new Uint8Array(5000) }, 1000)).toBeGreaterThan(1000);
    const cyclic: Record<string, unknown> = { a: 'x'.repeat(10) };
    cyclic.self = cyclic;
    expect(replyBytesAtLeast(cyclic, 1000)).toBeLessThan(100);
    const wide = { body: Array.from({ length: 100_000 }, () => 'yy') };
    expect(oversizedReply(wide, 1000)).toMatchObject({ __pgw: 'too-large' });
    expect(oversizedReply({ statusCode: 200, body: { ok: true } }, 1000)).toBeUndefined();
  });
});
