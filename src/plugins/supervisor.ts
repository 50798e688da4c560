/**
 * `Supervisor`: starts plugins (one thread runs `initialize`/`start`, and the routes are checked against
 * the manifest) and restarts them after a crash, with backoff, until the crash policy gives up.
 * @module
 */
import { PluginContentChangedError, PluginLoadError } from '../errors.js';
import { contentChangedMessage, currentHash } from '../loader/content-check.js';
import type { ManagedPlugin } from './managed-plugin.js';
import type { GatewayLogger } from '../shared/logger.js';
import { parseDuration } from '../shared/duration.js';
import type { HealthStatus, PluginStatus } from '../shared/types.js';
import { BootQueue } from './boot-queue.js';
import { AwakePlugins } from './awake-plugins.js';

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

/** A plugin's boot ended (at `start()`, `load()`, a restart, or a lazy plugin's first request). */
export interface BootEvent {
  /** Name of the plugin. */
  plugin: string;
  /** Whether it booted; when not, the plugin is `failed` (or restarts after a crash). */
  ok: boolean;
  /** Why it did not boot (when `ok` is false). */
  error?: string;
  /** From the moment its turn came to the end of `initialize()` + `start()`, in ms. */
  durationMs: number;
  /** Whether it was a lazy plugin woken by its first request. */
  wake: boolean;
  /** Boots still queued or under way, this one excluded: 0 when the gateway has none left. */
  pending: number;
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
  /** How many plugins boot at once (`bootConcurrency`). */
  readonly bootConcurrency: number;
  /** A boot ended. */
  booted(event: BootEvent): void;
  /** Most lazy plugins awake at once (`maxAwake`). */
  readonly maxAwake: number;
  /** How long a plugin put back to sleep has to finish what it runs and stop (`stopTimeout`). */
  readonly stopTimeoutMs: number;
}

export class Supervisor {
  /** A plugin's `health_check.endpoint` when its routes serve `GET` on it (seen at its boot). */
  readonly #healthRoutes = new WeakMap<ManagedPlugin, string | undefined>();
  readonly #queue: BootQueue;
  /** The lazy plugins awake, at most `maxAwake`. */
  readonly awake: AwakePlugins;

  constructor(readonly host: SupervisorHost) {
    this.#queue = new BootQueue(host.bootConcurrency);
    this.awake = new AwakePlugins(host.maxAwake, {
      isCurrent: (plugin) => host.isCurrent(plugin),
      sleep: (plugin) => {
        clearInterval(plugin.healthTimer);
        plugin.healthTimer = undefined;
        host.log.info(
          { plugin_id: plugin.name, maxAwake: host.maxAwake },
          `plugin "${plugin.name}" goes back to sleep: maxAwake (${host.maxAwake}) lazy plugins are awake and it was the least recently used`,
        );
        void plugin.sleep(host.stopTimeoutMs);
      },
    });
  }

  /**
   * Starts the plugin and makes it `active`, once its turn in the boot queue comes.
   * @throws {PluginBootTimeoutError} when `initialize()`/`start()` outlast `bootTimeout`.
   * @throws {PluginLoadError} when it fails to start or its routes do not cover its manifest.
   */
  async boot(plugin: ManagedPlugin): Promise<void> {
    this.host.setStatus(plugin, 'loading', 'starting');
    await this.#queued(plugin, false);
    if (!this.host.isCurrent(plugin)) return;
    this.host.setStatus(plugin, 'active');
    this.#watchHealth(plugin);
  }

  /** Makes the plugin `active` without a thread: its first request wakes it ({@link Supervisor.wake}). */
  startAsleep(plugin: ManagedPlugin): void {
    plugin.asleep = true;
    this.host.setStatus(plugin, 'active');
  }

  /**
   * Boots a plugin that is `asleep`; the requests arriving meanwhile wait for the same boot. Never
   * rejects: a boot that fails leaves the plugin `failed`, with the reason, and its threads ended.
   */
  wake(plugin: ManagedPlugin): Promise<void> {
    plugin.waking ??= this.awake
      .admit(plugin)
      .then(() => this.#queued(plugin, true))
      .then(
        () => {
          plugin.asleep = false;
          plugin.waking = undefined;
          if (this.host.isCurrent(plugin)) this.#watchHealth(plugin);
        },
        (error: Error) => {
          plugin.asleep = false;
          plugin.waking = undefined;
          this.awake.release(plugin);
          void plugin.runtime.close(0);
          // Unloaded (or the gateway stopped) while it booted: nothing to report.
          if (!this.host.isCurrent(plugin)) return;
          this.host.log.error(
            { plugin_id: plugin.name, err: error },
            `plugin "${plugin.name}" failed to start`,
          );
          this.host.setStatus(plugin, 'failed', error.message);
        },
      );
    return plugin.waking;
  }

  /** Boots the plugin in its turn, and says so (`booted`). */
  #queued(plugin: ManagedPlugin, wake: boolean): Promise<void> {
    return this.#queue.run(async () => {
      const began = performance.now();
      const ended = (error?: Error) =>
        this.host.booted({
          plugin: plugin.name,
          ok: error === undefined,
          ...(error ? { error: error.message } : {}),
          durationMs: performance.now() - began,
          wake,
          pending: this.#queue.pending - 1,
        });
      try {
        await this.#bootThread(plugin);
      } catch (error) {
        ended(error as Error);
        throw error;
      }
      ended();
    });
  }

  /** One thread runs `initialize()` and `start()`; its routes must cover the manifest's endpoints. */
  async #bootThread(plugin: ManagedPlugin): Promise<void> {
    // A process runtime hashes the folder while its sandbox comes up: one hash, off the critical path.
    if (!plugin.runtime.checksContentAtBoot) await assertUnchanged(plugin);
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
    // The ADR's manifest names `/health` whether or not the plugin has such a route: without one, the
    // active check is its `healthCheck()`.
    const healthEndpoint = plugin.manifest.health_check.endpoint;
    const served = healthEndpoint !== undefined && report.routes.includes(`GET ${healthEndpoint}`);
    this.#healthRoutes.set(plugin, served ? healthEndpoint : undefined);
    const declared = new Set(plugin.manifest.endpoints.map((e) => `${e.method} ${e.path}`));
    const undeclared = report.routes.filter(
      (key) => !declared.has(key) && !(served && key === `GET ${healthEndpoint}`),
    );
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
  }

  /**
   * Checks the plugin's health every `health_check.interval` while it is active, instance by instance
   * (its `healthCheck()`, or a GET of `health_check.endpoint`). The check goes to live threads only: an
   * idle plugin is not woken, and keeps its last known health.
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
        .checkHealth(timeoutMs, this.#healthRoutes.get(plugin))
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
      this.boot(plugin).catch((error: Error) => {
        if (!(error instanceof PluginContentChangedError))
          return this.crashed(plugin, error.message);
        // Restarting again would not help: the folder stays changed. Give up now, with the reason.
        this.host.log.error({ plugin_id: plugin.name, err: error }, error.message);
        this.cancel(plugin);
        this.host.setStatus(plugin, 'failed', error.message);
      });
    }, delay);
  }

  /** Drops a pending restart and the health checks, and its place among the awake. */
  cancel(plugin: ManagedPlugin): void {
    this.awake.release(plugin);
    clearTimeout(plugin.restartTimer);
    plugin.restartTimer = undefined;
    clearInterval(plugin.healthTimer);
    plugin.healthTimer = undefined;
  }
}

/**
 * @throws {PluginContentChangedError} when the plugin's folder no longer hashes to what was recorded
 * at load: its changed code is not started.
 */
async function assertUnchanged(plugin: ManagedPlugin): Promise<void> {
  if (plugin.contentHash === undefined) return;
  const now = await currentHash(plugin.dir);
  if (now === plugin.contentHash) return;
  throw new PluginContentChangedError(contentChangedMessage(plugin, plugin.contentHash, now), {
    plugin: plugin.name,
  });
}
