/**
 * The discovery registry contract: where the gateways of a fleet record the plugin instances they run,
 * find each other's, and read the catalog of plugin versions published to an environment. Memory is
 * the default adapter; etcd and Consul hold it for a fleet. Every adapter passes one contract suite.
 * @module
 */
import { semver } from '../shared/semver.js';
import type { PluginEndpoint, PluginStatus } from '../shared/types.js';

/** One running plugin instance, as a registry lists it. */
export interface InstanceRecord {
  /** Unique instance id (`name@version#node.n`). */
  id: string;
  /** Plugin (service) name. */
  service: string;
  /** Semver version of the plugin. */
  version: string;
  /** Id of the gateway process that runs it. */
  nodeId: string;
  /** Where that gateway serves (its `createRequestListener`), when it advertises an address. */
  address?: string;
  /** The endpoints it serves, as its manifest declares them. */
  endpoints: readonly PluginEndpoint[];
  /** Its plugin's status; only `active` instances are picked (see {@link selectInstances}). */
  status: PluginStatus;
  /** Its plugin's metadata, as in `PluginInfo.metadata`. */
  metadata: Readonly<Record<string, string>>;
  /**
   * HMAC-SHA256 (64 lower-case hex) under the fleet's `node.secret` over every field above and the
   * registry's environment, set by the gateway that registers it; a gateway with a secret acts on no
   * record whose seal does not verify (docs/fleet-trust.md).
   */
  seal?: string;
}

/** A plugin as a gateway's status record lists it. */
export interface GatewayPluginState {
  /** Plugin name. */
  name: string;
  /** The version it runs. */
  version: string;
  /** Its status there. */
  status: PluginStatus;
  /** Why it is `failed` or still `loading` (at most 1,000 characters). */
  reason?: string;
}

/** A catalog entry a gateway would not run, or could not: why, in its words. */
export interface GatewayRefusal {
  /** Plugin name of the entry. */
  name: string;
  /** Version of the entry. */
  version: string;
  /** The entry's content hash, when the refusal is about one entry. */
  hash?: string;
  /** The error's code and message (at most 1,000 characters). */
  reason: string;
  /** When it refused, ISO 8601. */
  at: string;
}

/**
 * What one gateway publishes about itself, across environments (`DiscoveryRegistry.reportGateway`):
 * where its instances are, which catalog it follows, what it runs, what it refused. `veza plugin
 * deploy` reads these to say which gateways watch an environment and why each refused a version.
 */
export interface GatewayStatusRecord {
  /** The gateway's node id. */
  nodeId: string;
  /** The registry environment its instances are listed in. */
  environment: string;
  /** The catalog environment it follows (`watch.env`), when it follows one. */
  watch?: string;
  /** When it wrote the record, ISO 8601. */
  updatedAt: string;
  /** Its plugins (at most 1,000). */
  plugins: GatewayPluginState[];
  /** Its latest catalog refusals, oldest first (at most 50). */
  refusals: GatewayRefusal[];
  /** HMAC-SHA256 under the fleet's `node.secret`, as for {@link InstanceRecord.seal}. */
  seal?: string;
}

/** What changed among the instances of a registry. */
export type RegistryChange =
  { type: 'put'; instance: InstanceRecord } | { type: 'delete'; id: string; service: string };

/** A plugin version published to an environment: its manifest and files, and their content hash. */
export interface CatalogEntry {
  /** Plugin name. */
  name: string;
  /** Semver version. */
  version: string;
  /** The text of its `plugin.yaml`. */
  manifest: string;
  /** Every file of the plugin's folder, by path relative to it, base64-encoded. */
  files: Readonly<Record<string, string>>;
  /** `sha256-<hex>` over the files (see `packPlugin`); a gateway checks it before loading. */
  hash: string;
  /** When it was packed, ISO 8601 (set by `packPlugin`). */
  publishedAt: string;
  /**
   * The publisher's Ed25519 signature over name, version, environment and hash
   * (`packPlugin(dir, { signingKey, env })`); required by a gateway given `watch.trustedKeys`, which
   * accepts only a signature for the environment it watches.
   */
  signature?: { keyId: string; value: string; env: string };
}

/** What changed in an environment's catalog. */
export type CatalogChange =
  { type: 'put'; entry: CatalogEntry } | { type: 'delete'; name: string; version: string };

/** Options of {@link DiscoveryRegistry.register}. */
export interface RegisterOptions {
  /**
   * Milliseconds the record outlives its owner once the owner stops renewing it. The adapter renews it
   * while the registry is open. Default: the adapter's `ttl` (memory: none, records stay until removed).
   */
  ttl?: number;
}

/** Connection news of a watch: the store went away (changes may be missed), or came back (re-listed). */
export interface WatchStatus {
  /**
   * The store went away (`error` is a `RegistryError`): changes may be missed until `onReconnected`.
   */
  onError?(error: Error): void;
  /** The store answers again; what changed meanwhile has been reported as ordinary changes. */
  onReconnected?(): void;
}

/** Stop listening. */
export type Unsubscribe = () => void;

/** The contract every registry adapter (memory, etcd, Consul) implements. */
export interface DiscoveryRegistry {
  /**
   * The environment whose instances it registers and lists (etcd, Consul); records are sealed to it.
   * @default 'default'
   */
  readonly environment?: string;
  /** Records (or replaces) an instance, kept alive until deregistered or the registry closes. */
  register(instance: InstanceRecord, options?: RegisterOptions): Promise<void>;
  /** Removes an instance; removing an unknown id is not an error. */
  deregister(id: string): Promise<void>;
  /** Live instances of one service, or all when `service` is omitted. */
  list(service?: string): Promise<InstanceRecord[]>;
  /**
   * Calls `listener` with a `put` for every instance listed now, then for every change. After a lost
   * connection the adapter re-lists and reports what changed meanwhile as ordinary changes, then calls
   * `status.onReconnected`.
   */
  watch(listener: (change: RegistryChange) => void, status?: WatchStatus): Unsubscribe;
  /** Publishes a plugin version to `env` (replacing the same name and version). */
  publish(env: string, entry: CatalogEntry): Promise<void>;
  /** Withdraws a version from `env`; an unknown one is not an error. */
  unpublish(env: string, name: string, version: string): Promise<void>;
  /** Every version published to `env`. */
  catalog(env: string): Promise<CatalogEntry[]>;
  /** Calls `listener` with a `put` for every version published to `env` now, then for every change. */
  watchCatalog(
    env: string,
    listener: (change: CatalogChange) => void,
    status?: WatchStatus,
  ): Unsubscribe;
  /**
   * Records (or replaces) this gateway's status record, kept alive like its instances; readable from
   * every environment of the store. Adapters without it (Consul) leave gateways unlisted to `deploy`.
   */
  reportGateway?(record: GatewayStatusRecord): Promise<void>;
  /** Withdraws a gateway's status record; an unknown node is not an error. */
  removeGateway?(nodeId: string): Promise<void>;
  /** The status records of every gateway of the store, whatever its environment (not validated). */
  gateways?(): Promise<unknown[]>;
  /** Releases timers and connections and withdraws this registry's instances. */
  close(): Promise<void>;
}

/**
 * Active instances of `service` whose version satisfies the semver `range`, newest version first.
 * @example
 * const [best] = await resolveInstances(registry, 'ai-recommendations', '^1.2');
 */
export async function resolveInstances(
  registry: DiscoveryRegistry,
  service: string,
  range = '*',
): Promise<InstanceRecord[]> {
  return selectInstances(await registry.list(service), range);
}

/** The active records of `records` that satisfy `range`, newest version first. */
export function selectInstances(
  records: readonly InstanceRecord[],
  range: string,
): InstanceRecord[] {
  return records
    .filter(
      (r) =>
        r.status === 'active' && semver.satisfies(r.version, range, { includePrerelease: true }),
    )
    .sort((a, b) => semver.rcompare(a.version, b.version));
}

/** Checks a record before it is stored: the same check on every adapter. */
export function assertRecord(instance: InstanceRecord): void {
  for (const field of ['id', 'service', 'version', 'nodeId'] as const) {
    if (typeof instance?.[field] !== 'string' || instance[field] === '') {
      throw new TypeError(`InstanceRecord.${field} must be a non-empty string`);
    }
  }
  if (!semver.valid(instance.version)) {
    throw new TypeError(`InstanceRecord.version "${instance.version}" is not a semver version`);
  }
}

/** Checks a catalog entry and an environment name before they are stored. */
export function assertCatalogEntry(env: string, entry: CatalogEntry): void {
  assertEnv(env);
  if (typeof entry?.name !== 'string' || !/^[a-z0-9][a-z0-9._-]*$/i.test(entry.name)) {
    throw new TypeError(`CatalogEntry.name "${String(entry?.name)}" is not a plugin name`);
  }
  if (!semver.valid(entry.version)) {
    throw new TypeError(`CatalogEntry.version "${String(entry.version)}" is not a semver version`);
  }
  if (typeof entry.hash !== 'string' || !entry.hash.startsWith('sha256-')) {
    throw new TypeError('CatalogEntry.hash must be "sha256-<hex>" (use packPlugin())');
  }
}

/** Environment names become key segments: keep them to letters, digits, `.`, `_` and `-`. */
export function assertEnv(env: string): void {
  if (typeof env !== 'string' || !/^[a-z0-9][a-z0-9._-]*$/i.test(env)) {
    throw new TypeError(`environment "${String(env)}" must be letters, digits, ".", "_" or "-"`);
  }
}
