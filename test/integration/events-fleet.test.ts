import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PluginGateway, redisStreams, type RedisStreamsOptions } from '../../src/index.js';
import { fixture, memoryLogger, type LogLine } from '../helpers.js';
import { RedisServer, serviceAvailable } from '../services/redis.js';

/**
 * Domain events across a fleet: two gateways in this process share one real redis-server through
 * `redisStreams()`. Plugins `fleet-sink` (on both gateways) and `fleet-audit` (on one) subscribe to
 * `order.*` and log `handled` with the event's id; `payload.fail` makes them throw (`once`: the first
 * delivery a thread gets; `always`), `payload.waitMs` makes them slow.
 */
const hasRedis = serviceAvailable('redis-server', 'apt-get install -y redis-server');

describe.skipIf(!hasRedis)('domain events across a fleet (Redis Streams)', () => {
  let redis: RedisServer;
  const clients: Redis[] = [];
  const gateways: PluginGateway[] = [];
  let streamSeq = 0;

  const client = () => {
    const c = new Redis({
      port: redis.port,
      host: '127.0.0.1',
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => 50,
    });
    c.on('error', () => {});
    clients.push(c);
    return c;
  };
  const ready = (c: Redis) =>
    c.status === 'ready' ? Promise.resolve() : new Promise<void>((r) => c.once('ready', () => r()));

  /** A gateway on the shared stream with the given plugins; its log lines kept. */
  async function gateway(
    stream: string,
    plugins: string[],
    broker: Partial<RedisStreamsOptions> = {},
  ): Promise<{ g: PluginGateway; lines: LogLine[]; redis: Redis }> {
    const c = client();
    await ready(c);
    const logger = memoryLogger();
    const g = new PluginGateway({
      logger,
      events: {
        broker: redisStreams({ redis: c, stream, claimIdle: 300, block: 200, ...broker }),
      },
    });
    gateways.push(g);
    for (const p of plugins) await g.load(fixture(p));
    await g.start();
    return { g, lines: logger.lines, redis: c };
  }

  /** Ids handled by `plugin`, over the given gateways' logs (one entry per successful handling). */
  const handled = (plugin: string, ...logs: LogLine[][]) =>
    logs
      .flat()
      .filter((l) => l.plugin_id === plugin && l.msg === 'handled')
      .map((l) => (l.plugin_fields as { eventId: string }).eventId);
  const deliveries = (plugin: string, id: string, ...logs: LogLine[][]) =>
    logs
      .flat()
      .filter(
        (l) =>
          l.plugin_id === plugin &&
          l.msg === 'delivery' &&
          (l.plugin_fields as { eventId: string }).eventId === id,
      ).length;

  async function until(check: () => boolean, timeoutMs = 15_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > end) throw new Error('condition not met in time');
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  const newStream = () => `test:events:${++streamSeq}`;

  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterEach(async () => {
    await Promise.all(gateways.splice(0).map((g) => g.stop()));
  });
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await redis?.stop();
  });

  it('an event published on any gateway reaches each subscribed plugin name of the fleet once', async () => {
    const stream = newStream();
    const a = await gateway(stream, ['fleet-sink']);
    const b = await gateway(stream, ['fleet-sink', 'fleet-audit']);
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) {
      const result = await (i % 2 ? a.g : b.g).publish({ type: 'order.placed', payload: { i } });
      expect(result.entry).toMatch(/^\d+-\d+$/);
      ids.push(result.id);
    }
    // Not subscribed by anyone: stored, handled by no plugin.
    await a.g.publish({ type: 'user.created' });
    await until(
      () =>
        handled('fleet-sink', a.lines, b.lines).length >= 40 &&
        handled('fleet-audit', b.lines).length >= 40,
    );
    await new Promise((r) => setTimeout(r, 500)); // time for a double delivery to show up
    expect(handled('fleet-sink', a.lines, b.lines).sort()).toEqual([...ids].sort());
    expect(handled('fleet-audit', b.lines).sort()).toEqual([...ids].sort());
  });

  it('a plugin’s ctx.publish() goes through the broker too, never back to its publisher', async () => {
    const stream = newStream();
    const a = await gateway(stream, ['fleet-sink']);
    const b = await gateway(stream, ['fleet-audit']);
    const res = await a.g.handle({
      method: 'POST',
      path: '/sink/emit',
      headers: {},
      body: { type: 'order.shipped', payload: { n: 1 } },
    });
    expect(res.statusCode).toBe(202);
    await until(() => handled('fleet-audit', b.lines).length === 1);
    await new Promise((r) => setTimeout(r, 400));
    expect(handled('fleet-sink', a.lines)).toEqual([]);
  });

  it('redelivers an event whose handler failed, then acknowledges it once handled', async () => {
    const stream = newStream();
    const a = await gateway(stream, ['fleet-sink']);
    const { id } = await a.g.publish({ type: 'order.placed', payload: { fail: 'once' } });
    await until(() => handled('fleet-sink', a.lines).length === 1);
    expect(deliveries('fleet-sink', id, a.lines)).toBe(2);
    const pending = (await a.redis.call('XPENDING', stream, 'fleet-sink')) as [number];
    expect(pending[0]).toBe(0);
  });

  it('moves an event to the dead-letter stream after maxDeliveries failed deliveries', async () => {
    const stream = newStream();
    const a = await gateway(stream, ['fleet-sink'], { maxDeliveries: 3 });
    const { id } = await a.g.publish({ type: 'order.placed', payload: { fail: 'always' } });
    let dead: [string, string[]][] = [];
    await until(() => a.lines.some((l) => l.msg?.includes('dead-letter')));
    dead = (await a.redis.call('XRANGE', `${stream}:dead`, '-', '+')) as [string, string[]][];
    expect(dead).toHaveLength(1);
    const fields = dead[0]![1];
    const field = (name: string) => fields[fields.indexOf(name) + 1];
    expect(field('group')).toBe('fleet-sink');
    expect(field('deliveries')).toBe('3');
    expect(JSON.parse(field('e')!)).toMatchObject({ id, type: 'order.placed' });
    expect(deliveries('fleet-sink', id, a.lines)).toBe(3);
    expect(handled('fleet-sink', a.lines)).toEqual([]);
    const pending = (await a.redis.call('XPENDING', stream, 'fleet-sink')) as [number];
    expect(pending[0]).toBe(0);
  });

  it('loses nothing and doubles nothing when a gateway stops mid-stream', async () => {
    const stream = newStream();
    const a = await gateway(stream, ['fleet-sink']);
    const b = await gateway(stream, ['fleet-sink']);
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      ids.push((await b.g.publish({ type: 'order.placed', payload: { i, waitMs: 50 } })).id);
    }
    // Stop while both consume: a's deliveries in flight finish and are acknowledged first.
    await until(() => handled('fleet-sink', a.lines).length > 0);
    await a.g.stop();
    await until(() => handled('fleet-sink', a.lines, b.lines).length >= 30);
    await new Promise((r) => setTimeout(r, 800)); // past claimIdle: a redelivery would show
    expect(handled('fleet-sink', a.lines, b.lines).sort()).toEqual([...ids].sort());
  });

  it('a handler slower than claimIdle keeps its event: no other gateway claims it while it runs', async () => {
    const stream = newStream();
    const a = await gateway(stream, ['fleet-sink']);
    const b = await gateway(stream, ['fleet-sink']);
    const ids: string[] = [];
    // Each takes over three times claimIdle (300 ms): without renewal, the other gateway would claim it.
    for (let i = 0; i < 6; i++) {
      ids.push((await b.g.publish({ type: 'order.placed', payload: { i, waitMs: 1000 } })).id);
    }
    await until(() => handled('fleet-sink', a.lines, b.lines).length >= 6);
    await new Promise((r) => setTimeout(r, 800)); // past claimIdle: a second delivery would show
    expect(handled('fleet-sink', a.lines, b.lines).sort()).toEqual([...ids].sort());
    for (const id of ids) expect(deliveries('fleet-sink', id, a.lines, b.lines)).toBe(1);
  });

  it('unloading a plugin and loading it again under the same name resumes its group: nothing lost', async () => {
    const stream = newStream();
    const a = await gateway(stream, ['fleet-sink']);
    const b = await gateway(stream, []);
    const first = (await b.g.publish({ type: 'order.placed', payload: { n: 1 } })).id;
    await until(() => handled('fleet-sink', a.lines).length === 1);
    await a.g.unload('fleet-sink');
    // Published while no consumer of the group runs: kept for the group.
    const meanwhile = (await b.g.publish({ type: 'order.placed', payload: { n: 2 } })).id;
    await a.g.load(fixture('fleet-sink'));
    await until(() => handled('fleet-sink', a.lines).length === 2);
    expect(handled('fleet-sink', a.lines)).toEqual([first, meanwhile]);
  });

  it('a swap hands the consumer group from v1 to v2 while events flow: each event handled once', async () => {
    const stream = newStream();
    const a = await gateway(stream, ['fleet-sink']);
    // Inside the package, so that the copy resolves `@veza/plugin-gateway/sdk` as the fixture does.
    const next = path.resolve(import.meta.dirname, '../.swap-fixtures/fleet-sink-next');
    await rm(next, { recursive: true, force: true });
    await cp(fixture('fleet-sink'), next, { recursive: true });
    const manifest = path.join(next, 'plugin.yaml');
    await writeFile(manifest, (await readFile(manifest, 'utf8')).replace('1.0.0', '1.1.0'));
    const ids: string[] = [];
    let publishing = true;
    const publisher = (async () => {
      // Paced: the plugin logs two lines per event, and a plugin's lines are capped at 1,000/s.
      for (let i = 0; publishing; i++) {
        ids.push((await a.g.publish({ type: 'order.placed', payload: { i, waitMs: 5 } })).id);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    await until(() => handled('fleet-sink', a.lines).length >= 20);
    expect((await a.g.swap('fleet-sink', next)).version).toBe('1.1.0');
    const afterSwap = ids.length;
    await until(() => ids.length >= afterSwap + 20);
    publishing = false;
    await publisher;
    await until(() => handled('fleet-sink', a.lines).length >= ids.length).catch(() => {
      const got = new Set(handled('fleet-sink', a.lines));
      throw new Error(
        `handled ${got.size} of ${ids.length}; missing ${ids
          .filter((i) => !got.has(i))
          .slice(0, 5)
          .join(
            ', ',
          )}; log: ${JSON.stringify(a.lines.filter((l) => l.level !== 'info').slice(-5))}`,
      );
    });
    await new Promise((r) => setTimeout(r, 500)); // time for a double delivery to show up
    expect(handled('fleet-sink', a.lines).sort()).toEqual([...ids].sort());
    const versions = a.lines
      .filter((l) => l.plugin_id === 'fleet-sink' && l.msg === 'handled')
      .map((l) => l.version);
    expect(new Set(versions)).toEqual(new Set(['1.0.0', '1.1.0']));
    await rm(next, { recursive: true, force: true });
  });

  it('Redis restarted: publish rejects with a coded error meanwhile; consumers reconnect and resume', async () => {
    const stream = newStream();
    const a = await gateway(stream, ['fleet-sink']);
    const before = (await a.g.publish({ type: 'order.placed' })).id;
    await until(() => handled('fleet-sink', a.lines).length === 1);

    await redis.stop();
    await until(() => a.redis.status !== 'ready');
    await expect(a.g.publish({ type: 'order.placed' })).rejects.toMatchObject({
      code: 'PGW_ERR_EVENT_BROKER_UNAVAILABLE',
    });
    await until(() => a.lines.some((l) => l.msg === 'event broker unreachable; retrying'));

    await redis.restart();
    await ready(a.redis);
    const after = (await a.g.publish({ type: 'order.placed' })).id;
    await until(() => handled('fleet-sink', a.lines).length === 2);
    expect(handled('fleet-sink', a.lines)).toEqual([before, after]);
    expect(a.lines.some((l) => l.msg === 'event broker reachable again')).toBe(true);
  });

  it('refuses broker options of the wrong shape', () => {
    expect(() => redisStreams({ redis: {} as never })).toThrow(/redisStreams\.redis/);
    expect(() => redisStreams({ redis: client(), maxDeliveries: 0 })).toThrow(
      /redisStreams\.maxDeliveries/,
    );
  });
});
