// Anyone who can write to the fleet's Redis can append to its event stream. Entries the gateway did not
// write (not JSON, no event field, wrong shapes) are moved to the dead-letter stream at once and never
// reach a plugin; the consumer carries on with the next entry.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PluginGateway, redisStreams } from '../../src/index.js';
import { fixture, memoryLogger } from '../helpers.js';
import { RedisServer, serviceAvailable } from '../services/redis.js';

const hasRedis = serviceAvailable('redis-server', 'apt-get install -y redis-server');

describe.skipIf(!hasRedis)('forged entries in the event stream', () => {
  let server: RedisServer;
  let redis: Redis;
  let gateway: PluginGateway | undefined;

  beforeAll(async () => {
    server = await RedisServer.start();
    redis = new Redis({ port: server.port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
    redis.on('error', () => {});
  });
  afterAll(async () => {
    await gateway?.stop();
    redis?.disconnect();
    await server?.stop();
  });

  it('are dead-lettered without reaching the plugin, and the next event is served', async () => {
    const logger = memoryLogger();
    gateway = new PluginGateway({
      logger,
      events: { broker: redisStreams({ redis, stream: 'forged', claimIdle: 300, block: 200 }) },
    });
    await gateway.load(fixture('fleet-sink'));
    await gateway.start();
    await redis.call('XADD', 'forged', '*', 'e', 'not json');
    await redis.call('XADD', 'forged', '*', 'other', 'field');
    await redis.call('XADD', 'forged', '*', 'e', JSON.stringify({ type: 'order.placed' }));
    await redis.call('XADD', 'forged', '*', 'e', JSON.stringify([1, 2]));
    const { id } = await gateway.publish({ type: 'order.placed' });
    const handled = () =>
      logger.lines.filter((l) => l.plugin_id === 'fleet-sink' && l.msg === 'delivery');
    for (let i = 0; i < 400 && handled().length === 0; i++)
      await new Promise((r) => setTimeout(r, 25));
    expect(handled().map((l) => (l.plugin_fields as { eventId: string }).eventId)).toEqual([id]);
    const dead = (await redis.call('XRANGE', 'forged:dead', '-', '+')) as [string, string[]][];
    expect(dead).toHaveLength(4);
    for (const [, fields] of dead) expect(fields).toContain('not a gateway event');
  });

  // `disable()` promises "it gets no events": through the broker, it got every one.
  it('are not delivered to a plugin the operator disabled', async () => {
    await gateway?.stop();
    const logger = memoryLogger();
    gateway = new PluginGateway({
      logger,
      events: {
        broker: redisStreams({
          redis,
          stream: 'disabled',
          claimIdle: 200,
          block: 100,
          maxDeliveries: 1,
        }),
      },
    });
    await gateway.load(fixture('fleet-sink'));
    await gateway.start();
    gateway.disable('fleet-sink');
    const { id } = await gateway.publish({ type: 'order.placed' });
    const deadLettered = () =>
      logger.lines.filter((l) => l.plugin_id === 'fleet-sink' && l.entry !== undefined);
    const delivered = () =>
      logger.lines.filter((l) => l.plugin_id === 'fleet-sink' && l.msg === 'delivery');
    for (let i = 0; i < 400 && deadLettered().length === 0 && delivered().length === 0; i++)
      await new Promise((r) => setTimeout(r, 25));
    expect(delivered()).toEqual([]);
    expect(deadLettered()).toHaveLength(1);
    gateway.enable('fleet-sink');
    const { id: next } = await gateway.publish({ type: 'order.placed' });
    for (let i = 0; i < 400 && delivered().length === 0; i++)
      await new Promise((r) => setTimeout(r, 25));
    expect(delivered().map((l) => (l.plugin_fields as { eventId: string }).eventId)).toEqual([
      next,
    ]);
    expect(next).not.toBe(id);
  });
});
