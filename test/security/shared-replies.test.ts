import { afterAll, beforeAll, expect, it } from 'vitest';
import { PluginGateway } from '../../src/index.js';
import { fixture, get } from '../helpers.js';

/**
 * A reply whose body lives in a SharedArrayBuffer: the thread's postMessage shares that memory with
 * the host instead of copying it, so the plugin could change the bytes after the host checked them.
 */
let gateway: PluginGateway;

beforeAll(async () => {
  gateway = new PluginGateway({ logger: false });
  await gateway.load(fixture('shared-reply'));
  await gateway.start();
});

afterAll(async () => gateway?.stop());

it('refuses a bare SharedArrayBuffer as a body (it cannot leave the thread as data)', async () => {
  expect((await get(gateway, '/shared/raw')).statusCode).toBe(500);
});

it.each(['view'])(
  'the host keeps the bytes it checked, whatever the plugin writes after (%s)',
  async (kind) => {
    const res = await get(gateway, `/shared/${kind}`);
    expect(res.statusCode).toBe(200);
    const body = res.body as ArrayBufferView | ArrayBuffer;
    expect(Object.prototype.toString.call(ArrayBuffer.isView(body) ? body.buffer : body)).toBe(
      '[object ArrayBuffer]',
    );
    const bytes = () =>
      Buffer.from(
        ArrayBuffer.isView(body)
          ? new Uint8Array(body.buffer, body.byteOffset, body.byteLength)
          : new Uint8Array(body),
      ).toString();
    expect(bytes()).toBe('AAAAAAAA');
    expect((await get(gateway, '/shared-change')).statusCode).toBe(200);
    expect(bytes()).toBe('AAAAAAAA');
  },
);
