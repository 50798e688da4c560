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
  PluginLoadError,
  PluginNotFoundError,
  RuntimeUnsupportedError,
} from '../errors.js';
import type { TaskInput } from '../loader/loader.js';
import { isTaskFailure, matchesEventPattern } from '../loader/protocol.js';
import { WorkerRuntime } from '../loader/worker-runtime.js';
import { MemoryRegistry } from '../registry/memory.js';
import type { DiscoveryRegistry } from '../registry/registry.js';
import { createLogger, PluginLogSink } from './logging.js';
import { ManagedPlugin } from './managed-plugin.js';
import type { Manifest } from './manifest.js';
import {
  resolveOptions,
  type GatewayLogger,
  type GatewayOptions,
  type ResolvedOptions,
} from './options.js';
import { readPluginFiles } from './plugin-files.js';
import { errorResponse, failureResponse } from './responses.js';
import { Router, type RouteTarget } from './router.js';
import type {
  DomainEvent,
  GatewayRequest,
  PluginInfo,
  PluginMetrics,
  PluginRequest,
  PluginResponse,
  PluginStatus,
} from './types.js';

/** A plugin's threads died on their own. */
export interface CrashEvent {
  plugin: string;
  reason: string;
  /** Crashes within the restart window, this one included. */
  recent: number;
  /** When the plugin will try to serve again; absent when it has become `failed`. */
  restartInMs?: number;
}

/** What `publish()` did with an event. */
export interface PublishResult {
  id: string;
  delivered: string[];
  failed: { plugin: string; code: string; message: string }[];
}

/** Options of `gateway.load()`. */
export interface LoadOptions {
  /** Settings handed to the plugin's `initialize(config)` as `config.settings` and to `ctx.config`. */
  config?: Record<string, unknown>;
}

/** The gateway's typed events. */
export interface GatewayEvents {
  /** A plugin changed status (`previous` is undefined when it was just loaded). */
  'plugin:status': (info: PluginInfo, previous: PluginStatus | undefined) => void;
  'plugin:crash': (event: CrashEvent) => void;
  'plugin:unloaded': (info: PluginInfo) => void;
}

const BOOT_TIMEOUT_MS = 10_000;

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
    const files = await readPluginFiles(dir);
    const { manifest } = files;
    this.#assertRunning();
    if (manifest.runtime.type !== 'worker') {
      throw new RuntimeUnsupportedError(
        `${files.manifestPath} runtime.type: "${manifest.runtime.type}" is not available in this version; use "worker"`,
        { plugin: manifest.name },
      );
    }
    if (this.#plugins.has(manifest.name)) {
      throw new PluginExistsError(
        `plugin "${manifest.name}" is already loaded (from ${this.#plugins.get(manifest.name)!.dir})`,
        {
          plugin: manifest.name,
        },
      );
    }
    if (this.#plugins.size >= this.options.maxPlugins) {
      throw new MaxPluginsError(
        `cannot load "${manifest.name}": maxPlugins (${this.options.maxPlugins}) reached`,
        {
          plugin: manifest.name,
        },
      );
    }
    const pending = notYetEnforced(manifest);
    if (pending.length > 0) {
      this.#log.warn(
        { plugin_id: manifest.name, fields: pending },
        `plugin.yaml fields this version parses but does not enforce yet: ${pending.join(', ')}`,
      );
    }
    const instanceId = `${manifest.name}@${manifest.version}#${this.#nodeId}.${++this.#seq}`;
    const sink = new PluginLogSink(this.#log, manifest.name, manifest.version);
    const spec = {
      manifest,
      mainPath: files.mainPath,
      instanceId,
      flags: this.#flagsFor(manifest.name, manifest.feature_flags),
      settings: options.config ?? {},
      idleTimeoutMs: this.options.idleTimeout,
      threadConcurrency: this.options.threadConcurrency,
      maxInFlight: this.options.maxInFlight,
      timeoutGraceMs: this.options.timeoutGrace,
    };
    const plugin = new ManagedPlugin(
      instanceId,
      manifest,
      files.dir,
      this.options.restart,
      (self) =>
        new WorkerRuntime(spec, {
          onCrash: (reason) => this.#onCrash(self, reason),
          onLog: (level, msg, fields, requestId) => sink.write(level, msg, fields, requestId),
          onPublish: (event) => void this.#publishFrom(self, event),
        }),
    );
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
        await this.#boot(plugin);
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
        this.#boot(p).catch((error: Error) => {
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
    if (
      typeof request?.method !== 'string' ||
      typeof request.path !== 'string' ||
      request.path[0] !== '/'
    ) {
      throw new InvalidArgumentError(
        'Expected `request` to have a string `method` and a `path` starting with "/", got ' +
          describeRequest(request),
      );
    }
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
      const identity = await this.#authenticate(request, id);
      userId = identity?.userId ?? null;
      if (identity?.roles) context = { ...context, roles: identity.roles };
    }
    let response = this.#refuse(target, plugin, userId, context, id);
    if (response === undefined) {
      const req: PluginRequest = {
        id,
        method,
        path: pathOf(request.path),
        headers: request.headers ?? {},
        body: request.body,
        userId,
        context,
        // Empty objects cost a clone each; the harness fills them in on the other side.
        params: target.hasParams ? match.params : (undefined as never),
        query: request.path.includes('?') ? match.query : (undefined as never),
      };
      const result = await plugin.runtime.run(
        { t: 'req', k: target.key, r: req },
        target.timeoutMs ?? this.options.pluginTimeout,
      );
      if (isTaskFailure(result)) {
        response = failureResponse(result, plugin.name, id);
        this.#logFailure(plugin, id, result);
      } else {
        response = result as PluginResponse;
      }
    }
    const elapsed = performance.now() - started;
    plugin.metrics.record(response.statusCode, elapsed);
    if (this.#logRequests)
      this.#logRequest(plugin, id, method, request.path, userId, elapsed, response.statusCode);
    return response;
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
    return this.#deliver(event, undefined);
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

  async #boot(plugin: ManagedPlugin): Promise<void> {
    this.#setStatus(plugin, 'loading', 'starting');
    let report;
    try {
      report = await plugin.runtime.boot(BOOT_TIMEOUT_MS);
    } catch (error) {
      const e = error as Error & { kind?: string };
      const what =
        e.kind === 'timeout'
          ? `did not finish initialize()/start() within ${BOOT_TIMEOUT_MS} ms`
          : `failed to start: ${e.message}`;
      throw new PluginLoadError(`plugin "${plugin.name}" ${what}`, {
        cause: error,
        plugin: plugin.name,
      });
    }
    const missing = plugin.manifest.endpoints
      .map((e) => `${e.method} ${e.path}`)
      .filter((k) => !report.routes.includes(k));
    if (missing.length > 0) {
      throw new PluginLoadError(
        `plugin "${plugin.name}" declares endpoints in plugin.yaml that its routes do not handle: ${missing.join(', ')}`,
        { plugin: plugin.name },
      );
    }
    if (plugin.manifest.permissions.events.subscribe.length > 0 && !report.handlesEvents) {
      this.#log.warn(
        { plugin_id: plugin.name },
        'plugin subscribes to events but defines no handleEvent()',
      );
    }
    plugin.setHealth(report.health);
    if (this.#stopped || !this.#plugins.has(plugin.name)) return;
    this.#setStatus(plugin, 'active');
  }

  #onCrash(plugin: ManagedPlugin, reason: string): void {
    if (
      !this.#plugins.has(plugin.name) ||
      plugin.status === 'failed' ||
      plugin.status === 'inactive'
    )
      return;
    const recent = plugin.crashes.record();
    this.#log.error(
      { plugin_id: plugin.name, version: plugin.manifest.version, reason, recent },
      'plugin thread crashed',
    );
    if (plugin.crashes.exhausted(recent)) {
      clearTimeout(plugin.restartTimer);
      const window = plugin.crashes.options.window;
      this.#setStatus(
        plugin,
        'failed',
        `crashed ${recent} times within ${window / 1000}s; last: ${reason}`,
      );
      this.emit('plugin:crash', { plugin: plugin.name, reason, recent });
      void plugin.runtime.close(0);
      return;
    }
    if (plugin.restartTimer) {
      this.emit('plugin:crash', { plugin: plugin.name, reason, recent });
      return;
    }
    const delay = plugin.crashes.delay(recent);
    plugin.retryAfterSeconds = Math.max(1, Math.ceil(delay / 1000));
    this.#setStatus(plugin, 'loading', `restarting in ${delay} ms after a crash: ${reason}`);
    this.emit('plugin:crash', { plugin: plugin.name, reason, recent, restartInMs: delay });
    plugin.restartTimer = setTimeout(() => {
      plugin.restartTimer = undefined;
      this.#boot(plugin).catch((error: Error) => this.#onCrash(plugin, error.message));
    }, delay);
  }

  async #discard(plugin: ManagedPlugin): Promise<void> {
    clearTimeout(plugin.restartTimer);
    plugin.restartTimer = undefined;
    this.#router.remove(plugin.name, plugin.manifest.endpoints);
    this.#plugins.delete(plugin.name);
    await this.#registry.deregister(plugin.id).catch(() => {});
    await plugin.runtime.drain(this.options.stopTimeout);
    await plugin.runtime.close(this.options.stopTimeout);
  }

  async #register(plugin: ManagedPlugin): Promise<void> {
    const info = plugin.info();
    await this.#registry.register({
      id: plugin.id,
      service: plugin.name,
      version: info.version,
      nodeId: this.#nodeId,
      endpoints: info.endpoints,
      status: info.status,
      metadata: info.metadata,
    });
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

  // ---- requests and events ----

  /** A response that refuses the request before it reaches the plugin, or undefined to go on. */
  #refuse(
    target: RouteTarget<ManagedPlugin>,
    plugin: ManagedPlugin,
    userId: GatewayRequest['userId'],
    context: GatewayRequest['context'],
    id: string,
  ): PluginResponse | undefined {
    if (target.needsIdentity) {
      if (userId === undefined || userId === null) {
        return errorResponse(
          401,
          ErrorCodes.UNAUTHORIZED,
          `${target.key} requires an authenticated caller`,
          id,
        );
      }
      const roles = target.endpoint.roles;
      if (roles.length > 0) {
        const held = Array.isArray(context?.roles) ? (context.roles as unknown[]) : [];
        if (!roles.some((r) => held.includes(r))) {
          return errorResponse(
            403,
            ErrorCodes.FORBIDDEN,
            `${target.key} requires one of the roles: ${roles.join(', ')}`,
            id,
          );
        }
      }
    }
    if (plugin.status !== 'active') {
      const headers =
        plugin.status === 'loading'
          ? { 'retry-after': String(plugin.retryAfterSeconds) }
          : undefined;
      return errorResponse(
        503,
        ErrorCodes.PLUGIN_UNAVAILABLE,
        `plugin "${plugin.name}" is ${plugin.status}`,
        id,
        headers,
      );
    }
    return undefined;
  }

  async #authenticate(request: GatewayRequest, id: string) {
    try {
      return (await this.options.authenticate!(request)) ?? null;
    } catch (error) {
      this.#log.error(
        { request_id: id, err: error },
        'authenticate() threw; treating the caller as anonymous',
      );
      return null;
    }
  }

  async #publishFrom(source: ManagedPlugin, event: DomainEvent): Promise<void> {
    if (this.#stopped) return;
    const result = await this.#deliver(event, source.name);
    for (const f of result.failed) {
      this.#log.warn(
        { plugin_id: f.plugin, event_type: event.type, source: source.name, code: f.code },
        f.message,
      );
    }
  }

  async #deliver(input: DomainEvent, source: string | undefined): Promise<PublishResult> {
    const event: DomainEvent = {
      ...input,
      id: input.id ?? `${this.#nodeId}-e${(++this.#seq).toString(36)}`,
      timestamp: input.timestamp ?? Date.now(),
      ...(source ? { source } : {}),
    };
    const result: PublishResult = { id: event.id!, delivered: [], failed: [] };
    const subscribers = [...this.#plugins.values()].filter(
      (p) =>
        p.name !== source &&
        p.manifest.permissions.events.subscribe.some((s) => matchesEventPattern(event.type, s)),
    );
    await Promise.all(
      subscribers.map(async (p) => {
        if (p.status !== 'active') {
          result.failed.push({
            plugin: p.name,
            code: ErrorCodes.PLUGIN_UNAVAILABLE,
            message: `plugin "${p.name}" is ${p.status}`,
          });
          return;
        }
        const outcome = await p.runtime.run(
          { t: 'evt', e: event } satisfies TaskInput,
          this.options.pluginTimeout,
        );
        p.metrics.events++;
        if (isTaskFailure(outcome)) {
          const { body } = failureResponse(outcome, p.name, event.id!) as {
            body: { error: { code: string; message: string } };
          };
          result.failed.push({
            plugin: p.name,
            code: body.error.code,
            message: body.error.message,
          });
          this.#logFailure(p, event.id!, outcome);
        } else {
          result.delivered.push(p.name);
        }
      }),
    );
    return result;
  }

  // ---- helpers ----

  #flagsFor(
    name: string,
    declared: readonly { name: string; default: boolean }[],
  ): Record<string, boolean> {
    const flags: Record<string, boolean> = {};
    for (const f of declared) flags[f.name] = f.default;
    const overrides = this.options.featureFlags.overrides[name] ?? {};
    for (const [flag, value] of Object.entries(overrides)) {
      if (!(flag in flags))
        this.#log.warn(
          { plugin_id: name, flag },
          'feature flag override for a flag the manifest does not declare',
        );
      flags[flag] = value;
    }
    return flags;
  }

  #logRequest(
    plugin: ManagedPlugin,
    id: string,
    method: string,
    path: string,
    userId: unknown,
    ms: number,
    status: number,
  ) {
    this.#log.info(
      {
        plugin_id: plugin.name,
        version: plugin.manifest.version,
        request_id: id,
        method,
        path: pathOf(path),
        user_id: userId ?? null,
        response_time_ms: Math.round(ms * 1000) / 1000,
        status_code: status,
      },
      'request',
    );
  }

  #logFailure(
    plugin: ManagedPlugin,
    id: string,
    failure: { __pgw: string; message: string; stack?: string },
  ) {
    const level =
      failure.__pgw === 'threw' || failure.__pgw === 'crash' || failure.__pgw === 'bad-response'
        ? 'error'
        : 'warn';
    this.#log[level](
      {
        plugin_id: plugin.name,
        version: plugin.manifest.version,
        request_id: id,
        failure: failure.__pgw,
        stack: failure.stack,
      },
      failure.message,
    );
  }

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

/** Manifest fields that are valid but that the mesh, discovery or sandbox of a later version enforces. */
function notYetEnforced(m: Manifest): string[] {
  const fields: string[] = [];
  m.endpoints.forEach((e, i) => e.rate_limit && fields.push(`endpoints.${i}.rate_limit`));
  if (m.dependencies.length > 0) fields.push('dependencies');
  if (m.permissions.network.length > 0) fields.push('permissions.network');
  if (m.resources.disk !== undefined) fields.push('resources.disk');
  if (m.resources.network !== undefined) fields.push('resources.network');
  return fields;
}

function pathOf(path: string): string {
  const q = path.indexOf('?');
  return q === -1 ? path : path.slice(0, q);
}

function describeRequest(request: unknown): string {
  if (typeof request !== 'object' || request === null)
    return `\`${String(request)}\` (${typeof request})`;
  const r = request as Record<string, unknown>;
  return `method \`${String(r.method)}\` and path \`${String(r.path)}\``;
}
