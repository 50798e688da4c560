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
import type { PluginEndpoint } from '../shared/types.js';
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

function requestPath(endpoints: PluginEndpoint[], mesh: Partial<MeshSettings> = {}) {
  const stable = served('p');
  const router = new Router<Served>();
  router.add('p', stable.plugin, endpoints);
  const path = new RequestPath({
    options: { pluginTimeout: 5000 } as ResolvedOptions,
    log: quiet,
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
