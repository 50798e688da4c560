/**
 * `ConsulRegistry`: the discovery registry of a fleet on Consul, through its agent's HTTP API (no client
 * library needed). Each instance is an agent service with a TTL check that this registry keeps passing;
 * its full record sits in the KV store. Listing keeps the records whose check passes; watching uses
 * blocking queries (`index` / `wait`, `X-Consul-Index`) on the health states and the KV prefix.
 * @module
 */
import { request } from 'undici';
import { ArtifactTooLargeError, GatewayStoppedError, RegistryError } from '../errors.js';
import { parseDuration } from '../core/duration.js';
import {
  assertCatalogEntry,
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

/** Options of {@link ConsulRegistry}. */
export interface ConsulRegistryOptions {
  /** Agent host. @default '127.0.0.1' */
  host?: string;
  /** Agent HTTP port. @default 8500 */
  port?: number;
  /** `http` or `https`. @default 'http' */
  scheme?: 'http' | 'https';
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

interface KvPair {
  Key: string;
  Value: string | null;
  ModifyIndex: number;
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

/** A blocking query's answer. */
interface Blocking<T> {
  index: number;
  body: T;
}

const CHECK_PREFIX = 'veza:';

/**
 * @example
 * import { ConsulRegistry } from '@veza/plugin-gateway/registry/consul';
 * const registry = new ConsulRegistry({ host: '127.0.0.1', port: 8500, namespace: 'veza', ttl: '10s' });
 */
export class ConsulRegistry implements DiscoveryRegistry {
  readonly namespace: string;
  readonly environment: string;
  readonly ttlMs: number;
  readonly waitMs: number;
  readonly maxValueBytes: number;
  readonly #base: string;
  readonly #headers: Record<string, string>;
  readonly #owned = new Map<string, Owned>();
  readonly #aborts = new Set<AbortController>();
  #keepAlive: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: ConsulRegistryOptions = {}) {
    this.namespace = options.namespace ?? 'veza';
    this.environment = options.environment ?? 'default';
    assertEnv(this.environment);
    const ttl = parseDuration(options.ttl ?? '10s');
    if (ttl === undefined || ttl < 1000) {
      throw new TypeError(
        `ConsulRegistry ttl must be a duration of at least 1s, got ${options.ttl}`,
      );
    }
    this.ttlMs = ttl;
    this.waitMs = parseDuration(options.wait ?? '30s') ?? 30_000;
    this.maxValueBytes = options.maxValueBytes ?? 500_000;
    this.#base = `${options.scheme ?? 'http'}://${options.host ?? '127.0.0.1'}:${options.port ?? 8500}`;
    this.#headers = options.token ? { 'x-consul-token': options.token } : {};
  }

  async register(instance: InstanceRecord, options: RegisterOptions = {}): Promise<void> {
    this.#assertOpen();
    assertRecord(instance);
    const ttlMs = Math.max(1000, options.ttl ?? this.ttlMs);
    this.#owned.set(instance.id, { record: structuredClone(instance), ttlMs });
    await this.#registerService(instance, ttlMs);
    await this.#call('PUT', `/v1/kv/${this.#instanceKey(instance.id)}`, JSON.stringify(instance));
    await this.#pass(instance.id);
    this.#keepAlive ??= setInterval(() => void this.#renew(), this.#renewEveryMs()).unref();
  }

  async deregister(id: string): Promise<void> {
    this.#owned.delete(id);
    await this.#call('PUT', `/v1/agent/service/deregister/${encodeURIComponent(id)}`);
    await this.#call('DELETE', `/v1/kv/${this.#instanceKey(id)}`);
  }

  async list(service?: string): Promise<InstanceRecord[]> {
    this.#assertOpen();
    const [kv, health] = await Promise.all([
      this.#kv(this.#instancePrefix()),
      this.#get<HealthCheck[]>('/v1/health/state/any'),
    ]);
    return this.#live(kv.body, health).filter(
      (r) => service === undefined || r.service === service,
    );
  }

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
      this.#blockingLoop(
        (index, signal) => this.#kv(this.#instancePrefix(), index, signal),
        (answer) => {
          kvIndex = answer.index;
          pairs = answer.body;
        },
        diff,
        status,
        () => kvIndex,
      ),
      this.#blockingLoop(
        (index, signal) => this.#get<HealthCheck[]>('/v1/health/state/any', index, signal),
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

  async publish(env: string, entry: CatalogEntry): Promise<void> {
    this.#assertOpen();
    assertCatalogEntry(env, entry);
    const value = JSON.stringify(entry);
    const bytes = Buffer.byteLength(value);
    if (bytes > this.maxValueBytes) {
      throw new ArtifactTooLargeError(
        `${entry.name}@${entry.version} is ${bytes} bytes as a catalog entry; this ConsulRegistry sends at ` +
          `most ${this.maxValueBytes} (maxValueBytes; Consul's KV refuses values above 512 KiB by default, ` +
          `kv_max_value_size). Publish a bundled plugin without its node_modules, or raise both limits.`,
        { plugin: entry.name },
      );
    }
    await this.#call('PUT', `/v1/kv/${this.#catalogKey(env, entry.name, entry.version)}`, value);
  }

  async unpublish(env: string, name: string, version: string): Promise<void> {
    this.#assertOpen();
    assertEnv(env);
    await this.#call('DELETE', `/v1/kv/${this.#catalogKey(env, name, version)}`);
  }

  async catalog(env: string): Promise<CatalogEntry[]> {
    this.#assertOpen();
    assertEnv(env);
    const { body } = await this.#kv(this.#catalogPrefix(env));
    return body.flatMap((pair) => decode<CatalogEntry>(pair) ?? []);
  }

  watchCatalog(
    env: string,
    listener: (change: CatalogChange) => void,
    status?: WatchStatus,
  ): Unsubscribe {
    this.#assertOpen();
    assertEnv(env);
    const prefix = this.#catalogPrefix(env);
    const known = new Map<string, number>();
    let index = 0;
    let pairs: KvPair[] = [];
    return this.#blockingLoop(
      (at, signal) => this.#kv(prefix, at, signal),
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
          const [name, version] = key.slice(prefix.length).split('/').map(decodeURIComponent);
          listener({ type: 'delete', name: name!, version: version! });
        }
      },
      status,
      () => index,
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#keepAlive);
    for (const abort of this.#aborts) abort.abort();
    this.#aborts.clear();
    const owned = [...this.#owned.keys()];
    this.#owned.clear();
    await Promise.all(owned.map((id) => this.deregister(id).catch(() => {})));
  }

  /**
   * Asks `fetch` with the last index until the registry closes: the first answer at once, then each
   * change. After a failed query it reports the error once, retries every second, and when the store
   * answers again reports the state and `onReconnected`.
   */
  #blockingLoop<T>(
    fetch: (index: number, signal: AbortSignal) => Promise<Blocking<T>>,
    store: (answer: Blocking<T>) => void,
    changed: () => void,
    status: WatchStatus | undefined,
    index: () => number,
  ): Unsubscribe {
    const abort = new AbortController();
    this.#aborts.add(abort);
    const run = async (): Promise<void> => {
      let failing = false;
      while (!abort.signal.aborted) {
        try {
          const answer = await fetch(index(), abort.signal);
          // Consul resets an index that goes backwards (e.g. a restored snapshot): start again from 0.
          if (answer.index < index()) store({ ...answer, index: 0 });
          else store(answer);
          changed();
          if (failing) {
            failing = false;
            status?.onReconnected?.();
          }
        } catch (error) {
          if (abort.signal.aborted) return;
          if (!failing) {
            failing = true;
            status?.onError?.(
              error instanceof RegistryError
                ? error
                : new RegistryError('Consul blocking query failed', { cause: error }),
            );
          }
          await new Promise((resolve) => setTimeout(resolve, 1000).unref());
        }
      }
    };
    void run();
    return () => {
      abort.abort();
      this.#aborts.delete(abort);
    };
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
        void this.#call('DELETE', `/v1/kv/${encodeKey(pair.Key)}?cas=${pair.ModifyIndex}`).catch(
          () => {},
        );
      }
    }
    return out;
  }

  async #registerService(record: InstanceRecord, ttlMs: number): Promise<void> {
    const ttl = `${Math.ceil(ttlMs / 1000)}s`;
    await this.#call(
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
    return this.#call('PUT', `/v1/agent/check/pass/${encodeURIComponent(CHECK_PREFIX + id)}`);
  }

  /** Keeps every owned check passing; registers again what the agent forgot (e.g. it restarted). */
  async #renew(): Promise<void> {
    for (const { record, ttlMs } of this.#owned.values()) {
      if (this.#closed) return;
      try {
        await this.#pass(record.id);
      } catch {
        try {
          await this.#registerService(record, ttlMs);
          await this.#call('PUT', `/v1/kv/${this.#instanceKey(record.id)}`, JSON.stringify(record));
          await this.#pass(record.id);
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

  async #kv(prefix: string, index = 0, signal?: AbortSignal): Promise<Blocking<KvPair[]>> {
    return this.#get<KvPair[]>(`/v1/kv/${prefix}?recurse=true`, index, signal, []);
  }

  async #get<T>(path: string, index = 0, signal?: AbortSignal, notFound?: T): Promise<Blocking<T>> {
    const blocking =
      index > 0
        ? `${path.includes('?') ? '&' : '?'}index=${index}&wait=${Math.ceil(this.waitMs / 1000)}s`
        : '';
    const res = await this.#send(
      'GET',
      path + blocking,
      undefined,
      signal,
      index > 0 ? this.waitMs + 5000 : 10_000,
    );
    const consulIndex = Number(res.headers['x-consul-index'] ?? 0);
    if (res.statusCode === 404 && notFound !== undefined) {
      await res.body.dump();
      return { index: consulIndex, body: notFound };
    }
    if (res.statusCode !== 200) throw await this.#failure('GET', path, res);
    return { index: consulIndex, body: (await res.body.json()) as T };
  }

  async #call(method: 'PUT' | 'DELETE', path: string, body?: string): Promise<void> {
    const res = await this.#send(method, path, body, undefined, 10_000);
    if (res.statusCode !== 200) throw await this.#failure(method, path, res);
    await res.body.dump();
  }

  async #send(
    method: 'GET' | 'PUT' | 'DELETE',
    path: string,
    body: string | undefined,
    signal: AbortSignal | undefined,
    timeoutMs: number,
  ) {
    try {
      return await request(this.#base + path, {
        method,
        body,
        headers: this.#headers,
        signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
    } catch (error) {
      throw new RegistryError(
        `Consul: ${method} ${path.split('?')[0]} failed: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  }

  async #failure(
    method: string,
    path: string,
    res: { statusCode: number; body: { text(): Promise<string> } },
  ): Promise<RegistryError> {
    const text = (await res.body.text()).trim();
    return new RegistryError(
      `Consul: ${method} ${path.split('?')[0]} answered ${res.statusCode}${text ? `: ${text}` : ''}`,
    );
  }

  #instancePrefix(): string {
    return `${this.namespace}/${this.environment}/instances/`;
  }

  #instanceKey(id: string): string {
    return `${this.#instancePrefix()}${encodeURIComponent(id)}`;
  }

  #catalogPrefix(env: string): string {
    return `${this.namespace}/catalog/${env}/`;
  }

  #catalogKey(env: string, name: string, version: string): string {
    return `${this.#catalogPrefix(env)}${encodeURIComponent(name)}/${encodeURIComponent(version)}`;
  }

  #assertOpen(): void {
    if (this.#closed) throw new GatewayStoppedError('ConsulRegistry is closed');
  }
}

function decode<T>(pair: KvPair): T | undefined {
  if (!pair.Value) return undefined;
  try {
    return JSON.parse(Buffer.from(pair.Value, 'base64').toString('utf8')) as T;
  } catch {
    return undefined;
  }
}

function encodeKey(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}
