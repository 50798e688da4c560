/**
 * `MemoryRegistry`: the in-process discovery registry, and the gateway's default.
 * @module
 */
import { GatewayStoppedError } from '../errors.js';
import type {
  DiscoveryRegistry,
  InstanceRecord,
  RegisterOptions,
  RegistryChange,
  Unsubscribe,
} from './registry.js';

interface Entry {
  instance: InstanceRecord;
  expiresAt: number;
}

/**
 * Keeps instances in a `Map`. A record registered with a `ttl` expires when it is not renewed in
 * time; expiry is checked when the registry is read, so it keeps no timer running.
 * @example
 * const gateway = new PluginGateway({ registry: new MemoryRegistry() });
 */
export class MemoryRegistry implements DiscoveryRegistry {
  #entries = new Map<string, Entry>();
  #listeners = new Set<(change: RegistryChange) => void>();
  #closed = false;
  readonly #now: () => number;

  /** @param options.now clock, for tests. */
  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
  }

  async register(instance: InstanceRecord, options: RegisterOptions = {}): Promise<void> {
    this.#assertOpen();
    const expiresAt = options.ttl === undefined ? Infinity : this.#now() + options.ttl;
    const record = Object.freeze({ ...instance });
    this.#entries.set(instance.id, { instance: record, expiresAt });
    this.#emit({ type: 'put', instance: record });
  }

  async deregister(id: string): Promise<void> {
    const entry = this.#entries.get(id);
    if (!entry) return;
    this.#entries.delete(id);
    this.#emit({ type: 'delete', id, service: entry.instance.service });
  }

  async list(service?: string): Promise<InstanceRecord[]> {
    this.#assertOpen();
    this.#expire();
    const out: InstanceRecord[] = [];
    for (const { instance } of this.#entries.values()) {
      if (service === undefined || instance.service === service) out.push(instance);
    }
    return out;
  }

  watch(listener: (change: RegistryChange) => void): Unsubscribe {
    this.#assertOpen();
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#listeners.clear();
    this.#entries.clear();
  }

  #expire(): void {
    const now = this.#now();
    for (const [id, entry] of this.#entries) {
      if (entry.expiresAt <= now) {
        this.#entries.delete(id);
        this.#emit({ type: 'delete', id, service: entry.instance.service });
      }
    }
  }

  #emit(change: RegistryChange): void {
    for (const listener of this.#listeners) listener(change);
  }

  #assertOpen(): void {
    if (this.#closed) throw new GatewayStoppedError('MemoryRegistry is closed');
  }
}
