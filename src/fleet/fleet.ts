/**
 * The fleet as this gateway sees it: a watch on the registry that turns the other gateways' plugin
 * instances into `RemoteService`s, routed like local plugins but served over the peer protocol. A
 * plugin this gateway runs itself is never routed elsewhere.
 * @module
 */
import type { GatewayStatusReporter } from './gateway-status.js';
import { openRecord } from './instance-record.js';
import { PeerClient } from './peer-client.js';
import type { DiscoveryRegistry, Unsubscribe } from '../registry/registry.js';
import type { Served } from '../mesh/instances.js';
import type { GatewayLogger } from '../shared/logger.js';
import type { PluginEndpoint } from '../shared/types.js';
import { RemoteService, type RemotePolicies } from './remote-service.js';

/** Where the fleet puts the routes of the plugins other gateways run (the gateway's router). */
export interface RouteTable {
  /** Adds every endpoint or none; throws when one is taken. */
  add(name: string, target: Served, endpoints: readonly PluginEndpoint[]): void;
  remove(name: string, endpoints: readonly PluginEndpoint[]): void;
}

export interface FleetParts {
  registry: DiscoveryRegistry;
  nodeId: string;
  secret: string | undefined;
  /** The registry's environment: records sealed for another one are refused. */
  environment: string;
  /** `maxResponseBytes`: what a remote owner's answer may carry (see `PeerClient`). */
  maxResponseBytes?: number;
  router: RouteTable;
  log: GatewayLogger;
  policies: RemotePolicies;
  /** Keeps this gateway's status record in the registry. */
  status?: GatewayStatusReporter;
  /** Whether this gateway runs a plugin of that name itself. */
  isLocal(name: string): boolean;
  /** Instances of `service` appeared, changed or went. */
  changed(service: string): void;
  onError(error: Error): void;
  onReconnected(): void;
}

export class Fleet {
  readonly client: PeerClient;
  readonly #services = new Map<string, RemoteService>();
  /** Remote services whose endpoints are in the router, with the endpoints routed. */
  readonly #routed = new Map<string, RemoteService['endpoints']>();
  readonly #conflicts = new Set<string>();
  /** Refused records already logged (bounded: a writer of the store chooses the ids). */
  readonly #refused = new Set<string>();
  #unwatch: Unsubscribe | undefined;

  constructor(readonly parts: FleetParts) {
    this.client = new PeerClient(parts.nodeId, parts.secret, 32, parts.maxResponseBytes);
  }

  start(): void {
    this.#unwatch ??= this.parts.registry.watch(
      (change) => {
        // What the store holds is anyone's writing: nothing read from it may throw into the host.
        try {
          if (change.type === 'put') this.#put(change.instance);
          else this.#delete(change.id, change.service);
        } catch (error) {
          this.parts.log.error({ err: error }, 'registry change not applied');
        }
      },
      { onError: (e) => this.parts.onError(e), onReconnected: () => this.parts.onReconnected() },
    );
    this.parts.status?.start();
  }

  /** The remote service of that name, when other gateways run it. */
  remote(name: string): RemoteService | undefined {
    const service = this.#services.get(name);
    return service && service.instances.length > 0 ? service : undefined;
  }

  /** A local plugin took or left `name`: route it here, or to the fleet again. */
  localChanged(name: string): void {
    this.#route(name);
    this.parts.status?.changed();
  }

  /** A local plugin changed status: the gateway's status record follows. */
  statusChanged(): void {
    this.parts.status?.changed();
  }

  async close(): Promise<void> {
    this.#unwatch?.();
    await this.parts.status?.close();
    for (const name of this.#routed.keys()) this.#unroute(name);
    for (const service of this.#services.values()) service.bulkhead.close();
    this.#services.clear();
    await this.client.close();
  }

  #put(value: unknown): void {
    const opened = openRecord(value, this.parts.secret, this.parts.environment);
    if ('refused' in opened) {
      this.#refuse(value, opened.refused);
      return;
    }
    const { record } = opened;
    if (record.nodeId === this.parts.nodeId || !record.address) return;
    let service = this.#services.get(record.service);
    if (!service) {
      service = new RemoteService(record.service, this.client, this.parts.policies);
      this.#services.set(record.service, service);
    }
    service.records.set(record.id, record);
    this.#refresh(service);
  }

  /** Logs a refused record once per id (and 1,000 ids at most). */
  #refuse(value: unknown, why: string): void {
    const id = (value as { id?: unknown } | null)?.id;
    const key = typeof id === 'string' ? id.slice(0, 256) : '(no id)';
    if (this.#refused.has(key)) return;
    if (this.#refused.size >= 1000) this.#refused.clear();
    this.#refused.add(key);
    this.parts.log.warn(
      { instance: key, reason: why },
      `registry record refused: ${why} (not a fleet member's)`,
    );
  }

  #delete(id: string, name: string): void {
    const service = this.#services.get(name);
    const record = service?.records.get(id);
    if (!service || !record) return;
    service.records.delete(id);
    this.#refresh(service);
    // Service names come from the registry: one with no instance left is forgotten, not kept forever.
    if (service.records.size === 0) {
      this.#services.delete(name);
      service.bulkhead.close();
      for (const key of this.#conflicts)
        if (key.startsWith(`${name}@`)) this.#conflicts.delete(key);
    }
  }

  #refresh(service: RemoteService): void {
    const before = `${service.version} ${service.instances.map((i) => i.id).join(',')}`;
    service.refresh();
    this.#route(service.name);
    if (`${service.version} ${service.instances.map((i) => i.id).join(',')}` !== before) {
      this.parts.log.info(
        { plugin_id: service.name, version: service.version, instances: service.instances.length },
        'remote instances changed',
      );
      this.parts.changed(service.name);
    }
  }

  /** Puts the service's endpoints in the router, or takes them out, as its state asks. */
  #route(name: string): void {
    const service = this.#services.get(name);
    const wanted = service && service.instances.length > 0 && !this.parts.isLocal(name);
    const routed = this.#routed.get(name);
    if (routed && (!wanted || routed !== service!.endpoints)) this.#unroute(name);
    if (!wanted || this.#routed.has(name)) return;
    try {
      this.parts.router.add(name, service!, service!.endpoints);
      this.#routed.set(name, service!.endpoints);
      this.#conflicts.delete(`${name}@${service!.version}`);
    } catch (error) {
      const key = `${name}@${service!.version}`;
      if (this.#conflicts.has(key)) return;
      this.#conflicts.add(key);
      this.parts.log.warn(
        { plugin_id: name, version: service!.version, err: error },
        'remote plugin not routed here: its endpoints clash with a plugin of this gateway',
      );
    }
  }

  #unroute(name: string): void {
    const endpoints = this.#routed.get(name);
    if (!endpoints) return;
    this.parts.router.remove(name, endpoints);
    this.#routed.delete(name);
  }
}
