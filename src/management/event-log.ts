/**
 * `EventLog`: the gateway's recent events (status changes, crashes, breakers, health, unloads,
 * rollbacks), newest last, in a ring of bounded size, for the dashboard.
 * @module
 */
import type { PluginGateway } from '../core/gateway.js';

/** One event as the dashboard shows it. */
export interface LoggedEvent {
  /** Epoch ms. */
  t: number;
  /** The gateway event's name, e.g. `plugin:status`. */
  type: string;
  /** The plugin it is about. */
  plugin: string;
  /** A one-line description, plain text (the page escapes it). */
  message: string;
}

type Listener = (...args: never[]) => void;
type Describe = (...args: never[]) => { plugin: string; message: string } | undefined;

interface Named {
  name?: unknown;
  plugin?: unknown;
  status?: unknown;
  reason?: unknown;
  instance?: unknown;
}

const text = (v: unknown): string => (typeof v === 'string' ? v : '');
const nameOf = (v: Named | undefined): string => text(v?.plugin) || text(v?.name);

/** How each event becomes a line; by name, so events added later (`plugin:rollback`) are logged too. */
const DESCRIBE: Record<string, Describe> = {
  'plugin:status': (info: Named) => ({
    plugin: nameOf(info),
    message: `${text(info.status)}${(info as { disabled?: unknown }).disabled === true ? ' (disabled)' : ''}${info.reason ? `: ${text(info.reason)}` : ''}`,
  }),
  'plugin:crash': (event: Named & { recent?: unknown }) => ({
    plugin: nameOf(event),
    message: `crashed (${String(event.recent)} recently): ${text(event.reason)}`,
  }),
  'plugin:unloaded': (info: Named) => ({ plugin: nameOf(info), message: 'unloaded' }),
  'plugin:health': (info: Named, health: { status?: unknown }) => ({
    plugin: nameOf(info),
    message: `health ${text(health?.status)}`,
  }),
  'breaker:open': (e: Named) => ({
    plugin: nameOf(e),
    message: `breaker open on ${text(e.instance)}`,
  }),
  'breaker:half-open': (e: Named) => ({
    plugin: nameOf(e),
    message: `breaker half-open on ${text(e.instance)}`,
  }),
  'breaker:close': (e: Named) => ({
    plugin: nameOf(e),
    message: `breaker closed on ${text(e.instance)}`,
  }),
  'plugin:rollback': (e: Named & { from?: unknown; to?: unknown }) => ({
    plugin: nameOf(e),
    message: `rolled back from ${text(e.from) || 'a new version'} to ${text(e.to)}: ${text(e.reason)}`,
  }),
  'plugin:swap': (e: Named & { from?: unknown; to?: unknown }) => ({
    plugin: nameOf(e),
    message: `swapped from ${text(e.from)} to ${text(e.to)}`,
  }),
  'flag:changed': (e: Named & { flag?: unknown; value?: unknown }) => ({
    plugin: nameOf(e),
    message: `flag ${text(e.flag)} set to ${String(e.value)}`,
  }),
};

export class EventLog {
  readonly #events: LoggedEvent[] = [];
  readonly #listeners: [string, Listener][] = [];

  constructor(
    private readonly gateway: PluginGateway,
    private readonly capacity = 200,
  ) {}

  /** Starts listening to the gateway. */
  start(): void {
    if (this.#listeners.length > 0) return;
    const on = this.gateway.on as (event: string, listener: Listener) => unknown;
    for (const [type, describe] of Object.entries(DESCRIBE)) {
      const listener = (...args: never[]) => {
        const line = describe(...args);
        if (line) this.add({ t: Date.now(), type, ...line });
      };
      on.call(this.gateway, type, listener);
      this.#listeners.push([type, listener]);
    }
  }

  /** Stops listening; the events stay readable. */
  stop(): void {
    const off = this.gateway.off as (event: string, listener: Listener) => unknown;
    for (const [type, listener] of this.#listeners.splice(0))
      off.call(this.gateway, type, listener);
  }

  /** Adds a line (the alerts' changes come in this way too). */
  add(event: LoggedEvent): void {
    // A plugin's crash message is its own text: keep lines short whatever it wrote.
    event.message = event.message.slice(0, 500);
    this.#events.push(event);
    if (this.#events.length > this.capacity) this.#events.shift();
  }

  /** The recent events, newest first. */
  recent(): LoggedEvent[] {
    return [...this.#events].reverse();
  }
}
