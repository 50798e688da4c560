/**
 * `EtcdRegistry`: the discovery registry of a fleet on etcd v3, through the `etcd3` client (an optional
 * peer dependency). Instances live on leases kept alive by the client, so a gateway that dies leaves
 * the registry when its lease expires; watches re-list after a lost connection.
 * @module
 */
import type { Etcd3, Lease } from 'etcd3';
import { GatewayStoppedError, RegistryError } from '../errors.js';
import {
  assertEnv,
  assertRecord,
  type CatalogChange,
  type CatalogEntry,
  type DiscoveryRegistry,
  type GatewayStatusRecord,
  type InstanceRecord,
  type RegisterOptions,
  type RegistryChange,
  type Unsubscribe,
  type WatchStatus,
} from './registry.js';
import { etcdClient } from './etcd-client.js';
import { watchPrefix } from './etcd-watch.js';
import { StoreLayout, catalogValue, parseJson, registryTtl } from './store-layout.js';

/** Options of {@link EtcdRegistry}. */
export interface EtcdRegistryOptions {
  /** etcd endpoints, e.g. `http://127.0.0.1:2379`. Ignored when `client` is given. */
  endpoints?: string | string[];
  /** A client of your own; the registry does not close it. */
  client?: Etcd3;
  /** Key prefix shared by the fleet. @default 'veza' */
  namespace?: string;
  /** Environment whose instances this registry registers and lists. @default 'default' */
  environment?: string;
  /** How long a dead gateway's instances stay listed (etcd lease TTL, whole seconds, at least 1 s). @default '10s' */
  ttl?: string | number;
  /**
   * Largest catalog entry, in bytes of JSON, that `publish()` sends. etcd refuses requests above its
   * `--max-request-bytes` (1.5 MiB by default); keep this under it. @default 1_400_000
   */
  maxValueBytes?: number;
  /**
   * TLS to etcd (endpoints `https://…`): the CA that signed etcd's certificate and, for client-certificate
   * authentication, this gateway's certificate chain and key (PEM, as text or bytes). Ignored with `client`.
   */
  tls?: { ca: string | Buffer; cert?: string | Buffer; key?: string | Buffer };
  /**
   * etcd's own authentication: a user whose role grants read and write on this fleet's key prefix
   * (`namespace/`) only. Ignored with `client`.
   */
  auth?: { username: string; password: string };
}

interface Owned {
  record: InstanceRecord;
  ttlSeconds: number;
}

/**
 * Keys: `<namespace>/<environment>/instances/<service>/<id>` for instances (on a lease) and
 * `<namespace>/catalog/<env>/<name>/<version>` for the catalog (no lease: it outlives publishers).
 * @example
 * import { EtcdRegistry } from '@veza/plugin-gateway/registry/etcd';
 * const registry = new EtcdRegistry({ endpoints: 'http://127.0.0.1:2379', namespace: 'veza', ttl: '10s' });
 * const gateway = new PluginGateway({ registry, node: { id: 'gw-1', address: 'http://10.0.0.5:8080', secret } });
 */
export class EtcdRegistry implements DiscoveryRegistry {
  /** Key prefix shared by the fleet. */
  readonly namespace: string;
  /** Environment whose instances this registry registers and lists. */
  readonly environment: string;
  /**
   * How long a dead gateway's instances stay listed, ms (option `ttl`; leases round it up to seconds).
   */
  readonly ttlMs: number;
  /** Largest catalog entry `publish()` sends, in bytes of JSON. */
  readonly maxValueBytes: number;
  readonly #layout: StoreLayout;
  readonly #client: Etcd3;
  readonly #ownsClient: boolean;
  readonly #leases = new Map<number, Lease>();
  readonly #owned = new Map<string, Owned>();
  readonly #watchers = new Set<() => void>();
  /** This gateway's status record, put again when its lease is lost. */
  #gateway: GatewayStatusRecord | undefined;
  #closed = false;

  constructor(options: EtcdRegistryOptions = {}) {
    this.namespace = options.namespace ?? 'veza';
    this.environment = options.environment ?? 'default';
    this.#layout = new StoreLayout(this.namespace, this.environment);
    this.ttlMs = registryTtl('EtcdRegistry', options.ttl);
    this.maxValueBytes = options.maxValueBytes ?? 1_400_000;
    if (options.client) {
      this.#client = options.client;
      this.#ownsClient = false;
    } else {
      if (!options.endpoints) throw new TypeError('EtcdRegistry needs `endpoints` or `client`');
      this.#client = etcdClient(options.endpoints, options);
      this.#ownsClient = true;
    }
  }

  /**
   * Puts the record on a lease of `options.ttl` (default: `ttlMs`) that the client keeps alive; a
   * lost lease is granted again and its records put again.
   * @throws {RegistryError} `PGW_ERR_REGISTRY` when etcd fails or cannot be reached.
   * @throws {TypeError} for a record without `id`, `service` or `nodeId`, or with a `version` that is
   * not semver.
   * @throws {GatewayStoppedError} `PGW_ERR_GATEWAY_STOPPED` after `close()`.
   */
  async register(instance: InstanceRecord, options: RegisterOptions = {}): Promise<void> {
    this.#assertOpen();
    assertRecord(instance);
    const ttlSeconds = Math.max(1, Math.ceil((options.ttl ?? this.ttlMs) / 1000));
    this.#owned.set(instance.id, { record: structuredClone(instance), ttlSeconds });
    await this.#wrap(`register ${instance.id}`, () =>
      this.#lease(ttlSeconds)
        .put(this.#instanceKey(instance))
        .value(JSON.stringify(instance))
        .exec(),
    );
  }

  /**
   * Deletes the instance's key; for an id this registry did not register, searches the environment's
   * instances for it. An unknown id is not an error.
   * @throws {RegistryError} `PGW_ERR_REGISTRY` when etcd fails or cannot be reached.
   */
  async deregister(id: string): Promise<void> {
    const owned = this.#owned.get(id);
    this.#owned.delete(id);
    if (owned) {
      await this.#wrap(`deregister ${id}`, () =>
        this.#client.delete().key(this.#instanceKey(owned.record)).exec(),
      );
      return;
    }
    const all = await this.#wrap('list', () =>
      this.#client.getAll().prefix(this.#layout.instances).keys(),
    );
    const key = all.find((k) => k.endsWith(`/${encodeURIComponent(id)}`));
    if (key) await this.#wrap(`deregister ${id}`, () => this.#client.delete().key(key).exec());
  }

  /**
   * Instances of `service`, or all, in this registry's environment; values that are not JSON are
   * skipped.
   * @throws {RegistryError} `PGW_ERR_REGISTRY` when etcd fails or cannot be reached.
   * @throws {GatewayStoppedError} `PGW_ERR_GATEWAY_STOPPED` after `close()`.
   */
  async list(service?: string): Promise<InstanceRecord[]> {
    this.#assertOpen();
    const prefix = this.#layout.instances + (service === undefined ? '' : `${service}/`);
    const values = await this.#wrap('list', () => this.#client.getAll().prefix(prefix).strings());
    return Object.values(values).flatMap((v) => parseJson<InstanceRecord>(v) ?? []);
  }

  /**
   * Reports every instance of the environment as a `put`, then every change, through an etcd watch.
   * When the watch is lost, `status.onError` gets a `RegistryError`; once it is back, the keys are
   * listed again, the differences reported as changes, then `status.onReconnected` is called.
   * @throws {GatewayStoppedError} `PGW_ERR_GATEWAY_STOPPED` after `close()`.
   */
  watch(listener: (change: RegistryChange) => void, status?: WatchStatus): Unsubscribe {
    this.#assertOpen();
    const known = new Map<string, string>();
    return watchPrefix(
      this.#client,
      this.#watchers,
      this.#layout.instances,
      (key, value) => {
        if (value === undefined) {
          const previous = known.get(key);
          if (previous === undefined) return;
          known.delete(key);
          const record = parseJson<InstanceRecord>(previous);
          if (record) listener({ type: 'delete', id: record.id, service: record.service });
          return;
        }
        if (known.get(key) === value) return;
        known.set(key, value);
        const record = parseJson<InstanceRecord>(value);
        if (record) listener({ type: 'put', instance: record });
      },
      () => [...known.keys()],
      status,
      this.ttlMs,
    );
  }

  /**
   * Puts the entry in `env`, replacing the same name and version; without a lease, so it outlives
   * its publisher.
   * @throws {ArtifactTooLargeError} `PGW_ERR_ARTIFACT_TOO_LARGE` above `maxValueBytes`.
   * @throws {RegistryError} `PGW_ERR_REGISTRY` when etcd fails or cannot be reached.
   * @throws {TypeError} for a malformed `env`, name, version or hash.
   * @throws {GatewayStoppedError} `PGW_ERR_GATEWAY_STOPPED` after `close()`.
   */
  async publish(env: string, entry: CatalogEntry): Promise<void> {
    this.#assertOpen();
    const value = catalogValue(
      env,
      entry,
      this.maxValueBytes,
      'EtcdRegistry',
      'etcd refuses requests above --max-request-bytes, 1.5 MiB by default',
    );
    await this.#wrap(`publish ${entry.name}@${entry.version}`, () =>
      this.#client
        .put(this.#layout.catalogKey(env, entry.name, entry.version))
        .value(value)
        .exec(),
    );
  }

  /**
   * Deletes a version from `env`; an unknown one is not an error.
   * @throws {RegistryError} `PGW_ERR_REGISTRY` when etcd fails or cannot be reached.
   * @throws {TypeError} for an `env` that is not letters, digits, `.`, `_` or `-`.
   * @throws {GatewayStoppedError} `PGW_ERR_GATEWAY_STOPPED` after `close()`.
   */
  async unpublish(env: string, name: string, version: string): Promise<void> {
    this.#assertOpen();
    assertEnv(env);
    await this.#wrap(`unpublish ${name}@${version}`, () =>
      this.#client
        .delete()
        .key(this.#layout.catalogKey(env, name, version))
        .exec(),
    );
  }

  /**
   * Every version published to `env`.
   * @throws {RegistryError} `PGW_ERR_REGISTRY` when etcd fails or cannot be reached.
   * @throws {TypeError} for an `env` that is not letters, digits, `.`, `_` or `-`.
   * @throws {GatewayStoppedError} `PGW_ERR_GATEWAY_STOPPED` after `close()`.
   */
  async catalog(env: string): Promise<CatalogEntry[]> {
    this.#assertOpen();
    assertEnv(env);
    const values = await this.#wrap('catalog', () =>
      this.#client.getAll().prefix(this.#layout.catalog(env)).strings(),
    );
    return Object.values(values).flatMap((v) => parseJson<CatalogEntry>(v) ?? []);
  }

  /**
   * Reports every version published to `env` as a `put`, then every change there; a lost watch is
   * reported and recovered as by {@link EtcdRegistry.watch}.
   * @throws {TypeError} for an `env` that is not letters, digits, `.`, `_` or `-`.
   * @throws {GatewayStoppedError} `PGW_ERR_GATEWAY_STOPPED` after `close()`.
   */
  watchCatalog(
    env: string,
    listener: (change: CatalogChange) => void,
    status?: WatchStatus,
  ): Unsubscribe {
    this.#assertOpen();
    assertEnv(env);
    const known = new Map<string, string>();
    const prefix = this.#layout.catalog(env);
    return watchPrefix(
      this.#client,
      this.#watchers,
      prefix,
      (key, value) => {
        if (value === undefined) {
          if (!known.delete(key)) return;
          const { name, version } = this.#layout.catalogEntryOf(prefix, key);
          listener({ type: 'delete', name, version });
          return;
        }
        if (known.get(key) === value) return;
        known.set(key, value);
        const entry = parseJson<CatalogEntry>(value);
        if (entry) listener({ type: 'put', entry });
      },
      () => [...known.keys()],
      status,
      this.ttlMs,
    );
  }

  /**
   * Puts a gateway's status record under `<namespace>/_gateways/<nodeId>`, on the lease of `ttlMs`.
   * @throws {RegistryError} `PGW_ERR_REGISTRY` when etcd fails or cannot be reached.
   * @throws {GatewayStoppedError} `PGW_ERR_GATEWAY_STOPPED` after `close()`.
   */
  async reportGateway(record: GatewayStatusRecord): Promise<void> {
    this.#assertOpen();
    this.#gateway = structuredClone(record);
    await this.#wrap(`report gateway ${record.nodeId}`, () =>
      this.#lease(Math.max(1, Math.ceil(this.ttlMs / 1000)))
        .put(this.#layout.gatewayKey(record.nodeId))
        .value(JSON.stringify(record))
        .exec(),
    );
  }

  /**
   * Deletes a gateway's status record; an unknown node is not an error.
   * @throws {RegistryError} `PGW_ERR_REGISTRY` when etcd fails or cannot be reached.
   */
  async removeGateway(nodeId: string): Promise<void> {
    if (this.#gateway?.nodeId === nodeId) this.#gateway = undefined;
    await this.#wrap(`remove gateway ${nodeId}`, () =>
      this.#client.delete().key(this.#layout.gatewayKey(nodeId)).exec(),
    );
  }

  /**
   * Every gateway's status record, whatever its environment; values that are not JSON are skipped.
   * @throws {RegistryError} `PGW_ERR_REGISTRY` when etcd fails or cannot be reached.
   * @throws {GatewayStoppedError} `PGW_ERR_GATEWAY_STOPPED` after `close()`.
   */
  async gateways(): Promise<unknown[]> {
    this.#assertOpen();
    const values = await this.#wrap('gateways', () =>
      this.#client.getAll().prefix(this.#layout.gateways).strings(),
    );
    return Object.values(values).flatMap((v) => parseJson<unknown>(v) ?? []);
  }

  /**
   * Stops every watch, revokes this registry's leases (its instances leave at once) and closes the
   * client when the registry created it. A second call does nothing.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const stop of this.#watchers) stop();
    this.#watchers.clear();
    this.#owned.clear();
    await Promise.all([...this.#leases.values()].map((lease) => lease.revoke().catch(() => {})));
    this.#leases.clear();
    if (this.#ownsClient) this.#client.close();
  }

  /** One lease per TTL, kept alive by the client; a lost lease is granted again and its keys re-put. */
  #lease(ttlSeconds: number): Lease {
    let lease = this.#leases.get(ttlSeconds);
    if (lease && !lease.revoked()) return lease;
    lease = this.#client.lease(ttlSeconds, { autoKeepAlive: true });
    this.#leases.set(ttlSeconds, lease);
    lease.on('lost', () => {
      if (this.#closed || this.#leases.get(ttlSeconds) !== lease) return;
      this.#leases.delete(ttlSeconds);
      const again = [...this.#owned.values()].filter((o) => o.ttlSeconds === ttlSeconds);
      setTimeout(() => {
        if (this.#closed) return;
        if (this.#gateway && ttlSeconds === Math.max(1, Math.ceil(this.ttlMs / 1000)))
          this.reportGateway(this.#gateway).catch(() => {});
        for (const { record } of again) {
          if (this.#owned.has(record.id))
            this.register(record, { ttl: ttlSeconds * 1000 }).catch(() => {});
        }
      }, 500).unref();
    });
    return lease;
  }

  async #wrap<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw new RegistryError(`etcd: ${what} failed: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  #instanceKey(record: InstanceRecord): string {
    return `${this.#layout.instances}${record.service}/${encodeURIComponent(record.id)}`;
  }

  #assertOpen(): void {
    if (this.#closed) throw new GatewayStoppedError('EtcdRegistry is closed');
  }
}
