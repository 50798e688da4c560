/**
 * A plugin's sparse array (no elements, a length of 2^32 - 1) is a few bytes in memory and gigabytes as
 * JSON. Wherever the host writes a plugin's value as JSON, it measures it first: an event for the Redis
 * broker, a `ctx.call` body forwarded to another gateway, a health check's details.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisStreams } from '../../src/index.js';
import { PeerClient, RemoteRuntime } from '../../src/fleet/peer-client.js';
import { boundedJson } from '../../src/loader/reply-size.js';
import { RedisServer, serviceAvailable } from '../services/redis.js';

const sparse = (): unknown[] => new Array(2 ** 32 - 1);

describe('a sparse array where the host writes JSON', () => {
  it('in a forwarded ctx.call body: refused before anything is written or sent', async () => {
    const client = new PeerClient('gw-a', 'a-fleet-secret-of-32-characters!');
    // Nothing listens there: a call that was sent would answer unreachable, not too-large.
    const remote = new RemoteRuntime(
      client,
      'http://127.0.0.1:9',
      'svc',
      '1.0.0',
      'svc@1.0.0#gw-b.1',
      'gw-b',
    );
    const started = performance.now();
    const result = await remote.run(
      {
        t: 'req',
        k: 'POST /x',
        r: {
          id: '1',
          method: 'POST',
          path: '/x',
          headers: {},
          params: {},
          query: {},
          body: sparse(),
        },
      },
      2000,
    );
    expect(result).toMatchObject({ __pgw: 'too-large' });
    expect(performance.now() - started).toBeLessThan(1000);
    await remote.close();
    await client.close();
  });

  it('in health details for a message: a note instead of the JSON', () => {
    expect(boundedJson({ rows: sparse() }, 2048)).toBe('(larger than 2048 bytes)');
    expect(boundedJson({ ok: true }, 2048)).toBe('{"ok":true}');
  });

  describe.skipIf(!serviceAvailable('redis-server', 'apt-get install redis-server'))(
    'in an event for the Redis broker',
    () => {
      let server: RedisServer;
      let redis: Redis;
      beforeAll(async () => {
        server = await RedisServer.start();
        redis = new Redis(server.port, '127.0.0.1');
      });
      afterAll(async () => {
        redis.disconnect();
        await server.stop();
      });

      it('is refused by its size, and nothing is stored', async () => {
        const broker = redisStreams({ redis });
        await expect(
          broker.publish({
            id: 'e1',
            type: 'order.placed',
            payload: sparse(),
            timestamp: Date.now(),
          } as never),
        ).rejects.toMatchObject({ code: 'PGW_ERR_INVALID_ARGUMENT' });
        expect(await redis.xlen('pgw:events')).toBe(0);
      });
    },
  );
});
