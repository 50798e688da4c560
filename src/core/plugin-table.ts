/**
 * `PluginTable`: the gateway's loaded plugins and what keeps them consistent — their routes, their
 * records in the discovery registry, their status (with its event), their start (or wait for a missing
 * dependency) and their removal within one `stopTimeout` budget.
 * @module
 */
import type { Fleet } from '../fleet/fleet.js';
import type { Served } from '../mesh/instances.js';
import { ConnectionDrains, openConnections } from '../plugins/connection-drain.js';
import type { ManagedPlugin } from '../plugins/managed-plugin.js';
import { Supervisor } from '../plugins/supervisor.js';
import type { DiscoveryRegistry, InstanceRecord } from '../registry/registry.js';
import type { GatewayLogger } from '../shared/logger.js';
import type { PluginStatus } from '../shared/types.js';
import type { GatewayEmit } from './join-fleet.js';
import type { Router } from './router.js';
import type { ServiceCalls } from './service-calls.js';

/** What the table needs from the gateway. */
export interface PluginTableParts {
  log: GatewayLogger;
  emit: GatewayEmit;
  router: Router<Served>;
  registry: DiscoveryRegistry;
  nodeId: string;
  /** Where this gateway's listener serves (`node.address`), for the registry records. */
  address: string | undefined;
  /** Seals a record with the fleet's secret before it is registered. */
  seal(record: InstanceRecord): InstanceRecord;
  bootTimeoutMs: number;
  /** How many plugins boot at once (`bootConcurrency`). */
  bootConcurrency: number;
  /** Most lazy plugins awake at once (`maxAwake`). */
  maxAwake: number;
  stopTimeoutMs: number;
  started(): boolean;
  stopped(): boolean;
  calls(): ServiceCalls;
  fleet(): Fleet | undefined;
}

export class PluginTable {
  readonly #plugins = new Map<string, ManagedPlugin>();
  /** Plugins waiting for a dependency: every plugin becoming `active` looks at these, not at all plugins. */
  readonly #waiting = new Set<ManagedPlugin>();
  /**
   * Versions being swapped in (booted and supervised, not yet routed to as the plugin) and versions kept
   * warm beside the one routed to: supervised like it, never in the table or the registry.
   */
  readonly standby = new Set<ManagedPlugin>();
  readonly supervisor: Supervisor;
  /** Swapped-out versions that keep their open connections for a while. */
  readonly drains: ConnectionDrains;

  constructor(readonly parts: PluginTableParts) {
    this.drains = new ConnectionDrains(parts.log);
    this.supervisor = new Supervisor({
      log: parts.log,
      bootTimeoutMs: parts.bootTimeoutMs,
      bootConcurrency: parts.bootConcurrency,
      maxAwake: parts.maxAwake,
      stopTimeoutMs: parts.stopTimeoutMs,
      booted: (event) => parts.emit('plugin:boot', event),
      setStatus: (plugin, to, reason) => this.setStatus(plugin, to, reason),
      isCurrent: (plugin) =>
        !parts.stopped() && (this.#plugins.get(plugin.name) === plugin || this.standby.has(plugin)),
      crashed: (event) => parts.emit('plugin:crash', event),
      healthChecked: (plugin, health) => {
        const previous = plugin.lastHealth?.status;
        plugin.setHealth(health);
        if (health.status !== previous) parts.emit('plugin:health', plugin.info(), health);
      },
    });
  }

  get size(): number {
    return this.#plugins.size;
  }

  /** The loaded plugins, by name. */
  get map(): ReadonlyMap<string, ManagedPlugin> {
    return this.#plugins;
  }

  get(name: string): ManagedPlugin | undefined {
    return this.#plugins.get(name);
  }

  values(): IterableIterator<ManagedPlugin> {
    return this.#plugins.values();
  }

  /**
   * Takes the plugin in and routes its endpoints, or leaves everything as it was.
   * @throws {RouteConflictError} when another plugin serves one of its endpoints.
   */
  async add(plugin: ManagedPlugin): Promise<void> {
    const { name, manifest } = plugin;
    plugin.wake = () => this.supervisor.wake(plugin);
    plugin.draining = () => this.drains.of(name);
    this.#plugins.set(name, plugin);
    this.parts.fleet()?.localChanged(name);
    try {
      this.parts.router.add(name, plugin, manifest.endpoints);
    } catch (error) {
      this.#plugins.delete(name);
      this.parts.fleet()?.localChanged(name);
      await plugin.runtime.close(0);
      throw error;
    }
    this.parts.emit('plugin:status', plugin.info(), undefined);
  }

  /** Routes away from the plugin, lets its requests finish and ends it, all within `budgetMs`. */
  async discard(plugin: ManagedPlugin, budgetMs = this.parts.stopTimeoutMs): Promise<void> {
    const end = performance.now() + budgetMs;
    this.supervisor.cancel(plugin);
    plugin.bulkhead.close();
    this.parts.router.remove(plugin.name, plugin.manifest.endpoints);
    this.#plugins.delete(plugin.name);
    this.#waiting.delete(plugin);
    this.parts.fleet()?.localChanged(plugin.name);
    const { registry } = this.parts;
    await Promise.all(plugin.instances.map((i) => registry.deregister(i.id).catch(() => {})));
    await plugin.runtime.drain(Math.max(0, end - performance.now() - budgetMs / 2));
    await Promise.all([
      plugin.runtime.close(Math.max(0, end - performance.now())),
      this.drains.cut(plugin.name),
    ]);
  }

  /**
   * Makes `next` the plugin routed to in place of `previous`, in one synchronous step: routes (added,
   * removed, re-pointed), table and fleet view change together; then the registry records follow.
   * @throws {RouteConflictError} when another plugin took one of `next`'s endpoints meanwhile.
   */
  promote(next: ManagedPlugin, previous: ManagedPlugin): void {
    const { name } = next;
    this.parts.router.replace(name, next, previous.manifest.endpoints, next.manifest.endpoints);
    // A lazy version can go back to sleep (maxAwake) like any other: its next request must wake it.
    next.wake = () => this.supervisor.wake(next);
    next.draining = () => this.drains.of(name);
    this.#plugins.set(name, next);
    this.standby.delete(next);
    this.parts.fleet()?.localChanged(name);
    const { registry } = this.parts;
    void Promise.all(previous.instances.map((i) => registry.deregister(i.id).catch(() => {})));
    void this.register(next);
  }

  /**
   * Ends a version that is no longer routed to (a swapped-out or given-up one): its requests in flight
   * finish (those still queued in its bulkhead too), its `stop()` runs and its threads end, all within
   * `budgetMs`. Its routes are not touched: they lead to the version that replaced it. With
   * `connectionDrainMs`, open connections keep it up (past this promise) until they close or that
   * deadline passes, then are closed 1012 (`ConnectionDrains`); without, they are closed 1001.
   */
  async retire(
    plugin: ManagedPlugin,
    reason: string,
    budgetMs = this.parts.stopTimeoutMs,
    connectionDrainMs?: number,
  ): Promise<void> {
    const end = performance.now() + budgetMs;
    this.standby.delete(plugin);
    this.supervisor.cancel(plugin);
    const half = end - budgetMs / 2;
    while (plugin.bulkhead.queued > 0 && performance.now() < half) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await plugin.runtime.drain(Math.max(0, half - performance.now()));
    plugin.bulkhead.close();
    this.setStatus(plugin, 'inactive', reason);
    const loaded = this.#plugins.has(plugin.name) && !this.parts.stopped();
    if (connectionDrainMs !== undefined && loaded && openConnections(plugin) > 0) {
      const budget = this.parts.stopTimeoutMs;
      void this.drains.start(plugin, connectionDrainMs, () => plugin.runtime.close(budget));
      return;
    }
    await plugin.runtime.close(Math.max(0, end - performance.now()));
  }

  /** Records the plugin's instances; while the registry fails, tries again every second (never throws). */
  async register(plugin: ManagedPlugin): Promise<void> {
    this.parts.fleet()?.statusChanged();
    const records = plugin
      .records(this.parts.nodeId, this.parts.address)
      .map((r) => this.parts.seal(r));
    try {
      await Promise.all(records.map((r) => this.parts.registry.register(r)));
    } catch (error) {
      this.parts.log.warn(
        { plugin_id: plugin.name, err: error },
        'registry update failed; retrying',
      );
      setTimeout(() => {
        if (this.#plugins.get(plugin.name) === plugin) void this.register(plugin);
      }, 1000).unref();
    }
  }

  /**
   * Starts the plugin — boots it when it is warm, or checks its code without running it and makes it
   * `active` asleep until its first request —
   * or leaves it `loading` with the reason while a dependency is missing.
   */
  async bootOrWait(plugin: ManagedPlugin): Promise<void> {
    const missing = this.parts.calls().missing(plugin.manifest);
    plugin.waiting = missing.length > 0;
    if (plugin.waiting) this.#waiting.add(plugin);
    else this.#waiting.delete(plugin);
    if (!plugin.waiting) {
      if (plugin.warm) return this.supervisor.boot(plugin);
      // Lazy: its code is checked now without running it, so that a broken plugin fails here.
      await plugin.checkCode();
      if (this.#plugins.get(plugin.name) !== plugin || this.parts.stopped()) return;
      return this.supervisor.startAsleep(plugin);
    }
    const reason = `waiting for dependencies: ${missing.join(', ')}`;
    if (plugin.reason !== reason) this.setStatus(plugin, 'loading', reason);
  }

  /** Starts the plugin, or marks it `failed` with the reason (never throws). */
  async startOrFail(plugin: ManagedPlugin): Promise<void> {
    await this.bootOrWait(plugin).catch((error: Error) => {
      this.parts.log.error(
        { plugin_id: plugin.name, err: error },
        `plugin "${plugin.name}" failed to start`,
      );
      this.setStatus(plugin, 'failed', error.message);
    });
  }

  /** A dependency may have appeared: start the plugins that were waiting for one. */
  bootWaiting(): void {
    if (!this.parts.started() || this.parts.stopped()) return;
    if (this.#waiting.size === 0) return;
    for (const plugin of [...this.#waiting]) {
      if (plugin.waiting && this.#plugins.get(plugin.name) === plugin)
        void this.startOrFail(plugin);
      else this.#waiting.delete(plugin);
    }
  }

  /** Moves the plugin to `to` when its lifecycle allows, with the event and the registry record. */
  setStatus(plugin: ManagedPlugin, to: PluginStatus, reason?: string): void {
    const previous = plugin.status;
    if (!plugin.transition(to, reason) || previous === to) return;
    this.parts.emit('plugin:status', plugin.info(), previous);
    if (to === 'active') this.bootWaiting();
    if (this.#plugins.get(plugin.name) === plugin) void this.register(plugin);
  }
}
