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
  #instances = new Map<string, InstanceRecord>();
  #catalogs = new Map<string, Map<string, CatalogEntry>>();
  #listeners = new Set<(change: RegistryChange) => void>();
  #catalogListeners = new Set<{ env: string; listener: (change: CatalogChange) => void }>();
  #closed = false;

  async register(instance: InstanceRecord): Promise<void> {
    this.#assertOpen();
    assertRecord(instance);
    const record = structuredClone(instance);
    this.#instances.set(instance.id, record);
    for (const listener of this.#listeners) listener({ type: 'put', instance: record });
  }

  async deregister(id: string): Promise<void> {
    const record = this.#instances.get(id);
    if (!record) return;
    this.#instances.delete(id);
    for (const listener of this.#listeners) {
      listener({ type: 'delete', id, service: record.service });
    }
  }

  async list(service?: string): Promise<InstanceRecord[]> {
    this.#assertOpen();
    const out: InstanceRecord[] = [];
    for (const record of this.#instances.values()) {
      if (service === undefined || record.service === service) out.push(record);
    }
    return out;
  }

  watch(listener: (change: RegistryChange) => void): Unsubscribe {
    this.#assertOpen();
    this.#listeners.add(listener);
    for (const instance of this.#instances.values()) listener({ type: 'put', instance });
    return () => this.#listeners.delete(listener);
  }

  async publish(env: string, entry: CatalogEntry): Promise<void> {
    this.#assertOpen();
    assertCatalogEntry(env, entry);
    const catalog = this.#catalogs.get(env) ?? new Map<string, CatalogEntry>();
    this.#catalogs.set(env, catalog);
    const stored = structuredClone(entry);
    catalog.set(`${entry.name}@${entry.version}`, stored);
    this.#emitCatalog(env, { type: 'put', entry: stored });
  }

  async unpublish(env: string, name: string, version: string): Promise<void> {
    this.#assertOpen();
    assertEnv(env);
    if (this.#catalogs.get(env)?.delete(`${name}@${version}`)) {
      this.#emitCatalog(env, { type: 'delete', name, version });
    }
  }

  async catalog(env: string): Promise<CatalogEntry[]> {
    this.#assertOpen();
    assertEnv(env);
    return [...(this.#catalogs.get(env)?.values() ?? [])];
  }

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

  async close(): Promise<void> {
    this.#closed = true;
    this.#listeners.clear();
    this.#catalogListeners.clear();
    this.#instances.clear();
    this.#catalogs.clear();
  }

  #emitCatalog(env: string, change: CatalogChange): void {
    for (const watcher of this.#catalogListeners) if (watcher.env === env) watcher.listener(change);
  }

  #assertOpen(): void {
    if (this.#closed) throw new GatewayStoppedError('MemoryRegistry is closed');
  }
}
