/**
 * Joining a fleet: the gateway's watch on the other gateways' instances (`Fleet`) and on its
 * environment's catalog (`CatalogWatch`), wired to the gateway's router, logger and events.
 * @module
 */
import path from 'node:path';
import { CatalogWatch } from '../fleet/catalog-watch.js';
import { Fleet } from '../fleet/fleet.js';
import { GatewayStatusReporter } from '../fleet/gateway-status.js';
import { VersionFloor } from '../fleet/version-floor.js';
import type { BreakerState } from '../mesh/circuit-breaker.js';
import type { Served } from '../mesh/instances.js';
import type { DiscoveryRegistry } from '../registry/registry.js';
import type { GatewayLogger } from '../shared/logger.js';
import type { PluginStatus } from '../shared/types.js';
import type { BreakerEvent, GatewayEvents } from './gateway-events.js';
import type { ResolvedOptions } from './options.js';
import type { Router } from './router.js';

/** The gateway's typed `emit`. */
export type GatewayEmit = <K extends keyof GatewayEvents>(
  event: K,
  ...args: Parameters<GatewayEvents[K]>
) => boolean;

/** Reports a circuit breaker's new state as `breaker:open|half-open|close`. */
export function breakerChanged(emit: GatewayEmit, state: BreakerState, event: BreakerEvent): void {
  emit(state === 'closed' ? 'breaker:close' : `breaker:${state}`, event);
}

/**
 * Joins the gateway to its fleet: watches the other gateways' instances when it has a `node` or a registry
 * of the host's, and the catalog of `watch.env` when asked.
 */
export function joinFleet(parts: {
  options: Readonly<ResolvedOptions>;
  registry: DiscoveryRegistry;
  nodeId: string;
  router: Router<Served>;
  log: GatewayLogger;
  emit: GatewayEmit;
  isLocal(name: string): boolean;
  /** The plugins the gateway runs, for its status record. */
  plugins(): Iterable<{ name: string; version: string; status: PluginStatus; reason?: string }>;
  dependenciesChanged(): void;
  load(dir: string): Promise<unknown>;
  unload(name: string): Promise<void>;
  swap(name: string, dir: string): Promise<unknown>;
  pinned(name: string): string | undefined;
}): { fleet?: Fleet; environment?: CatalogWatch } {
  const { options, registry, log, emit } = parts;
  const status = {
    onError: (error: Error) => {
      log.warn({ err: error }, 'registry unreachable: fleet changes may be missed');
      emit('registry:error', error);
    },
    onReconnected: () => {
      log.warn({}, 'registry reachable again');
      emit('registry:reconnected');
    },
  };
  let fleet: Fleet | undefined;
  let reporter: GatewayStatusReporter | undefined;
  if (options.node || options.registry) {
    reporter = new GatewayStatusReporter({
      registry,
      nodeId: parts.nodeId,
      secret: options.node?.secret,
      environment: registry.environment ?? 'default',
      watch: options.watch?.env,
      log,
      plugins: parts.plugins,
    });
    fleet = new Fleet({
      registry,
      nodeId: parts.nodeId,
      secret: options.node?.secret,
      environment: registry.environment ?? 'default',
      maxResponseBytes: options.maxResponseBytes,
      router: parts.router,
      log,
      policies: {
        circuitBreaker: options.circuitBreaker,
        bulkhead: options.bulkhead,
        onBreaker: (state, event) => breakerChanged(emit, state, event),
      },
      isLocal: parts.isLocal,
      status: reporter,
      changed: parts.dependenciesChanged,
      ...status,
    });
    fleet.start();
  }
  let environment: CatalogWatch | undefined;
  if (options.watch) {
    environment = new CatalogWatch({
      registry,
      env: options.watch.env,
      cacheDir: path.resolve(options.watch.cacheDir ?? 'node_modules/.cache/veza-plugins'),
      trustedKeys: options.watch.trustedKeys,
      floor: new VersionFloor(
        options.watch.floorFile === undefined ? undefined : path.resolve(options.watch.floorFile),
      ),
      log,
      loadedElsewhere: parts.isLocal,
      load: parts.load,
      unload: parts.unload,
      swap: parts.swap,
      pinned: parts.pinned,
      ...(options.watch.rolling ? { rollingAs: parts.nodeId } : {}),
      failed: (event) => {
        reporter?.refused(event);
        emit('catalog:error', event);
      },
      ...status,
    });
    environment.start();
  }
  return { fleet, environment };
}
