/**
 * The gateway's parts and how they reach each other: plugin table, hot swaps, event bus, request path,
 * service calls, fleet. Made once by the `PluginGateway` constructor; the facade keeps them.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { MemoryRegistry } from '../registry/memory.js';
import type { DiscoveryRegistry } from '../registry/registry.js';
import type { CatalogWatch } from '../fleet/catalog-watch.js';
import type { Fleet } from '../fleet/fleet.js';
import type { Served } from '../mesh/instances.js';
import type { ManagedPlugin } from '../plugins/managed-plugin.js';
import { balancerFrom } from '../mesh/load-balancer.js';
import { FaultInjector, faultOf } from '../mesh/fault-injection.js';
import { createRateLimiter } from '../mesh/create-rate-limiter.js';
import type { GatewayLogger } from '../shared/logger.js';
import type { PluginInfo } from '../shared/types.js';
import { EventBus } from './event-delivery.js';
import { HotSwap } from './hot-swap.js';
import { sealRecord } from '../fleet/instance-record.js';
import { joinFleet, type GatewayEmit } from './join-fleet.js';
import { resolveLoadOptions, type LoadOptions } from './load-options.js';
import { createLogger } from './logging.js';
import { Observers } from './observers.js';
import type { ResolvedOptions } from './options.js';
import { PluginTable } from './plugin-table.js';
import { RequestPath } from './request-path.js';
import { Router } from './router.js';
import { ServiceCalls } from './service-calls.js';
import { Tracing } from './tracing.js';

/** What the parts need from the facade. */
export interface GatewayHost {
  emit: GatewayEmit;
  started(): boolean;
  stopped(): boolean;
  load(dir: string, options: LoadOptions): Promise<PluginInfo>;
  unload(name: string): Promise<void>;
  swap(name: string, dir: string, options: { trusted: boolean }): Promise<PluginInfo>;
}

/** Every part of one gateway. */
export interface GatewayParts {
  nodeId: string;
  log: GatewayLogger;
  registry: DiscoveryRegistry;
  /** The gateway made its registry (the memory one), so it closes it. */
  ownsRegistry: boolean;
  tracing: Tracing;
  faults: FaultInjector;
  observers: Observers;
  router: Router<Served>;
  plugins: PluginTable;
  swaps: HotSwap;
  events: EventBus;
  path: RequestPath;
  calls: ServiceCalls;
  fleet: Fleet | undefined;
  environment: CatalogWatch | undefined;
  /** The next number of this gateway's sequence (request, event and instance ids). */
  nextSeq(): number;
}

/** Makes the parts of a gateway with `options` (validated) for `host`. */
export function assembleGateway(
  options: Readonly<ResolvedOptions>,
  host: GatewayHost,
): GatewayParts {
  const nodeId = options.node?.id ?? randomBytes(4).toString('hex');
  const registry = options.registry ?? new MemoryRegistry();
  const log = createLogger(options.logger);
  let seq = 0;
  const nextSeq = () => ++seq;
  const nextId = () => `${nodeId}-${nextSeq().toString(36)}`;
  const router = new Router<Served>();
  const faults = new FaultInjector(
    Object.fromEntries(Object.entries(options.faults ?? {}).map(([n, f]) => [n, faultOf(f)])),
  );
  // Parts that refer to each other are reached through these, once all are made.
  const late: { calls?: ServiceCalls; events?: EventBus; fleet?: Fleet } = {};
  const plugins = new PluginTable({
    log,
    emit: host.emit,
    router,
    registry,
    nodeId,
    address: options.node?.address,
    seal: (record) => sealRecord(record, options.node?.secret, registry.environment ?? 'default'),
    bootTimeoutMs: options.bootTimeout,
    bootConcurrency: options.bootConcurrency,
    maxAwake: options.maxAwake,
    stopTimeoutMs: options.stopTimeout,
    started: host.started,
    stopped: host.stopped,
    calls: () => late.calls!,
    fleet: () => late.fleet,
  });
  const swaps = new HotSwap({
    options,
    log,
    emit: host.emit,
    table: () => plugins,
    events: () => late.events!,
    calls: () => late.calls!,
    stopped: host.stopped,
    started: host.started,
    instanceId: (name, version) => `${name}@${version}#${nodeId}.${nextSeq()}`,
    defaultLoadOptions: () => resolveLoadOptions({}, options),
  });
  // Events in the shared broker are sealed with the fleet's secret, as its instance records are.
  if (options.node?.secret !== undefined)
    options.events.broker?.useFleetSecret?.(options.node.secret);
  const events = new EventBus({
    plugins: () => plugins.values(),
    nextId: () => `${nodeId}-e${nextSeq().toString(36)}`,
    timeoutMs: options.pluginTimeout,
    log,
    broker: options.events.broker,
    nodeId,
    plugin: (name) => plugins.get(name),
  });
  const limiter = createRateLimiter(options.rateLimiting, log, {
    fallback: (event) => host.emit('ratelimit:fallback', event),
    recovered: (event) => host.emit('ratelimit:recovered', event),
  });
  const tracing = new Tracing(options.tracing);
  const observers = new Observers();
  const path = new RequestPath({
    options,
    log,
    router,
    limiter,
    mesh: {
      balancer: balancerFrom(options.balancer),
      retry: options.retry,
      random: Math.random,
      now: () => performance.now(),
    },
    observers,
    nextId,
    stopped: host.stopped,
    local: (name) => plugins.get(name),
    calls: (plugin) => (plugin as Partial<ManagedPlugin>).manifest?.dependencies.length !== 0,
    tracing,
    faults,
  });
  const calls = new ServiceCalls({
    router,
    path,
    log,
    served: (name) => plugins.get(name) ?? late.fleet?.remote(name),
    nextId,
  });
  // A catalog's plugins are untrusted unless the host says otherwise.
  const catalogLoad = (dir: string) => host.load(dir, { trusted: options.watch?.trusted ?? false });
  const joined = joinFleet({
    options,
    registry,
    nodeId,
    router,
    log,
    emit: host.emit,
    isLocal: (name) => plugins.map.has(name),
    plugins: () => plugins.values(),
    dependenciesChanged: () => plugins.bootWaiting(),
    load: catalogLoad,
    unload: host.unload,
    swap: (name, dir) =>
      host.started()
        ? host.swap(name, dir, { trusted: options.watch?.trusted ?? false })
        : host.unload(name).then(() => catalogLoad(dir)),
    pinned: (name) => plugins.get(name)?.info().pinned,
  });
  Object.assign(late, { calls, events, fleet: joined.fleet });
  return {
    nodeId,
    log,
    registry,
    ownsRegistry: options.registry === undefined,
    tracing,
    faults,
    observers,
    router,
    plugins,
    swaps,
    events,
    path,
    calls,
    fleet: joined.fleet,
    environment: joined.environment,
    nextSeq,
  };
}
