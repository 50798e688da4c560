/**
 * How etcd and Consul's KV hold a fleet's records: one key layout and one check of catalog values for both.
 * @module
 */
import { parseDuration } from '../shared/duration.js';
import { ArtifactTooLargeError } from '../errors.js';
import { assertCatalogEntry, assertEnv, type CatalogEntry } from './registry.js';

/**
 * `<namespace>/<environment>/instances/…` for the instances of one environment, and
 * `<namespace>/catalog/<env>/<name>/<version>` for the catalog of every environment, and
 * `<namespace>/_gateways/<nodeId>` for the gateways' status records.
 */
export class StoreLayout {
  readonly instances: string;
  /** Gateways' status records, every environment's (`_` keeps it apart from environment names). */
  readonly gateways: string;

  constructor(
    readonly namespace: string,
    readonly environment: string,
  ) {
    assertEnv(environment);
    this.instances = `${namespace}/${environment}/instances/`;
    this.gateways = `${namespace}/_gateways/`;
  }

  gatewayKey(nodeId: string): string {
    return `${this.gateways}${encodeURIComponent(nodeId)}`;
  }

  catalog(env: string): string {
    assertEnv(env);
    return `${this.namespace}/catalog/${env}/`;
  }

  catalogKey(env: string, name: string, version: string): string {
    return `${this.catalog(env)}${encodeURIComponent(name)}/${encodeURIComponent(version)}`;
  }

  /** The name and version a catalog key under `prefix` stands for. */
  catalogEntryOf(prefix: string, key: string): { name: string; version: string } {
    const [name = '', version = ''] = key.slice(prefix.length).split('/').map(decodeURIComponent);
    return { name, version };
  }
}

/**
 * The entry as the JSON value to store.
 * @throws {ArtifactTooLargeError} above `maxValueBytes`, naming the store's own limit.
 */
export function catalogValue(
  env: string,
  entry: CatalogEntry,
  maxValueBytes: number,
  store: string,
  storeLimit: string,
): string {
  assertCatalogEntry(env, entry);
  const value = JSON.stringify(entry);
  const bytes = Buffer.byteLength(value);
  if (bytes > maxValueBytes) {
    throw new ArtifactTooLargeError(
      `${entry.name}@${entry.version} is ${bytes} bytes as a catalog entry; this ${store} sends at most ` +
        `${maxValueBytes} (maxValueBytes; ${storeLimit}). Publish a bundled plugin without its ` +
        `node_modules, or raise both limits.`,
      { plugin: entry.name },
    );
  }
  return value;
}

/** A stored value as `T`, or `undefined` when it is not JSON (written by something else). */
export function parseJson<T>(text: string): T | undefined {
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

/**
 * A registry's `ttl` option in ms: how long a dead gateway's instances stay listed.
 * @throws {TypeError} below one second (neither etcd leases nor Consul checks go lower).
 */
export function registryTtl(store: string, ttl: string | number | undefined): number {
  const ms = parseDuration(ttl ?? '10s');
  if (ms === undefined || ms < 1000) {
    throw new TypeError(`${store} ttl must be a duration of at least 1s, got ${String(ttl)}`);
  }
  return ms;
}
