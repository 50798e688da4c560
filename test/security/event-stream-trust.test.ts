/**
 * Class D of issue 23, the event stream: whoever can write to the fleet's Redis, without the fleet's
 * secret, cannot deliver an event (any type, source or user) to a plugin, cannot push one larger than
 * `maxEventBytes` through, and cannot make a gateway deliver acknowledged history again by destroying
 * its consumer group. Real Redis; the attacker is a plain client.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PluginGateway, redisStreams } from '../../src/index.js';
import { entryMac } from '../../src/fleet/stream-entry.js';
import { fixture, memoryLogger } from '../helpers.js';
import { RedisServer, serviceAvailable } from '../services/redis.js';

const hasRedis = serviceAvailable('redis-server', 'apt-get install -y redis-server');
const secret = 'fleet-secret-0123456789';

describe.skipIf(!hasRedis)('the event stream, as someone who can write to Redis', () => {
  let server: RedisServer;
  let redis: Redis;
  let gateway: PluginGateway | undefined;
  let logger: ReturnType<typeof memoryLogger>;

  beforeAll(async () => {
    server = await RedisServer.start();
    redis = new Redis({ port: server.port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
    redis.on('error', () => {});
  });
  afterEach(async () => {
    await gateway?.stop();
    gateway = undefined;
  });
  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
  });

  async function member(stream: string, maxEventBytes?: number): Promise<PluginGateway> {
    logger = memoryLogger();
    gateway = new PluginGateway({
      logger,
      node: { id: 'g1', address: 'http://127.0.0.1:1', secret },
      events: {
        broker: redisStreams({
          redis,
          stream,
          claimIdle: 300,
          block: 100,
          ...(maxEventBytes ? { maxEventBytes } : {}),
        }),
      },
    });
    await gateway.load(fixture('fleet-sink'));
    await gateway.start();
    return gateway;
  }
  const delivered = () =>
    logger.lines
      .filter((l) => l.plugin_id === 'fleet-sink' && l.msg === 'delivery')
      .map((l) => (l.plugin_fields as { eventId: string }).eventId);
  const waitFor = async (probe: () => boolean) => {
    for (let i = 0; i < 400 && !probe(); i++) await new Promise((r) => setTimeout(r, 25));
  };
  const dead = async (stream: string) =>
    ((await redis.call('XRANGE', `${stream}:dead`, '-', '+')) as [string, string[]][]).map(
      ([, fields]) => fields[fields.indexOf('reason') + 1],
    );

  it('delivers no event the fleet did not seal, whatever type, source and user it names', async () => {
    const g = await member('forged-events');
    const forged = JSON.stringify({
      type: 'order.placed',
      id: 'forged-1',
      timestamp: Date.now(),
      source: 'fleet-audit',
      userId: 'admin',
      payload: { amount: 1e9 },
    });
    await redis.call('XADD', 'forged-events', '*', 'e', forged);
    await redis.call('XADD', 'forged-events', '*', 'e', forged, 'mac', 'ab'.repeat(32));
    // A seal made for another stream does not fit this one.
    const other = entryMac(secret, 'another-stream', forged);
    await redis.call('XADD', 'forged-events', '*', 'e', forged, 'mac', other);
    const { id } = await g.publish({ type: 'order.placed', userId: 'u1' });
    await waitFor(() => delivered().length > 0);
    await new Promise((r) => setTimeout(r, 300));
    expect(delivered()).toEqual([id]);
    expect(await dead('forged-events')).toEqual([
      'not sealed with the fleet secret',
      'its seal does not verify',
      'its seal does not verify',
    ]);
    // Sealed by the gateway: the entry carries its seal.
    const entries = (await redis.call('XRANGE', 'forged-events', '-', '+')) as [string, string[]][];
    expect(entries.at(-1)![1]).toContain('mac');
  });

  it('refuses on read an entry larger than maxEventBytes, sealed or not', async () => {
    const g = await member('big-events', 2048);
    const big = JSON.stringify({
      type: 'order.placed',
      id: 'big-1',
      timestamp: Date.now(),
      payload: 'x'.repeat(8192),
    });
    await redis.call(
      'XADD',
      'big-events',
      '*',
      'e',
      big,
      'mac',
      entryMac(secret, 'big-events', big),
    );
    const { id } = await g.publish({ type: 'order.placed' });
    await waitFor(() => delivered().length > 0);
    await new Promise((r) => setTimeout(r, 300));
    expect(delivered()).toEqual([id]);
    const reasons = await dead('big-events');
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toMatch(/over maxEventBytes/);
  });

  it('does not deliver acknowledged history again after XGROUP DESTROY', async () => {
    const g = await member('destroyed');
    const first = [];
    for (let i = 0; i < 3; i++) first.push((await g.publish({ type: 'order.placed' })).id);
    await waitFor(() => delivered().length >= 3);
    expect(delivered()).toEqual(first);
    await redis.call('XGROUP', 'DESTROY', 'destroyed', 'fleet-sink');
    await new Promise((r) => setTimeout(r, 400));
    const { id: after } = await g.publish({ type: 'order.placed' });
    await waitFor(() => delivered().length >= 4);
    await new Promise((r) => setTimeout(r, 500));
    expect(delivered()).toEqual([...first, after]);
  });
});
