/**
 * `ConsulRegistry`: a fleet's discovery on Consul, through its agent's HTTP API (no client library).
 * Watching uses blocking queries (`index` / `wait`, `X-Consul-Index`) on health states and the KV prefix.
 * @module
 */
import { Agent } from 'undici';
import { GatewayStoppedError } from '../errors.js';
import { parseDuration } from '../shared/duration.js';
import { ConsulHttp, type Blocking, type KvPair } from './consul-http.js';
import {
  assertEnv,
  assertRecord,
  type CatalogChange,
  type CatalogEntry,
  type DiscoveryRegistry,
  type InstanceRecord,
  type RegisterOptions,
  type RegistryChange,
  type Unsubscribe,
  type WatchStatus,
} from './registry.js';
import { StoreLayout, catalogValue, parseJson, registryTtl } from './store-layout.js';

/** Options of {@link ConsulRegistry}. */
export interface ConsulRegistryOptions {
  /** Agent host. @default '127.0.0.1' */
  host?: string;
  /** Agent HTTP port. @default 8500 */
  port?: number;
  /** `http` or `https`. @default 'https' with `tls`, else 'http' */
  scheme?: 'http' | 'https';
  /** PEM for a private CA or a client certificate; without it `https` trusts Node's CA store. */
  tls?: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer };
  /** ACL token, sent as `X-Consul-Token`. */
  token?: string;
  /** Key prefix and service tag shared by the fleet. @default 'veza' */
  namespace?: string;
  /** Environment whose instances this registry registers and lists. @default 'default' */
  environment?: string;
  /** TTL of each instance's check: how long a dead gateway's instances stay listed. @default '10s' */
  ttl?: string | number;
  /** How long a blocking query waits for a change before asking again. @default '30s' */
  wait?: string | number;
  /** Largest catalog entry in bytes of JSON; Consul's KV refuses values above 512 KiB. @default 500_000 */
  maxValueBytes?: number;
}

interface HealthCheck {
  CheckID: string;
  ServiceID: string;
  Status: 'passing' | 'warning' | 'critical' | 'maintenance';
}

interface Owned {
  record: InstanceRecord;
  ttlMs: number;
}

const CHECK_PREFIX = 'veza:';

/**
 * A discovery registry on Consul, for a fleet. Each instance is an agent service with a TTL check this
 * registry keeps passing, and a KV record at `<namespace>/<environment>/instances/<id>`; the catalog
 * is kept at `<namespace>/catalog/<env>/<name>/<version>`.
 * @example
 * import { ConsulRegistry } from '@veza/plugin-gateway/registry/consul';
 * const registry = new ConsulRegistry({ host: '127.0.0.1', port: 8500, namespace: 'veza', ttl: '10s' });
 */
export class ConsulRegistry implements DiscoveryRegistry {
  /** Key prefix and service tag shared by the fleet. */
  readonly namespace: string;
  /** Environment whose instances this registry registers and lists. */
  readonly environment: string;
  /** TTL of each instance's check, ms: how long a dead gateway's instances stay listed. */
  readonly ttlMs: number;
  /** How long a blocking query waits for a change, ms. */
  readonly waitMs: number;
  /** Largest catalog entry `publish()` sends, in bytes of JSON. */
  readonly maxValueBytes: number;
  readonly #layout: StoreLayout;
  readonly #http: ConsulHttp;
  readonly #owned = new Map<string, Owned>();
  #keepAlive: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: ConsulRegistryOptions = {}) {
    this.namespace = options.namespace ?? 'veza';
    this.environment = options.environment ?? 'default';
    this.#layout = new StoreLayout(this.namespace, this.environment);
    this.ttlMs = registryTtl('ConsulRegistry', options.ttl);
    this.waitMs = parseDuration(options.wait ?? '30s') ?? 30_000;
    this.maxValueBytes = options.maxValueBytes ?? 500_000;
    const scheme = options.scheme ?? (options.tls ? 'https' : 'http');
    this.#http = new ConsulHttp(
      `${scheme}://${options.host ?? '127.0.0.1'}:${options.port ?? 8500}`,
      options.token ? { 'x-consul-token': options.token } : {},
      this.waitMs,
      options.tls && new Agent({ connect: { ...options.tls } }),
    );
  }

  /**
   * Registers an agent service with a TTL check of `options.ttl` (default: `ttlMs`, at least 1 s),
   * writes the record to the KV store and passes the check. A timer then passes every check at a
   * third of the shortest TTL, and registers again what the agent forgot.
   * @throws {RegistryError} `PGW_ERR_REGISTRY` when Consul fails or cannot be reached.
   * @throws {TypeError} for a record without `id`, `service` or `nodeId`, or with a `version` that is
   * not semver.
   * @throws {GatewayStoppedError} `PGW_ERR_GATEWAY_STOPPED` after `close()`.
   */
  async register(instance: InstanceRecord, options: RegisterOptions = {}): Promise<void> {
    this.#assertOpen();
    assertRecord(instance);
    const ttlMs = Math.max(1000, options.ttl ?? this.ttlMs);
    this.#owned.set(instance.id, { record: structuredClone(instance), ttlMs });
    await this.#announce(instance, ttlMs);
    this.#keepAlive ??= setInterval(() => void this.#renew(), this.#renewEveryMs()).unref();
  }

  /**
   * Deregisters the agent service and deletes its KV record.
   * @throws {RegistryError} `PGW_ERR_REGISTRY` when Consul fails or cannot be reached.
   */
  async deregister(id: string): Promise<void> {
    this.#owned.delete(id);
    await this.#http.call('PUT', `/v1/agent/service/deregister/${encodeURIComponent(id)}`);
    await this.#http.call('DELETE', `/v1/kv/${this.#instanceKey(id)}`);
  }

  /**
   * Instances of `service`, or all, in this registry's environment whose check passes; drops the KV
   * records of services the agent no longer knows.
   * @throws {RegistryError} `PGW_ERR_REGISTRY` when Consul fails or cannot be reached.
   * @throws {GatewayStoppedError} `PGW_ERR_GATEWAY_STOPPED` after `close()`.
   */
  async list(service?: string): Promise<InstanceRecord[]> {
    this.#assertOpen();
    const [kv, health] = await Promise.all([
      this.#http.kv(this.#layout.instances),
      this.#http.get<HealthCheck[]>('/v1/health/state/any'),
    ]);
    return this.#live(kv.body, health).filter(
      (r) => service === undefined || r.service === service,
    );
  }

  /**
   * Reports every live instance of the environment as a `put`, then every change, through blocking
   * queries on the KV prefix and the health states. A failed query is reported once to
   * `status.onError` and retried every second; when Consul answers again, the differences are
   * reported as changes, then `status.onReconnected` is called.
   * @throws {GatewayStoppedError} `PGW_ERR_GATEWAY_STOPPED` after `close()`.
   */
  watch(listener: (change: RegistryChange) => void, status?: WatchStatus): Unsubscribe {
    this.#assertOpen();
    const known = new Map<string, string>();
    let kvIndex = 0;
    let healthIndex = 0;
    let pairs: KvPair[] = [];
    let checks: HealthCheck[] = [];
    const diff = (): void => {
      const seen = new Set<string>();
      for (const record of this.#live(pairs, { index: healthIndex, body: checks })) {
        const value = JSON.stringify(record);
        seen.add(record.id);
        if (known.get(record.id) === value) continue;
        known.set(record.id, value);
        listener({ type: 'put', instance: record });
      }
      for (const [id, value] of known) {
        if (seen.has(id)) continue;
        known.delete(id);
        listener({ type: 'delete', id, service: (JSON.parse(value) as InstanceRecord).service });
      }
    };
    const stops = [
      this.#http.blockingLoop(
        (index, signal) => this.#http.kv(this.#layout.instances, index, signal),
        (answer) => {
          kvIndex = answer.index;
          pairs = answer.body;
        },
        diff,
        status,
        () => kvIndex,
      ),
      this.#http.blockingLoop(
        (index, signal) => this.#http.get<HealthCheck[]>('/v1/health/state/any', index, signal),
        (answer) => {
          healthIndex = answer.index;
          checks = answer.body;
        },
        diff,
        undefined,
        () => healthIndex,
      ),
    ];
    return () => stops.forEach((stop) => stop());
  }

  /**
   * Writes the entry to the KV store in `env`, replacing the same name and version.
   * @throws {ArtifactTooLargeError} `PGW_ERR_ARTIFACT_TOO_LARGE` above `maxValueBytes`.
   * @throws {RegistryError} `PGW_ERR_REGISTRY` when Consul fails or cannot be reached.
   * @throws {TypeError} for a malformed `env`, name, version or hash.
   * @throws {GatewayStoppedError} `PGW_ERR_GATEWAY_STOPPED` after `close()`.
   */
  async publish(env: string, entry: CatalogEntry): Promise<void> {
    this.#assertOpen();
    const value = catalogValue(
      env,
      entry,
      this.maxValueBytes,
      'ConsulRegistry',
      "Consul's KV refuses values above 512 KiB by default, kv_max_value_size",
    );
    await this.#http.call(
      'PUT',
      `/v1/kv/${this.#layout.catalogKey(env, entry.name, entry.version)}`,
      value,
    );
  }

  /**
   * Deletes a version from `env`; an unknown one is not an error.
   * @throws {RegistryError} `PGW_ERR_REGISTRY` when Consul fails or cannot be reached.
   * @throws {TypeError} for an `env` that is not letters, digits, `.`, `_` or `-`.
   * @throws {GatewayStoppedError} `PGW_ERR_GATEWAY_STOPPED` after `close()`.
   */
  async unpublish(env: string, name: string, version: string): Promise<void> {
    this.#assertOpen();
    assertEnv(env);
    await this.#http.call('DELETE', `/v1/kv/${this.#layout.catalogKey(env, name, version)}`);
  }

  /**
   * Every version published to `env`.
   * @throws {RegistryError} `PGW_ERR_REGISTRY` when Consul fails or cannot be reached.
   * @throws {TypeError} for an `env` that is not letters, digits, `.`, `_` or `-`.
   * @throws {GatewayStoppedError} `PGW_ERR_GATEWAY_STOPPED` after `close()`.
   */
  async catalog(env: string): Promise<CatalogEntry[]> {
    this.#assertOpen();
    assertEnv(env);
    const { body } = await this.#http.kv(this.#layout.catalog(env));
    return body.flatMap((pair) => decode<CatalogEntry>(pair) ?? []);
  }

  /**
   * Reports every version published to `env` as a `put`, then every change there; a failed query is
   * reported and recovered as by {@link ConsulRegistry.watch}.
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
    const prefix = this.#layout.catalog(env);
    const known = new Map<string, number>();
    let index = 0;
    let pairs: KvPair[] = [];
    return this.#http.blockingLoop(
      (at, signal) => this.#http.kv(prefix, at, signal),
      (answer) => {
        index = answer.index;
        pairs = answer.body;
      },
      () => {
        const seen = new Set<string>();
        for (const pair of pairs) {
          seen.add(pair.Key);
          if (known.get(pair.Key) === pair.ModifyIndex) continue;
          known.set(pair.Key, pair.ModifyIndex);
          const entry = decode<CatalogEntry>(pair);
          if (entry) listener({ type: 'put', entry });
        }
        for (const key of known.keys()) {
          if (seen.has(key)) continue;
          known.delete(key);
          const { name, version } = this.#layout.catalogEntryOf(prefix, key);
          listener({ type: 'delete', name, version });
        }
      },
      status,
      () => index,
    );
  }

  /**
   * Stops every watch and the check timer, and deregisters the instances this registry registered.
   * A second call does nothing.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#keepAlive);
    this.#http.close();
    const owned = [...this.#owned.keys()];
    this.#owned.clear();
    await Promise.all(owned.map((id) => this.deregister(id).catch(() => {})));
    await this.#http.release();
  }

  /** Records whose service check passes; removes the KV records of services Consul no longer knows. */
  #live(pairs: readonly KvPair[], health: Blocking<HealthCheck[]>): InstanceRecord[] {
    const passing = new Set<string>();
    const known = new Set<string>();
    for (const check of health.body) {
      if (!check.CheckID.startsWith(CHECK_PREFIX)) continue;
      known.add(check.ServiceID);
      if (check.Status === 'passing') passing.add(check.ServiceID);
    }
    const out: InstanceRecord[] = [];
    for (const pair of pairs) {
      const record = decode<InstanceRecord>(pair);
      if (!record) continue;
      if (passing.has(record.id)) out.push(record);
      else if (!known.has(record.id) && pair.ModifyIndex < health.index && !this.#closed) {
        // Its service was deregistered (critical for too long) after this record was written: an orphan.
        void this.#http
          .call('DELETE', `/v1/kv/${encodeKey(pair.Key)}?cas=${pair.ModifyIndex}`)
          .catch(() => {});
      }
    }
    return out;
  }

  /** The agent service with its TTL check, the record in the KV store, and a first pass of the check. */
  async #announce(record: InstanceRecord, ttlMs: number): Promise<void> {
    await this.#registerService(record, ttlMs);
    await this.#http.call('PUT', `/v1/kv/${this.#instanceKey(record.id)}`, JSON.stringify(record));
    await this.#pass(record.id);
  }

  async #registerService(record: InstanceRecord, ttlMs: number): Promise<void> {
    const ttl = `${Math.ceil(ttlMs / 1000)}s`;
    await this.#http.call(
      'PUT',
      '/v1/agent/service/register',
      JSON.stringify({
        ID: record.id,
        Name: record.service,
        Tags: [this.namespace, `${this.namespace}-env-${this.environment}`],
        Meta: { version: record.version, node_id: record.nodeId },
        Check: {
          CheckID: `${CHECK_PREFIX}${record.id}`,
          Name: `veza plugin instance ${record.id}`,
          TTL: ttl,
          // Consul's minimum: a dead gateway's service goes one minute after its check turned critical.
          DeregisterCriticalServiceAfter: '1m',
        },
      }),
    );
  }

  #pass(id: string): Promise<unknown> {
    return this.#http.call('PUT', `/v1/agent/check/pass/${encodeURIComponent(CHECK_PREFIX + id)}`);
  }

  /** Keeps every owned check passing; registers again what the agent forgot (e.g. it restarted). */
  async #renew(): Promise<void> {
    for (const { record, ttlMs } of this.#owned.values()) {
      if (this.#closed) return;
      try {
        await this.#pass(record.id);
      } catch {
        try {
          await this.#announce(record, ttlMs);
        } catch {
          // The agent is unreachable: the next round tries again; the check goes critical meanwhile.
        }
      }
    }
  }

  #renewEveryMs(): number {
    const shortest = Math.min(...[...this.#owned.values()].map((o) => o.ttlMs), this.ttlMs);
    return Math.max(250, Math.floor(shortest / 3));
  }

  #instanceKey(id: string): string {
    return `${this.#layout.instances}${encodeURIComponent(id)}`;
  }

  #assertOpen(): void {
    if (this.#closed) throw new GatewayStoppedError('ConsulRegistry is closed');
  }
}

function decode<T>(pair: KvPair): T | undefined {
  return pair.Value ? parseJson<T>(Buffer.from(pair.Value, 'base64').toString('utf8')) : undefined;
}

function encodeKey(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}
