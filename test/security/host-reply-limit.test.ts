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

  // A view's message carries its whole backing buffer: a 1-byte view on 16 MiB was counted as 1 byte.
  it('a 1-byte view on a 16 MiB buffer swapped in is counted as the 16 MiB the message carried: refused', async () => {
    const res = await get(gateway, '/smuggle-view');
    expect(res.statusCode).toBe(500);
    expect(codeOf(res)).toBe('PGW_ERR_RESPONSE_TOO_LARGE');
  }, 30_000);

  // The host copies a shared body out of the thread's reach; the copy differed from what arrived, and
  // that difference alone passed for a refusal: the 16 MiB copy was served, unmeasured.
  it('16 MiB of shared memory swapped in is measured too: refused', async () => {
    const res = await get(gateway, '/smuggle-shared');
    expect(res.statusCode).toBe(500);
    expect(codeOf(res)).toBe('PGW_ERR_RESPONSE_TOO_LARGE');
  }, 30_000);

  it('the same view answered through the harness leaves the thread as a 1-byte copy: served', async () => {
    const res = await get(gateway, '/view');
    expect(res.statusCode).toBe(200);
    const body = res.body as Uint8Array;
    expect(body.byteLength).toBe(1);
    expect(body.buffer.byteLength).toBeLessThan(8192);
  }, 30_000);

  it('counts at least the bytes a copy holds, and stops counting past the limit', () => {
    const view = new Uint8Array(new ArrayBuffer(5000), 10, 1);
    expect(replyBytesAtLeast({ body: view }, 1000)).toBeGreaterThan(1000);
    expect(replyBytesAtLeast({ a: view, b: view.subarray(0, 0) }, 10_000)).toBeLessThan(5100);
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
