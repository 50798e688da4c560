/**
 * `PluginGateway`: loads plugins, routes requests and events to them, and keeps the host safe from them.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { EventEmitter } from 'eventemitter3';
import {
  ErrorCodes,
  GatewayStoppedError,
  InvalidArgumentError,
  MaxPluginsError,
  PluginExistsError,
  PluginNotFoundError,
} from '../errors.js';
import { MemoryRegistry } from '../registry/memory.js';
import type { DiscoveryRegistry } from '../registry/registry.js';
import { assertRequest, identify, pathOf, refuse, toPluginRequest } from './admission.js';
import { EventBus, type PublishResult } from './event-delivery.js';
import { createLogger, logFailure, logRequest } from './logging.js';
import type { ManagedPlugin } from './managed-plugin.js';
import {
  resolveLoadOptions,
  resolveOptions,
  type GatewayLogger,
  type GatewayOptions,
  type ResolvedOptions,
} from './options.js';
import { readPluginFiles } from './plugin-files.js';
import { createPlugin } from './plugin-setup.js';
import type { RateLimiter } from '../mesh/rate-limiter.js';
import { balancerFrom } from '../mesh/load-balancer.js';
import type { TaskFailure } from '../loader/protocol.js';
import { dispatch, type MeshSettings } from './dispatch.js';
import {
  Observers,
  type Disposable,
  type ErrorObservation,
  type RequestObservation,
  type ResponseObservation,
} from './observers.js';
import type { GatewayEvents, LoadOptions } from './gateway-events.js';
import { createRateLimiter } from './rate-limiting.js';
import { errorResponse } from './responses.js';
import { Router } from './router.js';
import { Supervisor, type CrashEvent } from './supervisor.js';
import type {
  DomainEvent,
  GatewayRequest,
  PluginInfo,
  PluginMetrics,
  PluginResponse,
  PluginStatus,
} from './types.js';

export type { CrashEvent } from './supervisor.js';
export type { PublishResult } from './event-delivery.js';
export type { BreakerEvent, GatewayEvents, LoadOptions } from './gateway-events.js';

/**
 * The gateway. Every option has a default.
 * @example
 * const gateway = new PluginGateway();
 * await gateway.load('./plugins/hello');
 * await gateway.start();
 * const res = await gateway.handle({ method: 'GET', path: '/hello/ada', headers: {} });
 */
export class PluginGateway extends EventEmitter<GatewayEvents> {
  readonly options: Readonly<ResolvedOptions>;
  readonly #plugins = new Map<string, ManagedPlugin>();
  readonly #router = new Router<ManagedPlugin>();
  readonly #registry: DiscoveryRegistry;
  readonly #ownsRegistry: boolean;
  readonly #log: GatewayLogger;
  readonly #logRequests: boolean;
  readonly #nodeId = randomBytes(4).toString('hex');
  readonly #supervisor: Supervisor;
  readonly #limiter: RateLimiter;
  readonly #mesh: MeshSettings;
  readonly #observers = new Observers();
  readonly #events: EventBus;
  #seq = 0;
  #started = false;
  #stopped = false;

  constructor(options: GatewayOptions = {}) {
    super();
    this.options = resolveOptions(options);
    this.#registry = this.options.registry ?? new MemoryRegistry();
    this.#ownsRegistry = this.options.registry === undefined;
    this.#log = createLogger(this.options.logger);
    this.#logRequests = this.#log.isLevelEnabled?.('info') ?? true;
    this.#events = new EventBus({
      plugins: () => this.#plugins.values(),
      nextId: () => `${this.#nodeId}-e${(++this.#seq).toString(36)}`,
      timeoutMs: this.options.pluginTimeout,
      log: this.#log,
    });
    this.#mesh = { balancer: balancerFrom(this.options.balancer), retry: this.options.retry };
    this.#limiter = createRateLimiter(this.options.rateLimiting, this.#log, {
      fallback: (event) => this.emit('ratelimit:fallback', event),
      recovered: (event) => this.emit('ratelimit:recovered', event),
    });
    this.#supervisor = new Supervisor({
      log: this.#log,
      setStatus: (plugin, to, reason) => this.#setStatus(plugin, to, reason),
      isCurrent: (plugin) => !this.#stopped && this.#plugins.get(plugin.name) === plugin,
      crashed: (event: CrashEvent) => this.emit('plugin:crash', event),
      healthChecked: (plugin, health) => {
        const previous = plugin.lastHealth?.status;
        plugin.setHealth(health);
        if (health.status !== previous) this.emit('plugin:health', plugin.info(), health);
      },
    });
  }

  /** Id of this gateway process in a fleet. */
  get nodeId(): string {
    return this.#nodeId;
  }

  /**
   * Loads the plugin whose `plugin.yaml` is in `dir`. After `start()`, the plugin starts at once and
   * `load()` resolves when it is active; before, it stays `inactive` until `start()`.
   * Nothing is left behind when loading fails.
   * @throws {ManifestInvalidError} `PGW_ERR_MANIFEST_INVALID`
   * @throws {PluginLoadError} `PGW_ERR_PLUGIN_LOAD`: missing files, or the plugin failed to initialise.
   * @throws {PluginExistsError} `PGW_ERR_PLUGIN_EXISTS`
   * @throws {RouteConflictError} `PGW_ERR_ROUTE_CONFLICT`
   */
  async load(dir: string, options: LoadOptions = {}): Promise<PluginInfo> {
    this.#assertRunning();
    if (typeof dir !== 'string' || dir === '') {
      throw new InvalidArgumentError(
        `Expected \`dir\` to be a folder path, got \`${String(dir)}\` (${typeof dir})`,
      );
    }
    const loadOptions = resolveLoadOptions(options, this.options);
    const files = await readPluginFiles(dir);
    const { manifest } = files;
    this.#assertRunning();
    if (this.#plugins.has(manifest.name)) {
      const other = this.#plugins.get(manifest.name)!;
      throw new PluginExistsError(
        `plugin "${manifest.name}" is already loaded (from ${other.dir})`,
        {
          plugin: manifest.name,
        },
      );
    }
    if (this.#plugins.size >= this.options.maxPlugins) {
      throw new MaxPluginsError(
        `cannot load "${manifest.name}": maxPlugins (${this.options.maxPlugins}) reached`,
        { plugin: manifest.name },
      );
    }
    const plugin = createPlugin(files, {
      options: this.options,
      log: this.#log,
      instanceId: `${manifest.name}@${manifest.version}#${this.#nodeId}.${++this.#seq}`,
      load: loadOptions,
      hooks: (self) => ({
        onCrash: (reason) => this.#supervisor.crashed(self, reason),
        onPublish: (event) => void (this.#stopped || this.#events.fromPlugin(self.name, event)),
      }),
      onBreaker: (state, event) =>
        this.emit(state === 'closed' ? 'breaker:close' : `breaker:${state}`, event),
    });
    try {
      this.#router.add(manifest.name, plugin, manifest.endpoints);
    } catch (error) {
      await plugin.runtime.close(0);
      throw error;
    }
    this.#plugins.set(manifest.name, plugin);
    this.#emitStatus(plugin, undefined);
    if (!this.#started) {
      this.#setStatus(plugin, 'inactive', 'waiting for gateway.start()');
    } else {
      try {
        await this.#supervisor.boot(plugin);
      } catch (error) {
        await this.#discard(plugin);
        throw error;
      }
    }
    await this.#register(plugin);
    return plugin.info();
  }

  /** Starts every loaded plugin; plugins loaded from now on start at once. Resolves with their info. */
  async start(): Promise<PluginInfo[]> {
    this.#assertRunning();
    this.#started = true;
    const waiting = [...this.#plugins.values()].filter((p) => p.status === 'inactive');
    await Promise.all(
      waiting.map((p) =>
        this.#supervisor.boot(p).catch((error: Error) => {
          this.#log.error({ plugin_id: p.name, err: error }, `plugin "${p.name}" failed to start`);
          this.#setStatus(p, 'failed', error.message);
        }),
      ),
    );
    return this.list();
  }

  /**
   * Serves one request. Never throws for a plugin's fault: every outcome is a response
   * (404, 405, 401, 403, 503, 504, 500 — see the README's table).
   * @throws {InvalidArgumentError} only when `request` itself is malformed (host misuse).
   */
  async handle(request: GatewayRequest): Promise<PluginResponse> {
    assertRequest(request);
    const started = performance.now();
    const id = request.id ?? `${this.#nodeId}-${(++this.#seq).toString(36)}`;
    if (this.#stopped) {
      return errorResponse(503, ErrorCodes.PLUGIN_UNAVAILABLE, 'the gateway is stopped', id);
    }
    const method = request.method.toUpperCase();
    const match = this.#router.match(method, request.path);
    if (match.kind === 'not-found') {
      return errorResponse(
        404,
        ErrorCodes.NOT_FOUND,
        `no plugin serves ${method} ${pathOf(request.path)}`,
        id,
      );
    }
    if (match.kind === 'method-not-allowed') {
      return errorResponse(
        405,
        ErrorCodes.METHOD_NOT_ALLOWED,
        `${method} is not allowed on ${pathOf(request.path)}`,
        id,
        {
          allow: match.allow.join(', '),
        },
      );
    }
    const target = match.target;
    const plugin = target.plugin;
    let userId = request.userId;
    let context = request.context;
    if (
      this.options.authenticate &&
      (target.needsIdentity || target.endpoint.auth === 'optional')
    ) {
      const identity = await identify(this.options.authenticate, request, id, this.#log);
      userId = identity?.userId ?? null;
      if (identity?.roles) context = { ...context, roles: identity.roles };
    }
    const observed =
      this.#logRequests || this.#observers.active
        ? { requestId: id, plugin: plugin.name, method, path: pathOf(request.path), userId }
        : undefined;
    if (observed) this.#observers.started(observed);
    let failure: TaskFailure | undefined;
    let response = refuse(target, userId, context, id);
    if (response === undefined) {
      const req = toPluginRequest(request, id, method, match, userId, context);
      const outcome = await dispatch(
        plugin,
        { t: 'req', k: target.key, r: req },
        target.timeoutMs ?? this.options.pluginTimeout,
        id,
        target.rate && {
          limiter: this.#limiter,
          rate: target.rate,
          scope: target.scope,
          caller: (userId ?? context?.clientAddress ?? 'anonymous') as string | number,
        },
        this.#mesh,
      );
      response = outcome.response;
      failure = outcome.failure;
      if (failure) logFailure(this.#log, plugin.name, plugin.manifest.version, id, failure);
    }
    const durationMs = performance.now() - started;
    plugin.metrics.record(response.statusCode, durationMs);
    if (observed) {
      const ended = { ...observed, statusCode: response.statusCode, durationMs };
      if (this.#logRequests) logRequest(this.#log, plugin.manifest.version, ended);
      this.#observers.ended(ended, failure);
    }
    return response;
  }

  /** Calls `listener` for every request routed to a plugin, before its mesh policies. */
  onRequest(listener: (o: RequestObservation) => void): Disposable {
    return this.#observers.request.add(listener);
  }

  /** Calls `listener` for every answered request, with its status and duration. */
  onResponse(listener: (o: ResponseObservation) => void): Disposable {
    return this.#observers.response.add(listener);
  }

  /** Calls `listener` when a plugin fails a request (threw, crashed, timed out, answered badly). */
  onError(listener: (o: ErrorObservation) => void): Disposable {
    return this.#observers.error.add(listener);
  }

  /**
   * Delivers a domain event to every active plugin that subscribes to its type
   * (`permissions.events.subscribe`). Resolves when each has handled it or failed to.
   */
  async publish(event: DomainEvent): Promise<PublishResult> {
    this.#assertRunning();
    if (typeof event?.type !== 'string' || event.type === '') {
      throw new InvalidArgumentError(
        `Expected \`event.type\` to be a non-empty string, got \`${String(event?.type)}\``,
      );
    }
    return this.#events.deliver(event, undefined);
  }

  /** Info of every loaded plugin. */
  list(): PluginInfo[] {
    return [...this.#plugins.values()].map((p) => p.info());
  }

  /** Info of one plugin, or `undefined` when it is not loaded. */
  get(name: string): PluginInfo | undefined {
    return this.#plugins.get(name)?.info();
  }

  /**
   * The plugin's metrics (the ADR's `PluginMetrics` plus latency percentiles).
   * @throws {PluginNotFoundError} `PGW_ERR_PLUGIN_NOT_FOUND`
   */
  metrics(name: string): PluginMetrics {
    return this.#require(name).snapshot();
  }

  /**
   * Stops routing to the plugin, lets in-flight requests finish (up to `stopTimeout`), runs its
   * `stop()` in every live thread, and ends its threads.
   * @throws {PluginNotFoundError} `PGW_ERR_PLUGIN_NOT_FOUND`
   */
  async unload(name: string): Promise<void> {
    const plugin = this.#require(name);
    this.#setStatus(plugin, 'inactive', 'unloading');
    await this.#discard(plugin);
    this.emit('plugin:unloaded', plugin.info());
  }

  /** Unloads every plugin and releases every thread, timer and handle the gateway holds. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await Promise.all([...this.#plugins.keys()].map((name) => this.unload(name)));
    if (this.#ownsRegistry) await this.#registry.close();
  }

  // ---- lifecycle ----

  async #discard(plugin: ManagedPlugin): Promise<void> {
    this.#supervisor.cancel(plugin);
    plugin.bulkhead.close();
    this.#router.remove(plugin.name, plugin.manifest.endpoints);
    this.#plugins.delete(plugin.name);
    await Promise.all(plugin.instances.map((i) => this.#registry.deregister(i.id).catch(() => {})));
    await plugin.runtime.drain(this.options.stopTimeout);
    await plugin.runtime.close(this.options.stopTimeout);
  }

  async #register(plugin: ManagedPlugin): Promise<void> {
    await Promise.all(plugin.records(this.#nodeId).map((r) => this.#registry.register(r)));
  }

  #setStatus(plugin: ManagedPlugin, to: PluginStatus, reason?: string): void {
    const previous = plugin.status;
    if (!plugin.transition(to, reason) || previous === to) return;
    this.#emitStatus(plugin, previous);
    if (this.#plugins.get(plugin.name) === plugin) {
      this.#register(plugin).catch((error: Error) =>
        this.#log.warn({ plugin_id: plugin.name, err: error }, 'registry update failed'),
      );
    }
  }

  #emitStatus(plugin: ManagedPlugin, previous: PluginStatus | undefined): void {
    this.emit('plugin:status', plugin.info(), previous);
  }

  // ---- helpers ----

  #require(name: string): ManagedPlugin {
    const plugin = this.#plugins.get(name);
    if (!plugin)
      throw new PluginNotFoundError(`no plugin named "${name}" is loaded`, { plugin: name });
    return plugin;
  }

  #assertRunning(): void {
    if (this.#stopped)
      throw new GatewayStoppedError('the gateway is stopped; create a new PluginGateway');
  }
}
