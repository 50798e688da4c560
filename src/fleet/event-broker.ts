/**
 * The contract of a shared event broker: what lets `publish()` on one gateway reach the subscribed
 * plugins of every gateway of the fleet, once per plugin name, at least once. `redisStreams()`
 * (`redis-streams.ts`) is the one the gateway ships.
 * @module
 */
import type { DomainEvent } from '../shared/types.js';

/** An event as the broker carries it: the gateway has given it an id and a timestamp. */
export type BrokerEvent = DomainEvent & { id: string; timestamp: number };

/**
 * What one delivery came to: `'done'` (handled, or not for this plugin: acknowledged), `'failed'` (the
 * handler threw or timed out: left pending, delivered again later), `'unavailable'` (the plugin is not
 * active here: left pending without counting as the handler's failure where the broker can tell).
 */
export type DeliveryOutcome = 'done' | 'failed' | 'unavailable';

/** One consumer: a plugin name on this gateway. */
export interface BrokerConsumer {
  /**
   * Stops taking new events and resolves when the deliveries in flight have finished (and were
   * acknowledged or left pending). Events it did not acknowledge go to another consumer of the group.
   */
  stop(): Promise<void>;
}

/** What the gateway asks of a shared event broker. */
export interface EventBroker {
  /** A short name for logs, e.g. `redis-streams`. */
  readonly kind: string;
  /**
   * Stores the event for the fleet; resolves with the broker's id of it once stored.
   * @throws {EventBrokerUnavailableError} when the broker cannot store it now.
   */
  publish(event: BrokerEvent): Promise<string>;
  /**
   * Starts consuming for plugin `group` as `consumer` (the gateway's node id): `deliver` is called for
   * each event of the group's share, and again for those it did not finish.
   */
  consume(
    group: string,
    consumer: string,
    deliver: (event: BrokerEvent) => Promise<DeliveryOutcome>,
    log: BrokerLog,
  ): BrokerConsumer;
  /**
   * The gateway hands the broker its fleet secret (`node.secret`) before it publishes or consumes: the
   * broker then seals what it stores and delivers only what a holder of the secret stored. A broker
   * without this method carries events unauthenticated.
   */
  useFleetSecret?(secret: string): void;
  /** Stops every consumer (see {@link BrokerConsumer.stop}) and releases the broker's connections. */
  close(): Promise<void>;
}

/** Where a broker reports what goes wrong (the gateway's logger, with the plugin's name). */
export interface BrokerLog {
  /** Something the host should know: the broker is unreachable, an event was dead-lettered. */
  warn(fields: Record<string, unknown>, message: string): void;
  /** The broker is reachable again. */
  info(fields: Record<string, unknown>, message: string): void;
}
