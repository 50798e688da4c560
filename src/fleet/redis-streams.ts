/**
 * `redisStreams()`: domain events shared by a fleet through one Redis stream. Each plugin name is a
 * consumer group (so a plugin run by several gateways gets each event once), each gateway a consumer of
 * it. An event is acknowledged only after the plugin's handler succeeded; what a consumer left pending
 * (a failure, a gateway that stopped or died) is claimed again after `claimIdle` (`XAUTOCLAIM`) by a
 * consumer of the same group, and moved to a dead-letter stream after `maxDeliveries` deliveries.
 *
 * Publishing while Redis is unreachable rejects (`PGW_ERR_EVENT_BROKER_UNAVAILABLE`) rather than
 * buffering: a resolved `publish()` means the event is stored, and a buffer would be lost with the
 * process and grow without bound during an outage. Consumers retry until Redis answers again.
 * @module
 */
import { replyBytesAtLeast } from '../loader/reply-size.js';
import { z } from '../shared/zod.js';
import { EventBrokerUnavailableError, InvalidArgumentError } from '../errors.js';
import { durationMs, invalidOptions, positiveInt } from '../shared/option-validation.js';
import { knownKeysLater } from '../shared/schema-keys.js';
import type {
  BrokerConsumer,
  BrokerEvent,
  BrokerLog,
  DeliveryOutcome,
  EventBroker,
} from './event-broker.js';
import { entryMac, openEntry } from './stream-entry.js';
import { StreamLease } from './stream-lease.js';
import { lazySchema } from '../shared/lazy-schema.js';

/** The part of an ioredis client the broker uses (`new Redis(url)` fits). */
export interface RedisStreamsClient {
  /** ioredis connection status; anything but `'ready'` means Redis is not reachable now. */
  readonly status: string;
  /** Sends one command (ioredis `call`). */
  call(command: string, ...args: (string | number)[]): Promise<unknown>;
  /** A new connection with the same settings: each consumer blocks on one of its own. */
  duplicate(): RedisStreamsClient;
  /** Closes the connection at once (pending commands reject). */
  disconnect(): void;
  /** ioredis events; the broker listens for `error` on the connections it opens (its loops report them). */
  on?(event: 'error', listener: (error: Error) => void): unknown;
}

/** Options of {@link redisStreams}. */
export interface RedisStreamsOptions {
  /** An ioredis client; the host owns it and closes it. Consumers open duplicates, closed by the broker. */
  redis: RedisStreamsClient;
  /** The stream every gateway of the fleet appends to. @default 'pgw:events' */
  stream?: string;
  /** Where events go after `maxDeliveries` failed deliveries. @default `${stream}:dead` */
  deadLetterStream?: string;
  /** Deliveries of one event to one plugin name before it is dead-lettered. @default 5 */
  maxDeliveries?: number;
  /** How long a delivered, unacknowledged event waits before a consumer claims it again. @default '30s' */
  claimIdle?: string | number;
  /** Longest wait of a consumer's blocking read (also how often it looks for events to claim). @default '2s' */
  block?: string | number;
  /** Events one read takes. @default 16 */
  batch?: number;
  /** Approximate length the stream is trimmed to on append (`XADD MAXLEN ~`). @default 100000 */
  maxLength?: number;
  /** Largest event, serialised as JSON, that `publish()` accepts. @default 1048576 */
  maxEventBytes?: number;
  /** How long `publish()` waits for Redis before it rejects. @default '2s' */
  publishTimeout?: string | number;
  /**
   * The fleet's secret (16+ characters): entries are sealed with it (HMAC) and only entries whose seal
   * verifies are delivered. A gateway started with `node.secret` hands its own to the broker, so this
   * is for a broker shared by gateways outside a fleet. @default the gateway's `node.secret`
   */
  secret?: string;
}

const schema = lazySchema(() =>
  z.strictObject({
    redis: z.custom<RedisStreamsClient>(
      (v) =>
        typeof v === 'object' &&
        v !== null &&
        typeof (v as RedisStreamsClient).call === 'function' &&
        typeof (v as RedisStreamsClient).duplicate === 'function',
      'an ioredis client',
    ),
    stream: z.string().min(1).default('pgw:events'),
    deadLetterStream: z.string().min(1).optional(),
    maxDeliveries: positiveInt.default(5),
    claimIdle: durationMs.default(30_000),
    block: durationMs.default(2000),
    batch: positiveInt.max(1000).default(16),
    maxLength: positiveInt.default(100_000),
    maxEventBytes: positiveInt.default(1 << 20),
    publishTimeout: durationMs.default(2000),
    secret: z.string().min(16, 'at least 16 characters').optional(),
  }),
);
type Settings = z.output<typeof schema> & { deadLetterStream: string };
const KEYS = knownKeysLater(schema);

/**
 * A shared event broker on Redis Streams, for `new PluginGateway({ events: { broker } })`.
 * @throws {InvalidArgumentError} for options of the wrong shape.
 * @example
 * import { Redis } from 'ioredis';
 * const redis = new Redis(process.env.REDIS_URL, { enableOfflineQueue: false });
 * const gateway = new PluginGateway({ events: { broker: redisStreams({ redis }) } });
 */
export function redisStreams(options: RedisStreamsOptions): EventBroker {
  const parsed = schema.safeParse(options, { reportInput: true });
  if (!parsed.success) throw invalidOptions(parsed.error, 'redisStreams', KEYS());
  const settings = {
    ...parsed.data,
    deadLetterStream: parsed.data.deadLetterStream ?? `${parsed.data.stream}:dead`,
  };
  return new RedisStreamsBroker(settings);
}

class RedisStreamsBroker implements EventBroker {
  readonly kind = 'redis-streams';
  readonly #consumers = new Set<StreamConsumer>();

  /** The secret entries are sealed with: the option's, else the gateway's fleet secret. */
  #secret: string | undefined;

  constructor(readonly settings: Settings) {
    this.#secret = settings.secret;
  }

  useFleetSecret(secret: string): void {
    this.#secret ??= secret;
  }

  async publish(event: BrokerEvent): Promise<string> {
    const { redis, stream, maxLength, maxEventBytes, publishTimeout } = this.settings;
    const secret = this.#secret;
    // Measured before it is written: a plugin's sparse array would otherwise become gigabytes of JSON.
    const atLeast = replyBytesAtLeast(event, maxEventBytes);
    if (atLeast > maxEventBytes) {
      throw new InvalidArgumentError(
        `Expected the event to be at most ${maxEventBytes} bytes as JSON, got more than ${maxEventBytes}`,
      );
    }
    let raw: string;
    try {
      raw = JSON.stringify(event);
    } catch (error) {
      throw new InvalidArgumentError(
        `Expected the event to serialise as JSON for the broker: ${(error as Error).message}`,
      );
    }
    if (Buffer.byteLength(raw) > maxEventBytes) {
      throw new InvalidArgumentError(
        `Expected the event to be at most ${maxEventBytes} bytes as JSON, got ${Buffer.byteLength(raw)}`,
      );
    }
    if (redis.status !== 'ready') {
      throw new EventBrokerUnavailableError(`redis is ${redis.status}; event not stored`);
    }
    try {
      const seal = secret === undefined ? [] : ['mac', entryMac(secret, stream, raw)];
      const id = await bounded(
        redis.call('XADD', stream, 'MAXLEN', '~', maxLength, '*', 'e', raw, ...seal),
        publishTimeout,
      );
      return String(id);
    } catch (error) {
      throw new EventBrokerUnavailableError(
        `redis did not store the event: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  consume(
    group: string,
    consumer: string,
    deliver: (event: BrokerEvent) => Promise<DeliveryOutcome>,
    log: BrokerLog,
  ): BrokerConsumer {
    const settings = { ...this.settings, secret: this.#secret };
    const c = new StreamConsumer(settings, group, consumer, deliver, log);
    this.#consumers.add(c);
    return {
      stop: async () => {
        this.#consumers.delete(c);
        await c.stop();
      },
    };
  }

  async close(): Promise<void> {
    const all = [...this.#consumers];
    this.#consumers.clear();
    await Promise.all(all.map((c) => c.stop()));
  }
}

const LUA_DEAD_LETTER = `
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*', 'e', ARGV[3], 'group', ARGV[1], 'id', ARGV[2], 'deliveries', ARGV[4], 'reason', ARGV[5])
return redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
`;

type Entry = [id: string, fields: string[] | null];

/** One plugin name's consumer on this gateway: a loop of blocking reads on a connection of its own. */
class StreamConsumer {
  readonly #conn: RedisStreamsClient;
  readonly #done: Promise<void>;
  #stopping = false;
  #down = false;
  #everUp = false;
  #nextClaim = 0;
  /** The newest entry id this consumer read: where a group lost meanwhile is made again. */
  #lastSeen: string | undefined;
  #wake: (() => void) | undefined;
  /** Entries being handled stay this consumer's, however long their handler takes. */
  readonly #lease: StreamLease;

  constructor(
    readonly s: Settings,
    readonly group: string,
    readonly name: string,
    readonly deliver: (event: BrokerEvent) => Promise<DeliveryOutcome>,
    readonly log: BrokerLog,
  ) {
    this.#conn = s.redis.duplicate();
    // Connection errors reach the read loop as rejected reads; an unheard 'error' event would be printed.
    this.#conn.on?.('error', () => {});
    this.#lease = new StreamLease(s.stream, group, name, s.claimIdle, (...a) => this.#call(...a));
    this.#done = this.#loop();
  }

  async stop(): Promise<void> {
    if (!this.#stopping) {
      this.#stopping = true;
      // Ends a blocking read at once; deliveries in flight acknowledge on the host's own client.
      this.#conn.disconnect();
      this.#wake?.();
    }
    await this.#done;
  }

  async #loop(): Promise<void> {
    let ready = false;
    /** Where a group made now starts: new events only at first, after what this consumer read later. */
    let from = '$';
    const startedAt = Date.now();
    let backoff = 100;
    while (!this.#stopping) {
      try {
        if (!ready) ready = await this.#createGroup(from);
        if (Date.now() >= this.#nextClaim) await this.#claim();
        const reply = (await this.#conn.call(
          'XREADGROUP', 'GROUP', this.group, this.name, 'COUNT', this.s.batch,
          'BLOCK', Math.min(this.s.block, this.s.claimIdle), 'STREAMS', this.s.stream, '>',
        )) as [string, Entry[]][] | null; // prettier-ignore
        this.#up();
        backoff = 100;
        if (reply) await this.#handleAll(reply[0]![1], undefined);
      } catch (error) {
        if (this.#stopping) break;
        const message = (error as Error).message ?? String(error);
        // The stream or the group is gone (Redis restarted without persistence, or someone ran
        // XGROUP DESTROY): made again after the last entry this consumer read (or since it started),
        // never from the start, which would deliver acknowledged history again.
        if (message.includes('NOGROUP')) {
          [ready, from] = [false, this.#lastSeen ?? `${startedAt}-0`];
          continue;
        }
        this.#goneDown(message);
        await this.#sleep(backoff);
        backoff = Math.min(backoff * 2, 2000);
      }
    }
  }

  async #createGroup(from: string): Promise<boolean> {
    try {
      await this.#call('XGROUP', 'CREATE', this.s.stream, this.group, from, 'MKSTREAM');
    } catch (error) {
      if (!String((error as Error).message).includes('BUSYGROUP')) throw error;
    }
    return true;
  }

  /** Claims what this group's consumers left pending for `claimIdle`, with each one's delivery count. */
  async #claim(): Promise<void> {
    this.#nextClaim = Date.now() + Math.max(50, this.s.claimIdle / 2);
    const { stream, claimIdle, batch } = this.s;
    let cursor = '0-0';
    do {
      const [next, entries] = (await this.#call(
        'XAUTOCLAIM', stream, this.group, this.name, claimIdle, cursor, 'COUNT', batch,
      )) as [string, Entry[]]; // prettier-ignore
      cursor = next;
      if (entries.length === 0) continue;
      const pending = (await this.#call(
        'XPENDING', stream, this.group, entries[0]![0], entries.at(-1)![0], entries.length, this.name,
      )) as [string, string, number, number][]; // prettier-ignore
      const counts = new Map(pending.map(([id, , , n]) => [id, Number(n)]));
      await this.#handleAll(entries, counts);
    } while (cursor !== '0-0' && !this.#stopping);
  }

  async #handleAll(entries: Entry[], counts: Map<string, number> | undefined): Promise<void> {
    await Promise.all(
      entries.map(([id, fields]) => this.#handle(id, fields, counts?.get(id) ?? 1)),
    );
  }

  async #handle(id: string, fields: string[] | null, deliveries: number): Promise<void> {
    if (this.#lastSeen === undefined || compareIds(id, this.#lastSeen) > 0) this.#lastSeen = id;
    const opened = openEntry(fields, this.s);
    if ('refused' in opened) return this.#deadLetter(id, opened.raw, deliveries, opened.refused);
    const { event, raw } = opened;
    if (deliveries > this.s.maxDeliveries) {
      return this.#deadLetter(id, raw, deliveries - 1, `failed ${deliveries - 1} deliveries`);
    }
    // Held until acknowledged; left pending, it is claimed again `claimIdle` after, here or elsewhere.
    await this.#lease.hold(id, async () => {
      if ((await this.deliver(event)) === 'done')
        await this.#call('XACK', this.s.stream, this.group, id);
    });
  }

  async #deadLetter(id: string, raw: string, deliveries: number, reason: string): Promise<void> {
    const { stream, deadLetterStream, maxLength } = this.s;
    await this.#call(
      'EVAL', LUA_DEAD_LETTER, 2, stream, deadLetterStream,
      this.group, id, raw, deliveries, reason, maxLength,
    ); // prettier-ignore
    this.log.warn(
      { plugin_id: this.group, entry: id, deliveries, reason, stream: deadLetterStream },
      `event ${id} moved to the dead-letter stream: ${reason}`,
    );
  }

  /** A command on the host's client, bounded by `publishTimeout`. */
  #call(command: string, ...args: (string | number)[]): Promise<unknown> {
    return bounded(this.s.redis.call(command, ...args), this.s.publishTimeout);
  }

  #goneDown(message: string): void {
    // A consumer's own connection still opening is not an outage.
    if (this.#down || (!this.#everUp && this.#conn.status === 'connecting')) return;
    this.#down = true;
    this.log.warn(
      { plugin_id: this.group, broker: 'redis-streams', err: message },
      'event broker unreachable; retrying',
    );
  }

  #up(): void {
    this.#everUp = true;
    if (!this.#down) return;
    this.#down = false;
    this.log.info(
      { plugin_id: this.group, broker: 'redis-streams' },
      'event broker reachable again',
    );
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

/**
 * `call`, rejected after `ms`: a client with an offline queue holds commands while Redis is away, and
 * neither `publish()` nor a consumer's stop may wait that long.
 */
async function bounded<T>(call: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      call,
      new Promise<never>((_, reject) => {
        timer = setTimeout(reject, ms, new Error(`no answer from redis in ${ms} ms`));
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Orders two stream ids (`<ms>-<seq>`). */
function compareIds(a: string, b: string): number {
  const [am = 0n, as = 0n] = a.split('-').map((n) => (/^\d+$/.test(n) ? BigInt(n) : 0n));
  const [bm = 0n, bs = 0n] = b.split('-').map((n) => (/^\d+$/.test(n) ? BigInt(n) : 0n));
  return am !== bm ? (am < bm ? -1 : 1) : as === bs ? 0 : as < bs ? -1 : 1;
}
