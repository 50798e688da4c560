/**
 * A plugin's publish/subscribe topics, on the host: topic to the connections subscribed to it. Each
 * plugin (all its versions: a swap's old and new versions share their rooms) has a table of its own,
 * so a plugin can neither publish to another's topics nor see who is subscribed to them; a message
 * published once reaches every subscriber, whichever thread, instance or version serves it. Bounded: a
 * connection holds at most `MAX_TOPICS_PER_CONNECTION` topics, and a plugin has a table only while it
 * has a connection open.
 * @module
 */
import type { LiveData } from '../loader/runtime.js';

/** The most topics one connection may be subscribed to (more are ignored). */
export const MAX_TOPICS_PER_CONNECTION = 256;

/** A connection as topics see it. */
export interface Subscriber {
  send(data: LiveData): void;
}

export class TopicTable {
  readonly #topics = new Map<string, Set<Subscriber>>();
  readonly #held = new Map<Subscriber, Set<string>>();

  subscribe(topic: string, who: Subscriber): void {
    let held = this.#held.get(who);
    if (!held) this.#held.set(who, (held = new Set()));
    if (held.has(topic) || held.size >= MAX_TOPICS_PER_CONNECTION) return;
    held.add(topic);
    let set = this.#topics.get(topic);
    if (!set) this.#topics.set(topic, (set = new Set()));
    set.add(who);
  }

  unsubscribe(topic: string, who: Subscriber): void {
    this.#held.get(who)?.delete(topic);
    const set = this.#topics.get(topic);
    if (!set) return;
    set.delete(who);
    if (set.size === 0) this.#topics.delete(topic);
  }

  /** To every subscriber of `topic` but `from`. */
  publish(topic: string, data: LiveData, from: Subscriber | undefined): void {
    const set = this.#topics.get(topic);
    if (!set) return;
    for (const who of set) if (who !== from) who.send(data);
  }

  /** Drops every subscription of a connection that ended. */
  leave(who: Subscriber): void {
    for (const topic of this.#held.get(who) ?? []) this.unsubscribe(topic, who);
    this.#held.delete(who);
  }

  /** Subscribers of `topic`. */
  count(topic: string): number {
    return this.#topics.get(topic)?.size ?? 0;
  }
}

/**
 * The topic tables of every plugin with a connection on this gateway, by plugin name: a table is made
 * at a plugin's first connection and dropped at its last close (an unload closes them all), so the
 * map holds no more names than plugins with connections open.
 */
export class PluginTopics {
  readonly #tables = new Map<string, { table: TopicTable; connections: number }>();

  /** The table of `plugin`, for one more connection of it. */
  join(plugin: string): TopicTable {
    let entry = this.#tables.get(plugin);
    if (!entry) this.#tables.set(plugin, (entry = { table: new TopicTable(), connections: 0 }));
    entry.connections++;
    return entry.table;
  }

  /** One connection of `plugin` ended; once none is left, its table goes. */
  leave(plugin: string): void {
    const entry = this.#tables.get(plugin);
    if (entry && --entry.connections <= 0) this.#tables.delete(plugin);
  }
}
