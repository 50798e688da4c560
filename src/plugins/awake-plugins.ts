/**
 * `AwakePlugins`: the lazy plugins that are awake (booted), at most `maxAwake`. A wake past the cap puts
 * the least recently used idle one back to sleep first — never one serving a request, holding a queued
 * one or an open connection — and waits while none is idle, so a caller who knows every route cannot
 * keep more than `maxAwake` lazy plugins' threads alive.
 * @module
 */
import type { ManagedPlugin } from './managed-plugin.js';

/** How often a wake waiting for a place looks again (a place also frees at once on a release). */
const RECHECK_MS = 25;

/** What the set needs from the gateway. */
export interface AwakeHost {
  /** Whether the plugin is still the one loaded under its name, in a running gateway. */
  isCurrent(plugin: ManagedPlugin): boolean;
  /** Puts an awake plugin back to sleep (it is out of the set already). */
  sleep(plugin: ManagedPlugin): void;
}

export class AwakePlugins {
  readonly #awake = new Set<ManagedPlugin>();
  readonly #max: number;
  readonly #host: AwakeHost;
  #changed: (() => void)[] = [];

  constructor(max: number, host: AwakeHost) {
    this.#max = max;
    this.#host = host;
  }

  /** Lazy plugins awake now. */
  get size(): number {
    return this.#awake.size;
  }

  /**
   * Resolves once the plugin holds a place among the awake (made by putting the least recently used
   * idle one to sleep when the set is full); waits while every awake plugin is busy.
   * @throws {Error} when the plugin is unloaded (or the gateway stops) while it waits.
   */
  async admit(plugin: ManagedPlugin): Promise<void> {
    for (;;) {
      if (!this.#host.isCurrent(plugin)) throw new Error(`plugin "${plugin.name}" was unloaded`);
      if (this.#awake.has(plugin)) return;
      if (this.#awake.size < this.#max) {
        this.#awake.add(plugin);
        return;
      }
      const victim = this.#leastRecentlyUsedIdle();
      if (victim) {
        this.#awake.delete(victim);
        this.#awake.add(plugin);
        this.#host.sleep(victim);
        return;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, RECHECK_MS);
        this.#changed.push(() => (clearTimeout(timer), resolve()));
      });
    }
  }

  /** The plugin is no longer awake (its boot failed, it crashed for good, it was unloaded). */
  release(plugin: ManagedPlugin): void {
    if (!this.#awake.delete(plugin)) return;
    const waiting = this.#changed;
    this.#changed = [];
    for (const wake of waiting) wake();
  }

  #leastRecentlyUsedIdle(): ManagedPlugin | undefined {
    let found: ManagedPlugin | undefined;
    for (const p of this.#awake) {
      if (!isIdle(p)) continue;
      if (!found || p.lastUsed < found.lastUsed) found = p;
    }
    return found;
  }
}

/** Awake and doing nothing: no request in flight or queued, no open connection, no boot under way. */
function isIdle(plugin: ManagedPlugin): boolean {
  return (
    plugin.status === 'active' &&
    !plugin.asleep &&
    plugin.waking === undefined &&
    plugin.bulkhead.running === 0 &&
    plugin.bulkhead.queued === 0 &&
    plugin.runtime.stats().inFlight === 0 &&
    plugin.openConnections === 0
  );
}
