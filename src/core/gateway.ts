/**
 * `PluginGateway`: loads plugins, routes requests and events to them, and keeps the host safe from them.
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import { GatewayStoppedError, PluginNotFoundError } from '../errors.js';
import type { DiscoveryRegistry } from '../registry/registry.js';
import type { CatalogWatch } from '../fleet/catalog-watch.js';
import type { Fleet } from '../fleet/fleet.js';
import { PEER_PATH } from '../fleet/peer-protocol.js';
import { resolveFault, type FaultInjector, type FaultSpec } from '../mesh/fault-injection.js';
import type { ManagedPlugin } from '../plugins/managed-plugin.js';
import type { EventBus, PublishResult } from './event-delivery.js';
import { changeFlag } from './flag-changes.js';
import { assembleGateway } from './gateway-parts.js';
import { loadPlugin, type LoadingGateway } from './load-plugin.js';
import type { GatewayEvents } from './gateway-events.js';
import type { HotSwap, SwapOptions, SwapSource } from './hot-swap.js';
import type { GatewayEmit } from './join-fleet.js';
import type { LoadOptions } from './load-options.js';
import type {
  Disposable,
  ErrorObservation,
  Observers,
  RequestObservation,
  ResponseObservation,
} from './observers.js';
import {
  resolveOptions,
  type GatewayLogger,
  type GatewayOptions,
  type ResolvedOptions,
} from './options.js';
import type { PluginTable } from './plugin-table.js';
import type { PeerReply, RequestPath } from './request-path.js';
import { PeerDoor, type ChannelSocket, type PeerHeaders } from './peer-door.js';
import type { ServiceCalls, ServiceHandler } from './service-calls.js';
import type { Tracing } from './tracing.js';
import { LiveGate, type LiveUpgrade } from './live-upgrade.js';
import { streamsRequestBody } from './live-request-body.js';
import { assertEventType, assertPluginName } from './gateway-arguments.js';
import type {
  DomainEvent,
  FlagRule,
  GatewayRequest,
  PluginInfo,
  PluginMetrics,
  PluginResponse,
} from '../shared/types.js';

/**
 * The gateway. Every option has a default.
 * @example
 * const gateway = new PluginGateway();
 * await gateway.load('./plugins/hello');
 * await gateway.start();
 * const res = await gateway.handle({ method: 'GET', path: '/hello/ada', headers: {} });
 */
export class PluginGateway {
  /** Private: only the gateway emits its events; holders of the gateway listen. */
  readonly #emitter = new EventEmitter<GatewayEvents>();
  /** The options after validation: durations in ms, every default filled in, deep-frozen. */
  readonly options: Readonly<ResolvedOptions>;
  readonly #plugins: PluginTable;
  readonly #registry: DiscoveryRegistry;
  readonly #ownsRegistry: boolean;
  readonly #log: GatewayLogger;
  readonly #nodeId: string;
  readonly #observers: Observers;
  readonly #events: EventBus;
  readonly #path: RequestPath;
  readonly #calls: ServiceCalls;
  readonly #faults: FaultInjector;
  readonly #fleet: Fleet | undefined;
  readonly #environment: CatalogWatch | undefined;
  readonly #tracing: Tracing;
  readonly #swaps: HotSwap;
  readonly #loading: LoadingGateway;
  /** WebSocket upgrades, and the door of peer calls: each made at the first one. */
  #live: LiveGate | undefined;
  #peers: PeerDoor | undefined;
  #started = false;
  #stopped = false;

  constructor(options: GatewayOptions = {}) {
    this.options = resolveOptions(options);
    const parts = assembleGateway(this.options, {
      emit: this.#emit,
      started: () => this.#started,
      stopped: () => this.#stopped,
      load: (dir, loadOptions) => this.load(dir, loadOptions),
      unload: (name) => this.unload(name),
      swap: (name, dir, swapOptions) => this.swap(name, dir, swapOptions),
    });
    this.#nodeId = parts.nodeId;
    this.#log = parts.log;
    this.#registry = parts.registry;
    this.#ownsRegistry = parts.ownsRegistry;
    this.#tracing = parts.tracing;
    this.#faults = parts.faults;
    this.#observers = parts.observers;
    this.#plugins = parts.plugins;
    this.#swaps = parts.swaps;
    this.#events = parts.events;
    this.#path = parts.path;
    this.#calls = parts.calls;
    this.#fleet = parts.fleet;
    this.#environment = parts.environment;
    this.#loading = {
      options: this.options,
      parts,
      started: () => this.#started,
      assertRunning: () => this.#assertRunning(),
    };
    this.#emitter.on('plugin:status', (info) => {
      const plugin = info.status === 'failed' ? this.#plugins.get(info.name) : undefined;
      if (plugin?.id === info.id) this.#swaps.failed(plugin);
    });
  }

  /**
   * Where this gateway serves its fleet's peer calls (`/.veza/peer/v1` under the listener's prefix;
   * adapters route them to {@link PluginGateway.handlePeer}), or `undefined` without `node`.
   */
  get peerPath(): string | undefined {
    return this.options.node ? PEER_PATH : undefined;
  }

  /** Calls `listener` each time `event` is emitted. Returns the gateway, for chaining. */
  on<K extends keyof GatewayEvents>(event: K, listener: GatewayEvents[K]): this {
    this.#emitter.on(event, listener as never);
    return this;
  }

  /** Calls `listener` the next time `event` is emitted, then forgets it. */
  once<K extends keyof GatewayEvents>(event: K, listener: GatewayEvents[K]): this {
    this.#emitter.once(event, listener as never);
    return this;
  }

  /** Removes a listener added with `on()` or `once()`; without `listener`, every listener of `event`. */
  off<K extends keyof GatewayEvents>(event: K, listener?: GatewayEvents[K]): this {
    this.#emitter.off(event, listener as never);
    return this;
  }

  /** Id of this gateway in a fleet (`node.id`, or random). */
  get nodeId(): string {
    return this.#nodeId;
  }

  /**
   * Loads the plugin whose `plugin.yaml` is in `dir` (nothing is left behind when that fails). After
   * `start()`, it starts at once and `load()` resolves when it is active; before, it waits `inactive`.
   * @throws {ManifestInvalidError} `PGW_ERR_MANIFEST_INVALID`
   * @throws {PluginLoadError} `PGW_ERR_PLUGIN_LOAD`: missing files, or the plugin failed to initialise.
   * @throws {PluginExistsError} `PGW_ERR_PLUGIN_EXISTS`
   * @throws {RouteConflictError} `PGW_ERR_ROUTE_CONFLICT`
   */
  async load(dir: string, options: LoadOptions = {}): Promise<PluginInfo> {
    return loadPlugin(this.#loading, dir, options);
  }

  /**
   * Replaces a loaded plugin with another version (a folder, or `{ version }` its history keeps) without
   * a failed request: the new version starts beside the one serving, its `healthCheck()` is asked once,
   * then it takes the traffic (at once, or through `options.canary`) in one step; the previous one ends
   * once its requests (within `stopTimeout`) and connections (`options.connectionDrain`) are done. A
   * new version that fails a step is given up; the previous one serves on. Resolves with the new info.
   * @throws {SwapFailedError} `PGW_ERR_SWAP_FAILED`: the new version was given up (`err.reason`).
   * @throws {RouteConflictError} `PGW_ERR_ROUTE_CONFLICT`: another plugin serves one of its endpoints.
   * @throws {PluginNotFoundError} / {VersionNotFoundError} / {InvalidArgumentError}
   */
  async swap(name: string, source: SwapSource, options?: SwapOptions): Promise<PluginInfo> {
    this.#assertRunning();
    return this.#swaps.swap(name, source, options);
  }

  /**
   * Swaps back to `version` (`get(name).versions`), or the last one that served before the current
   * one; its folder's hash is checked against the one recorded.
   * @throws {VersionNotFoundError} / {PluginContentChangedError} / {SwapFailedError} / {PluginNotFoundError}
   */
  async rollback(name: string, version?: string): Promise<PluginInfo> {
    this.#assertRunning();
    return this.#swaps.rollback(name, version);
  }

  /** Holds the plugin at `version` (swapping back to it first): catalog publishes do not move it. */
  async pin(name: string, version: string): Promise<PluginInfo> {
    this.#assertRunning();
    return this.#swaps.pin(name, version);
  }

  /** Lets catalog publishes move the plugin again. @throws {PluginNotFoundError} */
  unpin(name: string): PluginInfo {
    return this.#swaps.unpin(name);
  }

  /** Starts every loaded plugin; plugins loaded from now on start at once. Resolves with their info. */
  async start(): Promise<PluginInfo[]> {
    this.#assertRunning();
    this.#started = true;
    await this.#tracing.ready;
    const waiting = [...this.#plugins.values()].filter((p) => p.status === 'inactive');
    await Promise.all(waiting.map((p) => this.#plugins.startOrFail(p)));
    return this.list();
  }

  /**
   * Serves one request. Never throws for a plugin's fault: every outcome is a response (404, 405,
   * 401, 403, 503, 504, 500 — see the README's table).
   * @throws {InvalidArgumentError} only when `request` itself is malformed (host misuse).
   */
  handle(request: GatewayRequest): Promise<PluginResponse> {
    return this.#path.handle(request);
  }

  /**
   * Decides a WebSocket upgrade before any connection exists (route, origin, auth, roles, rate limit,
   * connection cap; a fleet's forwarded ones by signature, or by `socketAddress`, the socket's own
   * remote address, without `node.secret`); `createUpgradeListener` calls it.
   */
  upgrade(request: GatewayRequest, socketAddress?: string): Promise<LiveUpgrade> {
    const peers = (this.#peers ??= new PeerDoor(this.#path));
    return (this.#live ??= new LiveGate(this.#path.parts, peers)).upgrade(request, socketAddress);
  }

  /** Whether `method path` reads its body as a stream (`stream.request_body`): adapters pass it unread. */
  streamsRequestBody(method: string, path: string): boolean {
    return streamsRequestBody(this.#path.parts.router, method, path);
  }

  /** Serves a call from another gateway (docs/peer-protocol.md): `POST <prefix>/.veza/peer/v1`. */
  handlePeer(body: string, headers: PeerHeaders, remoteAddress?: string): Promise<PeerReply> {
    return (this.#peers ??= new PeerDoor(this.#path)).call(body, headers, remoteAddress);
  }

  /** A streamed peer call (`POST <peerPath>/stream`): body read as it comes, frames written as they come. */
  handlePeerStream(body: AsyncIterable<Uint8Array>, headers: PeerHeaders, remoteAddress?: string) {
    return (this.#peers ??= new PeerDoor(this.#path)).stream(body, headers, remoteAddress);
  }

  /** Opens a peer channel on an upgraded socket (`createUpgradeListener` calls it), or refuses it. */
  openPeerChannel(headers: PeerHeaders, socket: ChannelSocket, head: Buffer) {
    return (this.#peers ??= new PeerDoor(this.#path)).channel(headers, socket, head);
  }

  /**
   * Offers a host service that plugins listing `{ service: name, version: <range> }` under
   * `dependencies` can call with `ctx.call(name, request)`; dependants waiting for it start.
   * @throws {InvalidArgumentError} for a version that is not semver or a handler that is not a function.
   */
  provide(name: string, version: string, handler: ServiceHandler): void {
    this.#assertRunning();
    this.#calls.provide(name, version, handler);
    this.#plugins.bootWaiting();
  }

  /**
   * Replaces the faults injected into plugin `name`'s requests (see the `faults` option); `null` stops
   * them. The plugin need not be loaded yet: faults are kept by name.
   * @example gateway.setFaults('orders', { abort: { percentage: 10, status: 503 } });
   * @throws {InvalidArgumentError} for a spec the `faults` option would refuse.
   */
  setFaults(name: string, faults: FaultSpec | null): void {
    assertPluginName(name);
    this.#faults.set(name, faults === null ? undefined : resolveFault(faults, `faults.${name}`));
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
   * (`permissions.events.subscribe`). Resolves when each has handled it or failed to; with
   * `events.broker`, once the broker stored it for the whole fleet (`entry`).
   * @throws {EventBrokerUnavailableError} `PGW_ERR_EVENT_BROKER_UNAVAILABLE`: the broker did not store it.
   */
  async publish(event: DomainEvent): Promise<PublishResult> {
    this.#assertRunning();
    assertEventType(event);
    return this.#events.deliver(event, undefined);
  }

  /**
   * Changes a running plugin's flag: `true`/`false` for everyone, or a rule `{ value, percentage,
   * users }`, seen from the next request without a restart; `flag:changed` is emitted, a line logged.
   * @throws {PluginNotFoundError} `PGW_ERR_PLUGIN_NOT_FOUND`
   * @throws {FlagNotDeclaredError} `PGW_ERR_FLAG_NOT_DECLARED`: the manifest declares no such flag.
   * @throws {InvalidArgumentError} for a setting that is neither a boolean nor a valid rule.
   */
  async setFlag(plugin: string, flag: string, value: boolean | FlagRule): Promise<PluginInfo> {
    this.#assertRunning();
    return changeFlag(this.#require(plugin), flag, value, this.#log, this.#emit);
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
   * The plugin's metrics (the ADR's `PluginMetrics` plus latency percentiles); for a plugin that only
   * other gateways run, what this gateway saw of the requests it forwarded.
   * @throws {PluginNotFoundError} `PGW_ERR_PLUGIN_NOT_FOUND`
   */
  metrics(name: string): PluginMetrics {
    return (this.#plugins.get(name) ?? this.#fleet?.remote(name) ?? this.#require(name)).snapshot();
  }

  /**
   * Turns the plugin off without unloading it: its endpoints answer 503 `PGW_ERR_PLUGIN_DISABLED` and
   * it gets no events, while its threads stay up for {@link PluginGateway.enable}. Emits
   * `plugin:status` with the same status (`info.disabled` tells). Doing it twice does nothing.
   * @throws {PluginNotFoundError} `PGW_ERR_PLUGIN_NOT_FOUND`
   */
  disable(name: string): PluginInfo {
    return this.#setDisabled(name, true);
  }

  /**
   * Turns a plugin disabled with {@link PluginGateway.disable} back on. Doing it twice does nothing.
   * @throws {PluginNotFoundError} `PGW_ERR_PLUGIN_NOT_FOUND`
   */
  enable(name: string): PluginInfo {
    return this.#setDisabled(name, false);
  }

  /**
   * Stops routing to the plugin, lets in-flight requests finish (up to `stopTimeout`), runs its
   * `stop()` in every live thread, and ends its threads.
   * @throws {PluginNotFoundError} `PGW_ERR_PLUGIN_NOT_FOUND`
   */
  async unload(name: string): Promise<void> {
    const plugin = this.#require(name);
    // Its events in flight finish (and are acknowledged) before it stops; the rest wait in the broker.
    await this.#events.detach(name);
    this.#plugins.setStatus(plugin, 'inactive', 'unloading');
    await this.#plugins.discard(plugin);
    this.#swaps.unloaded(name);
    this.#emit('plugin:unloaded', plugin.info());
  }

  /** Unloads every plugin and releases every thread, timer and handle the gateway holds. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#faults.releaseAll();
    this.#environment?.stop();
    await Promise.all([...this.#plugins.map.keys()].map((name) => this.unload(name)));
    // Versions a swap is starting: it gives them up when it sees the gateway stopped.
    await Promise.all([...this.#plugins.standby].map((p) => p.runtime.close(0)));
    await this.#events.close();
    this.#peers?.closeChannels();
    await this.#fleet?.close();
    if (this.#ownsRegistry) await this.#registry.close();
  }

  readonly #emit: GatewayEmit = (event, ...args) =>
    (this.#emitter.emit as (event: string, ...args: unknown[]) => boolean)(event, ...args);

  #setDisabled(name: string, disabled: boolean): PluginInfo {
    const plugin = this.#require(name);
    if (plugin.disabled !== disabled) {
      plugin.disabled = disabled;
      this.#emit('plugin:status', plugin.info(), plugin.status);
    }
    return plugin.info();
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
