/**
 * Domain events: delivery to the plugins that subscribe to a type, through their runtimes.
 * @module
 */
import { clip, RefusalLog } from './refusal-log.js';
import { wakeWithin } from './wake.js';
import { ownBody } from '../shared/own-bytes.js';
import { ErrorCodes } from '../errors.js';
import { matchesEventPattern } from '../shared/event-pattern.js';
import { isTaskFailure, type TaskFailure } from '../shared/task-failure.js';
import { logFailure } from './logging.js';
import type { ManagedPlugin } from '../plugins/managed-plugin.js';
import type { GatewayLogger } from '../shared/logger.js';
import { failureResponse, type ErrorBody } from '../shared/responses.js';
import type { DomainEvent } from '../shared/types.js';
import type {
  BrokerConsumer,
  BrokerEvent,
  DeliveryOutcome,
  EventBroker,
} from '../fleet/event-broker.js';

/** What `publish()` did with an event. */
export interface PublishResult {
  /** The event's id: the one it came with, or the one the gateway assigned. */
  id: string;
  /** Names of the plugins that handled the event. */
  delivered: string[];
  /**
   * The subscribers that did not handle it, with a `PGW_ERR_*` code and a message safe to show
   * (`PGW_ERR_PLUGIN_UNAVAILABLE` for a plugin that is not active).
   */
  failed: { plugin: string; code: string; message: string }[];
  /**
   * With a shared broker (`events.broker`): the broker's id of the stored event. Delivery to the
   * fleet's subscribers happens after `publish()` resolves, at least once; `delivered` and `failed` are empty.
   */
  entry?: string;
}

/** The plugins whose `permissions.events.subscribe` matches the type; a publisher never gets its own event. */
export function subscribersOf(
  plugins: Iterable<ManagedPlugin>,
  type: string,
  source?: string,
): ManagedPlugin[] {
  const out: ManagedPlugin[] = [];
  for (const p of plugins) {
    if (
      p.name !== source &&
      p.manifest.permissions.events.subscribe.some((s) => matchesEventPattern(type, s))
    ) {
      out.push(p);
    }
  }
  return out;
}

/** Delivers `event` to each subscriber in parallel; resolves when each has handled it or failed to. */
export async function deliverEvent(
  event: DomainEvent & { id: string },
  subscribers: ManagedPlugin[],
  timeoutMs: number,
  onFailure: (plugin: ManagedPlugin, failure: TaskFailure) => void,
): Promise<PublishResult> {
  const result: PublishResult = { id: event.id, delivered: [], failed: [] };
  await Promise.all(
    subscribers.map(async (p) => {
      if (p.asleep && !(await wakeWithin(p, timeoutMs))) {
        result.failed.push({
          plugin: p.name,
          code: ErrorCodes.PLUGIN_UNAVAILABLE,
          message: `plugin "${p.name}" is starting`,
        });
        return;
      }
      if (p.status !== 'active') {
        result.failed.push({
          plugin: p.name,
          code: ErrorCodes.PLUGIN_UNAVAILABLE,
          message: `plugin "${p.name}" is ${p.status}`,
        });
        return;
      }
      if (p.disabled) {
        result.failed.push({
          plugin: p.name,
          code: ErrorCodes.PLUGIN_DISABLED,
          message: `plugin "${p.name}" is disabled`,
        });
        return;
      }
      const outcome = await p.runtime.run({ t: 'evt', e: event }, timeoutMs);
      p.metrics.events++;
      if (isTaskFailure(outcome)) {
        const { error } = failureResponse(outcome, p.name, event.id).body as ErrorBody;
        result.failed.push({ plugin: p.name, code: error.code, message: error.message });
        onFailure(p, outcome);
      } else {
        result.delivered.push(p.name);
      }
    }),
  );
  return result;
}

/** What the event bus needs from the gateway. */
export interface EventBusOptions {
  plugins: () => Iterable<ManagedPlugin>;
  nextId: () => string;
  timeoutMs: number;
  log: GatewayLogger;
  /** The fleet's shared broker (`events.broker`); without one, events stay within this gateway. */
  broker?: EventBroker | undefined;
  /** This gateway's consumer name in the broker's groups. */
  nodeId: string;
  /** The plugin loaded under `name` now (after a swap, the new version). */
  plugin: (name: string) => ManagedPlugin | undefined;
}

/** Domain events between the host, the plugins and each other. */
export class EventBus {
  readonly #consumers = new Map<string, BrokerConsumer>();

  readonly #refusals: RefusalLog;

  constructor(readonly options: EventBusOptions) {
    this.#refusals = new RefusalLog(options.log);
  }

  /**
   * With a broker: starts this gateway's consumer for plugin `name` when it subscribes to events. The
   * consumer belongs to the name, not to one load of it, so a new version loaded under the same name
   * takes over its group's position: nothing lost, nothing delivered twice.
   */
  attach(name: string): void {
    const { broker, nodeId, log } = this.options;
    const plugin = this.options.plugin(name);
    if (!broker || this.#consumers.has(name) || !plugin) return;
    if (plugin.manifest.permissions.events.subscribe.length === 0) return;
    this.#consumers.set(
      name,
      broker.consume(name, nodeId, (event) => this.#deliverShared(name, event), log),
    );
  }

  /** Stops plugin `name`'s consumer; resolves once its deliveries in flight have finished. */
  async detach(name: string): Promise<void> {
    const consumer = this.#consumers.get(name);
    this.#consumers.delete(name);
    await consumer?.stop();
  }

  /** Stops every consumer and the broker's own connections. */
  async close(): Promise<void> {
    await Promise.all([...this.#consumers.keys()].map((name) => this.detach(name)));
    await this.options.broker?.close();
  }

  async #deliverShared(name: string, event: BrokerEvent): Promise<DeliveryOutcome> {
    const plugin = this.options.plugin(name);
    if (!plugin) return 'unavailable';
    if (
      event.source === name ||
      !plugin.manifest.permissions.events.subscribe.some((s) => matchesEventPattern(event.type, s))
    ) {
      return 'done';
    }
    // Disabled: no events (`disable()`); left to a gateway where it is enabled, or to the dead letters.
    if (plugin.status !== 'active' || plugin.disabled) return 'unavailable';
    const outcome = await plugin.runtime.run({ t: 'evt', e: event }, this.options.timeoutMs);
    plugin.metrics.events++;
    if (!isTaskFailure(outcome)) return 'done';
    logFailure(this.options.log, plugin.name, plugin.manifest.version, event.id, outcome);
    return 'failed';
  }

  /** Delivers to the subscribers of the event's type; `source` (a plugin) never gets its own event. */
  deliver(input: DomainEvent, source: string | undefined): Promise<PublishResult> {
    const { log } = this.options;
    const event = {
      ...input,
      // Exact-size copies of byte views: a view on a pooled buffer would carry its neighbours along.
      payload: ownBody(input.payload),
      id: input.id ?? this.options.nextId(),
      timestamp: input.timestamp ?? Date.now(),
      ...(source ? { source } : {}),
    };
    const { broker } = this.options;
    if (broker) {
      return broker
        .publish(event)
        .then((entry) => ({ id: event.id, delivered: [], failed: [], entry }));
    }
    const subscribers = subscribersOf(this.options.plugins(), event.type, source);
    return deliverEvent(event, subscribers, this.options.timeoutMs, (plugin, failure) =>
      logFailure(log, plugin.name, plugin.manifest.version, event.id, failure),
    );
  }

  /**
   * An event a plugin published. Its permission is checked here, on the host, against the manifest's
   * `permissions.events.publish` (the thread's own check only gives the plugin a clear error): an
   * event it may not publish is refused and logged. Delivery failures are logged.
   */
  async fromPlugin(source: ManagedPlugin, event: DomainEvent): Promise<void> {
    if (
      !source.manifest.permissions.events.publish.some((p) => matchesEventPattern(event.type, p))
    ) {
      this.#refusals.warn(
        source.name,
        { plugin_id: source.name, event_type: event.type, code: ErrorCodes.EVENT_NOT_PERMITTED },
        `plugin "${source.name}" may not publish "${clip(event.type)}" (permissions.events.publish); event refused`,
      );
      return;
    }
    let result: PublishResult;
    try {
      result = await this.deliver(event, source.name);
    } catch (error) {
      // A payload the host will not copy (nested too deep): the publisher's fault, never the host's.
      this.#refusals.warn(
        source.name,
        { plugin_id: source.name, event_type: event.type, err: error },
        `event from plugin "${source.name}" refused`,
      );
      return;
    }
    for (const f of result.failed) {
      this.options.log.warn(
        { plugin_id: f.plugin, event_type: event.type, source: source.name, code: f.code },
        f.message,
      );
    }
  }
}
