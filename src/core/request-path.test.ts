import { describe, expect, it } from 'vitest';
import type { PluginRuntime, TaskInput, TaskResult } from '../loader/runtime.js';
import { BulkheadPolicy } from '../mesh/bulkhead.js';
import { CircuitBreakerPolicy } from '../mesh/circuit-breaker.js';
import { FaultInjector } from '../mesh/fault-injection.js';
import { PluginInstance, type Served } from '../mesh/instances.js';
import { leastOutstanding } from '../mesh/load-balancer.js';
import { PluginMetricsRecorder } from '../mesh/metrics.js';
import type { MeshSettings } from '../mesh/pipeline.js';
import { MemoryRateLimitStore } from '../mesh/rate-limit-store.js';
import { RateLimiter } from '../mesh/rate-limiter.js';
import type { GatewayLogger } from '../shared/logger.js';
import type { GatewayRequest, PluginEndpoint } from '../shared/types.js';
import { InvalidArgumentError } from '../errors.js';
import { Observers } from './observers.js';
import type { ResolvedOptions } from './options.js';
import { RequestPath } from './request-path.js';
import { Router } from './router.js';
import { Tracing } from './tracing.js';

const quiet: GatewayLogger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  isLevelEnabled: () => false,
};

/** A plugin whose one instance answers `200 name` and records each task: no thread, no process. */
function served(name: string) {
  const tasks: TaskInput[] = [];
  const runtime = {
    run(task: TaskInput): Promise<TaskResult> {
      tasks.push(task);
      return Promise.resolve({ statusCode: 200, body: name });
    },
  } as unknown as PluginRuntime;
  const breaker = new CircuitBreakerPolicy({
    failureThreshold: 5,
    timeout: 1000,
    halfOpenLimit: 1,
  });
  const plugin: Served = {
    name,
    version: '1.0.0',
    status: 'active',
    retryAfterSeconds: 1,
    instances: [new PluginInstance(`${name}-0`, runtime, breaker)],
    bulkhead: new BulkheadPolicy({ maxConcurrent: 10, maxQueued: 10 }),
    metrics: new PluginMetricsRecorder(),
    location: 'local',
  };
  return { plugin, tasks };
}

const endpoint = (extra: Partial<PluginEndpoint> = {}): PluginEndpoint => ({
  method: 'GET',
  path: '/x',
  auth: 'none',
  roles: [],
  ...extra,
});

function requestPath(
  endpoints: PluginEndpoint[],
  mesh: Partial<MeshSettings> = {},
  host: { options?: Partial<ResolvedOptions>; log?: GatewayLogger } = {},
) {
  const stable = served('p');
  const router = new Router<Served>();
  router.add('p', stable.plugin, endpoints);
  const path = new RequestPath({
    options: { pluginTimeout: 5000, ...host.options } as ResolvedOptions,
    log: host.log ?? quiet,
    router,
    limiter: new RateLimiter(new MemoryRateLimitStore(), 100, {
      onFallback: () => {},
      onRecovered: () => {},
    }),
    mesh: {
      balancer: leastOutstanding(),
      retry: { attempts: 0, backoff: 0 },
      random: Math.random,
      now: () => performance.now(),
      ...mesh,
    },
    observers: new Observers(),
    nextId: () => 'id',
    stopped: () => false,
    local: () => undefined,
    calls: () => false,
    tracing: new Tracing(false),
    faults: new FaultInjector(),
  });
  return { path, router, stable };
}

describe('RequestPath (doors to the mesh, on fake runtimes)', () => {
  it("draws a swap's canary share from the mesh settings' random", async () => {
    let draw = 0;
    const { path, router, stable } = requestPath([endpoint()], { random: () => draw });
    const canary = served('p-next');
    router.split('p', [endpoint()], canary.plugin, 0.3);
    const bodies: unknown[] = [];
    for (const d of [0.29, 0.3, 0.9, 0]) {
      draw = d;
      bodies.push((await path.handle({ method: 'GET', path: '/x', headers: {} })).body);
    }
    expect(bodies).toEqual(['p-next', 'p', 'p', 'p-next']);
    expect([stable.tasks.length, canary.tasks.length]).toEqual([2, 2]);
    expect([stable.plugin.metrics.requests, canary.plugin.metrics.requests]).toEqual([2, 2]);
  });

  it('answers a refusal at the door without running the plugin, and counts it for the plugin', async () => {
    const { path, stable } = requestPath([endpoint({ auth: 'required' })]);
    const res = await path.handle({ method: 'GET', path: '/x', headers: {} });
    expect(res.statusCode).toBe(401);
    expect(stable.tasks).toEqual([]);
    expect([stable.plugin.metrics.requests, stable.plugin.metrics.errors]).toEqual([1, 0]);
  });

  it("hands the runtime the request as the door built it: id, params, query and the caller's user", async () => {
    const { path, stable } = requestPath([endpoint({ path: '/x/{id}' })]);
    await path.handle({ method: 'get', path: '/x/7?q=1', headers: {}, userId: 9, id: 'r1' });
    expect(stable.tasks).toMatchObject([
      {
        t: 'req',
        k: 'GET /x/{id}',
        r: { id: 'r1', method: 'GET', path: '/x/7', params: { id: '7' }, query: { q: '1' } },
      },
    ]);
    expect((stable.tasks[0] as { r: { userId: unknown } }).r.userId).toBe(9);
  });

  it('counts the rate limit of an anonymous caller by its client address', async () => {
    const { path, stable } = requestPath([endpoint({ rate_limit: '1/min' })]);
    const from = (clientAddress: string) =>
      path.handle({ method: 'GET', path: '/x', headers: {}, context: { clientAddress } });
    expect((await from('203.0.113.1')).statusCode).toBe(200);
    expect((await from('203.0.113.1')).statusCode).toBe(429);
    expect((await from('203.0.113.2')).statusCode).toBe(200);
    expect(stable.tasks.length).toBe(2);
  });
});

describe("the door's refusals (admission.ts), on fake runtimes", () => {
  const get = (path: RequestPath, extra: Partial<GatewayRequest> = {}) =>
    path.handle({ method: 'GET', path: '/x', headers: {}, ...extra });
  /** The error's code and message (its other fields are the request's). */
  const errorOf = (res: { body?: unknown }) => {
    const { code, message } = (res.body as { error: { code: string; message: string } }).error;
    return { code, message };
  };

  it('says which route needs a caller, and which roles', async () => {
    const { path, stable } = requestPath([endpoint({ auth: 'required', roles: ['admin', 'ops'] })]);
    const anonymous = await get(path);
    expect([anonymous.statusCode, errorOf(anonymous)]).toEqual([
      401,
      { code: 'PGW_ERR_UNAUTHORIZED', message: 'GET /x requires an authenticated caller' },
    ]);
    // No context at all, roles that are not a list, a role not named: 403, never a throw.
    for (const context of [undefined, { roles: 'admin' }, { roles: ['guest'] }]) {
      const res = await get(path, { userId: 'u', context });
      expect([res.statusCode, errorOf(res)]).toEqual([
        403,
        { code: 'PGW_ERR_FORBIDDEN', message: 'GET /x requires one of the roles: admin, ops' },
      ]);
    }
    // One of the roles is enough.
    expect((await get(path, { userId: 'u', context: { roles: ['ops'] } })).statusCode).toBe(200);
    expect(stable.tasks.length).toBe(1);
  });

  it('answers 503 for a disabled plugin, and 503 with Retry-After for one still loading', async () => {
    const { path, stable } = requestPath([endpoint()]);
    const plugin = stable.plugin as {
      disabled?: boolean;
      status: string;
      retryAfterSeconds: number;
    };
    plugin.disabled = true;
    const disabled = await get(path);
    expect([disabled.statusCode, errorOf(disabled)]).toEqual([
      503,
      { code: 'PGW_ERR_PLUGIN_DISABLED', message: 'plugin "p" is disabled' },
    ]);
    plugin.disabled = false;
    plugin.status = 'loading';
    plugin.retryAfterSeconds = 7;
    const loading = await get(path);
    expect([loading.statusCode, errorOf(loading).code]).toEqual([
      503,
      'PGW_ERR_PLUGIN_UNAVAILABLE',
    ]);
    expect(loading.headers?.['retry-after']).toBe('7');
    plugin.status = 'failed';
    const failed = await get(path);
    expect(errorOf(failed).message).toBe('plugin "p" is failed');
    expect(failed.headers?.['retry-after']).toBeUndefined();
    expect(stable.tasks).toEqual([]);
  });

  it('answers a plain request to a WebSocket endpoint 426, naming the upgrade', async () => {
    const { path, stable } = requestPath([
      endpoint({
        websocket: {
          max_message_bytes: 1024,
          max_buffered_bytes: 1024,
          max_connections: 1,
          idle_timeout: '60s',
        },
      }),
    ]);
    const res = await get(path);
    expect([res.statusCode, errorOf(res)]).toEqual([
      426,
      {
        code: 'PGW_ERR_UPGRADE_REQUIRED',
        message: 'GET /x is a WebSocket endpoint: open it with an upgrade',
      },
    ]);
    expect(res.headers).toMatchObject({ upgrade: 'websocket', connection: 'Upgrade' });
    expect(stable.tasks).toEqual([]);
  });

  it('refuses a host request without a method and a /path, saying what it got', async () => {
    const { path } = requestPath([endpoint()]);
    const misuse = async (request: unknown) => {
      const error = await path.handle(request as GatewayRequest).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(InvalidArgumentError);
      return (error as Error).message;
    };
    const expected =
      'Expected `request` to have a string `method` and a `path` starting with "/", got ';
    expect(await misuse(null)).toBe(`${expected}\`null\` (object)`);
    expect(await misuse('GET /x')).toBe(`${expected}\`GET /x\` (string)`);
    expect(await misuse({ method: 'GET', path: 'x' })).toBe(
      `${expected}method \`GET\` and path \`x\``,
    );
    expect(await misuse({ method: 1, path: '/x' })).toBe(`${expected}method \`1\` and path \`/x\``);
    expect(await misuse({ method: 'GET' })).toBe(
      `${expected}method \`GET\` and path \`undefined\``,
    );
    const deep = JSON.parse(`${'['.repeat(300)}${']'.repeat(300)}`) as unknown;
    expect(await misuse({ method: 'GET', path: '/x', headers: {}, body: deep })).toMatch(
      /^Expected `request.body` not to be /,
    );
  });

  it("treats the caller as anonymous when the host's authenticate() throws, and logs it", async () => {
    const errors: { record: unknown; message: string }[] = [];
    const { path, stable } = requestPath(
      [endpoint({ auth: 'required' })],
      {},
      {
        options: {
          authenticate: () => {
            throw new Error('token store down');
          },
        },
        log: {
          ...quiet,
          error: (record: unknown, message: string) => errors.push({ record, message }),
        } as GatewayLogger,
      },
    );
    const res = await get(path, { id: 'r-9', userId: 'claimed' });
    expect(res.statusCode).toBe(401);
    expect(errors).toEqual([
      {
        record: expect.objectContaining({ request_id: 'r-9', err: new Error('token store down') }),
        message: 'authenticate() threw; treating the caller as anonymous',
      },
    ]);
    expect(stable.tasks).toEqual([]);
  });

  it('counts anonymous callers of an IPv6 /64 as one, and callers with no address as one', async () => {
    const { path } = requestPath([endpoint({ rate_limit: '1/min' })]);
    const from = (clientAddress: unknown) => get(path, { context: { clientAddress } });
    expect((await from('2001:db8:1:2::1')).statusCode).toBe(200);
    expect((await from('2001:db8:1:2:ffff::9')).statusCode).toBe(429);
    expect((await from('2001:db8:1:3::1')).statusCode).toBe(200);
    expect((await from(undefined)).statusCode).toBe(200);
    expect((await get(path)).statusCode).toBe(429);
    expect((await from(7)).statusCode).toBe(200);
    expect((await from(7)).statusCode).toBe(429);
  });
});
