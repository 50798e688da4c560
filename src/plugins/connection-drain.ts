/**
 * `ConnectionDrains`: a version swapped out while it holds open connections (WebSockets, streamed
 * responses) keeps them until they close or its drain deadline passes; then they are closed 1012
 * (service restart) and the version ends. New connections go to the version routed to meanwhile. An
 * unload or a stop cuts the drains of the plugin at once (their connections close 1001).
 * @module
 */
import type { GatewayLogger } from '../shared/logger.js';
import type { DrainingVersion, ManagedPlugin } from './managed-plugin.js';

/** How often a draining version's connections are counted. */
const POLL_MS = 100;
/** WebSocket close code for connections a drain deadline ends: the service restarts. */
export const SERVICE_RESTART = 1012;
/** After closing them, how long connections get to finish their closing handshake. */
const CLOSE_GRACE_MS = 2500;

interface Drain extends DrainingVersion {
  /** Ends the wait now (an unload or stop). */
  cut(): void;
  /** Settles when the version has ended. */
  done: Promise<void>;
}

/** Open connections and streams of a version. */
export function openConnections(plugin: ManagedPlugin): number {
  return plugin.openConnections;
}

export class ConnectionDrains {
  readonly #drains = new Map<string, Set<Drain>>();
  readonly #log: GatewayLogger;

  constructor(log: GatewayLogger) {
    this.#log = log;
  }

  /** The versions of `name` draining now, oldest first. */
  of(name: string): readonly DrainingVersion[] {
    return [...(this.#drains.get(name) ?? [])];
  }

  /**
   * Waits (at most `drainMs`) for `plugin`'s connections to close, closes those left 1012, then ends
   * it with `end` (its `stop()` and threads, within the budget `end` is given).
   */
  start(plugin: ManagedPlugin, drainMs: number, end: () => Promise<void>): Promise<void> {
    let cut = false;
    let wake: () => void = () => {};
    const drain: Drain = {
      plugin,
      until: Date.now() + drainMs,
      cut: () => {
        cut = true;
        wake();
      },
      done: Promise.resolve(),
    };
    const sleep = () =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, POLL_MS);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    let set = this.#drains.get(plugin.name);
    if (!set) this.#drains.set(plugin.name, (set = new Set()));
    set.add(drain);
    const { name, version } = plugin;
    this.#log.info(
      { plugin_id: name, version, connections: openConnections(plugin), drain_ms: drainMs },
      `plugin "${name}" ${version} keeps its open connections for up to ${drainMs} ms`,
    );
    const run = async () => {
      while (!cut && openConnections(plugin) > 0 && Date.now() < drain.until) await sleep();
      const left = openConnections(plugin);
      if (!cut && left > 0) {
        this.#log.info(
          { plugin_id: name, version, connections: left },
          `plugin "${name}" ${version}: drain deadline passed, closing ${left} connections ${SERVICE_RESTART}`,
        );
        for (const instance of plugin.instances) {
          if ((instance.runtime.stats().connections ?? 0) > 0) {
            instance.runtime.live?.().closeAll(SERVICE_RESTART, 'service restart');
          }
        }
        // Clients answer the close and the plugin's close handlers see 1012 before the version ends.
        const grace = Date.now() + CLOSE_GRACE_MS;
        while (!cut && openConnections(plugin) > 0 && Date.now() < grace) await sleep();
      }
      await end();
    };
    drain.done = run().finally(() => {
      set.delete(drain);
      if (set.size === 0 && this.#drains.get(name) === set) this.#drains.delete(name);
    });
    return drain.done;
  }

  /** Ends the drains of `name` now and waits for their versions to end. */
  async cut(name: string): Promise<void> {
    const drains = [...(this.#drains.get(name) ?? [])];
    for (const drain of drains) drain.cut();
    await Promise.all(drains.map((d) => d.done));
  }

  /** Ends every drain now (the gateway stops). */
  async cutAll(): Promise<void> {
    await Promise.all([...this.#drains.keys()].map((name) => this.cut(name)));
  }
}
