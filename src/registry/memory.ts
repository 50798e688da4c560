/**
 * `MemoryRegistry`: the in-process discovery registry, and the gateway's default.
 * @module
 */
import { GatewayStoppedError } from '../errors.js';
import {
  assertCatalogEntry,
  assertEnv,
  assertRecord,
  type CatalogChange,
  type CatalogEntry,
  type DiscoveryRegistry,
  type GatewayStatusRecord,
  type InstanceRecord,
  type RegistryChange,
  type Unsubscribe,
} from './registry.js';

/**
 * Keeps instances and catalogs in `Map`s. Several gateways of one process may share one. Records live
 * until deregistered or the registry closes: in one process an owner cannot die without its registry,
 * so `ttl` has nothing to guard against here.
 * @example
 * const gateway = new PluginGateway({ registry: new MemoryRegistry() });
 */
export class MemoryRegistry implements DiscoveryRegistry {
  /** The environment its records are sealed to: a memory registry holds one. */
  readonly environment = 'default';
  #instances = new Map<string, InstanceRecord>();
  #catalogs = new Map<string, Map<string, CatalogEntry>>();
  #gateways = new Map<string, GatewayStatusRecord>();
  #listeners = new Set<(change: RegistryChange) => void>();
  #catalogListeners = new Set<{ env: string; listener: (change: CatalogChange) => void }>();
  #closed = false;

  /**
   * Stores a copy of the record and tells every watcher. Takes no `ttl`: records stay until
   * deregistered.
   * @throws {TypeError} for a record without `id`, `service` or `nodeId`, or with a `version` that is
   * not semver.
   * @throws {GatewayStoppedError} `PGW_ERR_GATEWAY_STOPPED` after `close()`.
   */
  async register(instance: InstanceRecord): Promise<void> {
    this.#assertOpen();
    assertRecord(instance);
    const record = structuredClone(instance);
    this.#instances.set(instance.id, record);
    for (const listener of this.#listeners) listener({ type: 'put', instance: record });
  }

  /**
   * Removes the record and tells every watcher; an unknown id is not an error, even after `close()`.
   */
  async deregister(id: string): Promise<void> {
    const record = this.#instances.get(id);
    if (!record) return;
    this.#instances.delete(id);
    for (const listener of this.#listeners) {
      listener({ type: 'delete', id, service: record.service });
    }
  }

  /**
   * Records of `service`, or every record; nothing expires here.
   * @throws {GatewayStoppedError} `PGW_ERR_GATEWAY_STOPPED` after `close()`.
   */
  async list(service?: string): Promise<InstanceRecord[]> {
    this.#assertOpen();
    const out: InstanceRecord[] = [];
    for (const record of this.#instances.values()) {
      if (service === undefined || record.service === service) out.push(record);
    }
    return out;
  }

  /**
   * Calls `listener` at once with a `put` for every record, then for every change. Takes no
   * `status`: memory cannot lose its connection.
   * @throws {GatewayStoppedError} `PGW_ERR_GATEWAY_STOPPED` after `close()`.
   */
  watch(listener: (change: RegistryChange) => void): Unsubscribe {
    this.#assertOpen();
    this.#listeners.add(listener);
    for (const instance of this.#instances.values()) listener({ type: 'put', instance });
    return () => this.#listeners.delete(listener);
  }

  /**
   * Stores a copy of the entry in `env` (replacing the same name and version) and tells the
   * watchers of `env`. The files are checked against `hash` by the gateway that loads them, not here.
   * @throws {TypeError} for a malformed `env`, name, version or hash.
   * @throws {GatewayStoppedError} `PGW_ERR_GATEWAY_STOPPED` after `close()`.
   */
  async publish(env: string, entry: CatalogEntry): Promise<void> {
    this.#assertOpen();
    assertCatalogEntry(env, entry);
    const catalog = this.#catalogs.get(env) ?? new Map<string, CatalogEntry>();
    this.#catalogs.set(env, catalog);
    const stored = structuredClone(entry);
    catalog.set(`${entry.name}@${entry.version}`, stored);
    this.#emitCatalog(env, { type: 'put', entry: stored });
  }

  /**
   * Withdraws a version from `env` and tells its watchers; an unknown one is not an error.
   * @throws {TypeError} for an `env` that is not letters, digits, `.`, `_` or `-`.
   * @throws {GatewayStoppedError} `PGW_ERR_GATEWAY_STOPPED` after `close()`.
   */
  async unpublish(env: string, name: string, version: string): Promise<void> {
    this.#assertOpen();
    assertEnv(env);
    if (this.#catalogs.get(env)?.delete(`${name}@${version}`)) {
      this.#emitCatalog(env, { type: 'delete', name, version });
    }
  }

  /**
   * Every version published to `env`.
   * @throws {TypeError} for an `env` that is not letters, digits, `.`, `_` or `-`.
   * @throws {GatewayStoppedError} `PGW_ERR_GATEWAY_STOPPED` after `close()`.
   */
  async catalog(env: string): Promise<CatalogEntry[]> {
    this.#assertOpen();
    assertEnv(env);
    return [...(this.#catalogs.get(env)?.values() ?? [])];
  }

  /**
   * Calls `listener` at once with a `put` for every version in `env`, then for every change there.
   * @throws {TypeError} for an `env` that is not letters, digits, `.`, `_` or `-`.
   * @throws {GatewayStoppedError} `PGW_ERR_GATEWAY_STOPPED` after `close()`.
   */
  watchCatalog(env: string, listener: (change: CatalogChange) => void): Unsubscribe {
    this.#assertOpen();
    assertEnv(env);
    const entry = { env, listener };
    this.#catalogListeners.add(entry);
    for (const stored of this.#catalogs.get(env)?.values() ?? []) {
      listener({ type: 'put', entry: stored });
    }
    return () => this.#catalogListeners.delete(entry);
  }

  /**
   * Stores a copy of a gateway's status record.
   * @throws {GatewayStoppedError} `PGW_ERR_GATEWAY_STOPPED` after `close()`.
   */
  async reportGateway(record: GatewayStatusRecord): Promise<void> {
    this.#assertOpen();
    this.#gateways.set(record.nodeId, structuredClone(record));
  }

  /** Forgets a gateway's status record; an unknown node is not an error. */
  async removeGateway(nodeId: string): Promise<void> {
    this.#gateways.delete(nodeId);
  }

  /**
   * Every gateway's status record.
   * @throws {GatewayStoppedError} `PGW_ERR_GATEWAY_STOPPED` after `close()`.
   */
  async gateways(): Promise<unknown[]> {
    this.#assertOpen();
    return [...this.#gateways.values()].map((r) => structuredClone(r));
  }

  /**
   * Forgets every record, entry and listener (no `delete` is reported); every later call but
   * `deregister()` and `close()` throws.
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#listeners.clear();
    this.#catalogListeners.clear();
    this.#instances.clear();
    this.#catalogs.clear();
    this.#gateways.clear();
  }

  #emitCatalog(env: string, change: CatalogChange): void {
    for (const watcher of this.#catalogListeners) if (watcher.env === env) watcher.listener(change);
  }

  #assertOpen(): void {
    if (this.#closed) throw new GatewayStoppedError('MemoryRegistry is closed');
  }
}
