/**
 * `Supervisor`: starts plugins (one thread runs `initialize`/`start`, and the routes are checked against
 * the manifest) and restarts them after a crash, with backoff, until the crash policy gives up.
 * @module
 */
import { PluginLoadError } from '../errors.js';
import type { ManagedPlugin } from './managed-plugin.js';
import type { GatewayLogger } from '../shared/logger.js';
import { parseDuration } from '../shared/duration.js';
import type { HealthStatus, PluginStatus } from '../shared/types.js';

/** A plugin's threads died on their own. */
export interface CrashEvent {
  /** Name of the plugin. */
  plugin: string;
  /** What ended the thread: the error it died of, or its `process.exit()` code. */
  reason: string;
  /** Crashes within the restart window, this one included. */
  recent: number;
  /**
   * When the plugin will try to serve again; absent when it has become `failed`, or when a restart
   * was already pending (that wait stands).
   */
  restartInMs?: number;
}

/** What the supervisor needs from the gateway. */
export interface SupervisorHost {
  readonly log: GatewayLogger;
  /** How long a plugin may take in `initialize()` + `start()` on its first thread (`bootTimeout`). */
  readonly bootTimeoutMs: number;
  setStatus(plugin: ManagedPlugin, to: PluginStatus, reason?: string): void;
  /** A periodic health check came back. */
  healthChecked(plugin: ManagedPlugin, health: HealthStatus): void;
  /** Whether the plugin is still loaded in a running gateway. */
  isCurrent(plugin: ManagedPlugin): boolean;
  crashed(event: CrashEvent): void;
}

export class Supervisor {
  constructor(readonly host: SupervisorHost) {}

  /**
   * Starts the plugin and makes it `active`.
   * @throws {PluginBootTimeoutError} when `initialize()`/`start()` outlast `bootTimeout`.
   * @throws {PluginLoadError} when it fails to start or its routes do not cover its manifest.
   */
  async boot(plugin: ManagedPlugin): Promise<void> {
    this.host.setStatus(plugin, 'loading', 'starting');
    const report = await plugin.runtime.boot(this.host.bootTimeoutMs);
    const missing = plugin.manifest.endpoints
      .map((e) => `${e.method} ${e.path}`)
      .filter((key) => !report.routes.includes(key));
    if (missing.length > 0) {
      throw new PluginLoadError(
        `plugin "${plugin.name}" declares endpoints in plugin.yaml that its routes do not handle: ${missing.join(', ')}`,
        { plugin: plugin.name },
      );
    }
    const declared = new Set(plugin.manifest.endpoints.map((e) => `${e.method} ${e.path}`));
    const undeclared = report.routes.filter((key) => !declared.has(key));
    if (undeclared.length > 0) {
      // Served by nothing: the gateway routes only what plugin.yaml declares.
      this.host.log.warn(
        { plugin_id: plugin.name, routes: undeclared },
        `plugin defines routes that plugin.yaml does not declare (they are not served): ${undeclared.join(', ')}`,
      );
    }
    if (plugin.manifest.permissions.events.subscribe.length > 0 && !report.handlesEvents) {
      this.host.log.warn(
        { plugin_id: plugin.name },
        'plugin subscribes to events but defines no handleEvent()',
      );
    }
    plugin.setHealth(report.health);
    if (!this.host.isCurrent(plugin)) return;
    this.host.setStatus(plugin, 'active');
    this.#watchHealth(plugin);
  }

  /**
   * Checks the plugin's health every `health_check.interval` while it is active. The check goes to live
   * threads only: an idle plugin is not woken, and keeps its last known health.
   */
  #watchHealth(plugin: ManagedPlugin): void {
    clearInterval(plugin.healthTimer);
    const { interval, timeout } = plugin.manifest.health_check;
    const timeoutMs = parseDuration(timeout)!;
    let checking = false;
    plugin.healthTimer = setInterval(() => {
      if (checking || plugin.status !== 'active') return;
      checking = true;
      plugin.runtime
        .checkHealth(timeoutMs)
        .then(
          (health) =>
            health && this.host.isCurrent(plugin) && this.host.healthChecked(plugin, health),
        )
        .finally(() => (checking = false));
    }, parseDuration(interval)!).unref();
  }

  /** A thread of the plugin died on its own: restart after a backoff, or give up. */
  crashed(plugin: ManagedPlugin, reason: string): void {
    if (!this.host.isCurrent(plugin) || plugin.status === 'failed' || plugin.status === 'inactive')
      return;
    const recent = plugin.crashes.record();
    this.host.log.error(
      { plugin_id: plugin.name, version: plugin.manifest.version, reason, recent },
      'plugin thread crashed',
    );
    if (plugin.crashes.exhausted(recent)) {
      this.cancel(plugin);
      const windowSeconds = plugin.crashes.options.window / 1000;
      this.host.setStatus(
        plugin,
        'failed',
        `crashed ${recent} times within ${windowSeconds}s; last: ${reason}`,
      );
      this.host.crashed({ plugin: plugin.name, reason, recent });
      void plugin.runtime.close(0);
      return;
    }
    if (plugin.restartTimer) {
      // Already waiting to restart: this crash counts, the wait stands.
      this.host.crashed({ plugin: plugin.name, reason, recent });
      return;
    }
    const delay = plugin.crashes.delay(recent);
    plugin.retryAfterSeconds = Math.max(1, Math.ceil(delay / 1000));
    this.host.setStatus(plugin, 'loading', `restarting in ${delay} ms after a crash: ${reason}`);
    this.host.crashed({ plugin: plugin.name, reason, recent, restartInMs: delay });
    plugin.restartTimer = setTimeout(() => {
      plugin.restartTimer = undefined;
      this.boot(plugin).catch((error: Error) => this.crashed(plugin, error.message));
    }, delay);
  }

  /** Drops a pending restart and the health checks. */
  cancel(plugin: ManagedPlugin): void {
    clearTimeout(plugin.restartTimer);
    plugin.restartTimer = undefined;
    clearInterval(plugin.healthTimer);
    plugin.healthTimer = undefined;
  }
}
