import diagnostics from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from 'vitest';
import {
  channels,
  type ErrorObservation,
  type PluginGateway,
  type RequestObservation,
  type ResponseObservation,
} from '../../src/index.js';
import { gatewayWith, get } from '../helpers.js';

let gateway: PluginGateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

describe('observing the request path', () => {
  it('onRequest, onResponse and onError see every routed request; a faulty listener changes nothing', async () => {
    gateway = await gatewayWith(['steady', 'faulty']);
    const seen: string[] = [];
    const a = gateway.onRequest((o: RequestObservation) =>
      seen.push(`request ${o.plugin} ${o.method} ${o.path} ${String(o.userId)}`),
    );
    const b = gateway.onResponse((o: ResponseObservation) =>
      seen.push(`response ${o.plugin} ${o.statusCode} ${o.durationMs > 0}`),
    );
    const c = gateway.onError((o: ErrorObservation) =>
      seen.push(`error ${o.plugin} ${o.kind} ${o.message}`),
    );
    gateway.onResponse(() => {
      throw new Error('a broken observer');
    });
    expect((await get(gateway, '/steady/2?x=1', { userId: 5 })).statusCode).toBe(200);
    expect((await get(gateway, '/faulty/throw')).statusCode).toBe(500);
    expect(seen).toEqual([
      'request steady GET /steady/2 5',
      'response steady 200 true',
      'request faulty GET /faulty/throw undefined',
      'response faulty 500 true',
      'error faulty threw secret database password in this message',
    ]);
    for (const d of [a, b, c]) d.dispose();
    await get(gateway, '/steady/3');
    expect(seen).toHaveLength(5);
  });

  it('publishes on node:diagnostics_channel only to subscribers', async () => {
    gateway = await gatewayWith(['steady']);
    const ends: unknown[] = [];
    const onEnd = (message: unknown) => ends.push(message);
    diagnostics.subscribe(channels.response, onEnd);
    try {
      await get(gateway, '/steady/1', { id: 'req-7' });
    } finally {
      diagnostics.unsubscribe(channels.response, onEnd);
    }
    await get(gateway, '/steady/1');
    expect(ends).toEqual([
      expect.objectContaining({
        requestId: 'req-7',
        plugin: 'steady',
        method: 'GET',
        path: '/steady/1',
        statusCode: 200,
      }),
    ]);
  });
});
