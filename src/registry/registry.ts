/**
 * The discovery registry contract: where gateways record the plugin instances they run, so that
 * they (and later, other gateways of a fleet) can find them. Memory is the default adapter.
 * @module
 */
import type { PluginEndpoint, PluginStatus } from '../core/types.js';

/** One running plugin instance, as a registry lists it. */
export interface InstanceRecord {
  /** Unique instance id (`name@version#n` on its node). */
  id: string;
  /** Plugin (service) name. */
  service: string;
  version: string;
  /** Id of the gateway process that runs it. */
  nodeId: string;
  /** Where that gateway serves, when it advertises an address. */
  address?: string;
  endpoints: readonly PluginEndpoint[];
  status: PluginStatus;
  metadata: Readonly<Record<string, string>>;
}

/** What changed in a registry. */
export type RegistryChange =
  { type: 'put'; instance: InstanceRecord } | { type: 'delete'; id: string; service: string };

/** Options of {@link DiscoveryRegistry.register}. */
export interface RegisterOptions {
  /** Milliseconds the record outlives its owner when the owner stops renewing it; none: until deregistered. */
  ttl?: number;
}

/** Stop listening. */
export type Unsubscribe = () => void;

/** The contract every registry adapter (memory, etcd, Consul) implements. */
export interface DiscoveryRegistry {
  /** Records (or replaces) an instance; calling it again renews its TTL. */
  register(instance: InstanceRecord, options?: RegisterOptions): Promise<void>;
  /** Removes an instance; removing an unknown id is not an error. */
  deregister(id: string): Promise<void>;
  /** Instances of one service, or all when `service` is omitted. */
  list(service?: string): Promise<InstanceRecord[]>;
  /** Calls `listener` for every change from now on. */
  watch(listener: (change: RegistryChange) => void): Unsubscribe;
  /** Releases timers and connections; the registry is unusable afterwards. */
  close(): Promise<void>;
}
