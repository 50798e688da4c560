import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { PluginRuntime, TaskInput, TaskResult } from '../loader/runtime.js';
import type { TaskFailure } from '../shared/task-failure.js';
import type { PluginResponse, PluginStatus } from '../shared/types.js';
import { BulkheadPolicy } from './bulkhead.js';
import { CircuitBreakerPolicy } from './circuit-breaker.js';
import { PluginInstance, type Served } from './instances.js';
import { leastOutstanding } from './load-balancer.js';
import { dispatch, type Dispatched, type MeshExchange, type MeshSettings } from './pipeline.js';
import { MemoryRateLimitStore } from './rate-limit-store.js';
import { RateLimiter } from './rate-limiter.js';

/** What a fake runtime answers, one entry per run, in order. */
type Script = (TaskResult | TaskFailure['__pgw'])[];

const OK: PluginResponse = { statusCode: 200, body: 'ok' };

/** A runtime that answers its script and records what it was asked: no thread, no process. */
function fakeRuntime(script: Script) {
  const runs: { task: TaskInput; timeoutMs: number }[] = [];
  const runtime = {
    run(task: TaskInput, timeoutMs: number): Promise<TaskResult> {
      runs.push({ task, timeoutMs });
      const next = script.shift() ?? OK;
      return Promise.resolve(
        typeof next === 'string' ? ({ __pgw: next, message: next } as TaskFailure) : next,
      );
    },
  } as unknown as PluginRuntime;
  return { runtime, runs };
}

function instance(id: string, script: Script, failureThreshold = 2) {
  const { runtime, runs } = fakeRuntime(script);
  const breaker = new CircuitBreakerPolicy({
    failureThreshold,
    timeout: 1000,
    halfOpenLimit: 1,
    policy: 'consecutive',
    now: () => Date.now(),
  });
  return { instance: new PluginInstance(id, runtime, breaker), runs, breaker };
}

function plugin(
  instances: PluginInstance[],
  options: { status?: PluginStatus; maxConcurrent?: number; maxQueued?: number } = {},
): Served {
  return {
    name: 'p',
    version: '1.0.0',
    status: options.status ?? 'active',
    retryAfterSeconds: 1,
    instances,
    bulkhead: new BulkheadPolicy({
      maxConcurrent: options.maxConcurrent ?? 10,
      maxQueued: options.maxQueued ?? 10,
    }),
    metrics: undefined as never,
    location: 'local',
  };
}

function mesh(settings: Partial<MeshSettings> = {}): MeshSettings {
  return {
    balancer: leastOutstanding(),
    retry: { attempts: 2, backoff: 100 },
    random: () => 0.5,
    now: () => Date.now(),
    ...settings,
  };
}

function exchange(served: Served, method = 'GET', timeoutMs = 5000): MeshExchange {
  return {
    plugin: served,
    task: {
      t: 'req',
      k: `${method} /x`,
      r: { id: 'r1', method, path: '/x', headers: {}, params: {}, query: {} },
    },
    timeoutMs,
    rate: undefined,
  };
}

/** Dispatches and lets the fake clock run until the answer is in. */
async function answer(x: MeshExchange, settings: MeshSettings): Promise<Dispatched> {
  const pending = dispatch(x, settings);
  await vi.runAllTimersAsync();
  return pending;
}

const codeOf = (d: Dispatched) => (d.response.body as { error?: { code: string } }).error?.code;

describe('dispatch (the mesh, on a fake runtime)', () => {
  beforeEach(() => vi.useFakeTimers({ now: 0 }));
  afterEach(() => vi.useRealTimers());

  it('retries an idempotent request its instance did not answer, on another instance', async () => {
    const a = instance('a', ['crash']);
    const b = instance('b', [OK]);
    const out = await answer(exchange(plugin([a.instance, b.instance])), mesh());
    expect(out.response).toBe(OK);
    expect([a.runs.length, b.runs.length]).toEqual([1, 1]);
    expect(out.failure).toBeUndefined();
  });

  it('never retries a request that is not idempotent: the crash is the answer', async () => {
    const a = instance('a', ['crash']);
    const b = instance('b', [OK]);
    const out = await answer(exchange(plugin([a.instance, b.instance]), 'POST'), mesh());
    expect(out.response.statusCode).toBe(500);
    expect(codeOf(out)).toBe('PGW_ERR_PLUGIN_CRASHED');
    expect(out.failure?.__pgw).toBe('crash');
    expect(b.runs.length).toBe(0);
  });

  it('never retries an answered request, whatever its status: a 500 and a timeout are answers', async () => {
    const five = instance('a', [{ statusCode: 500, body: 'no' }]);
    const out = await answer(exchange(plugin([five.instance])), mesh());
    expect(out.response.statusCode).toBe(500);
    expect(five.runs.length).toBe(1);

    const slow = instance('a', ['timeout', OK]);
    const late = await answer(exchange(plugin([slow.instance])), mesh());
    expect(late.response.statusCode).toBe(504);
    expect(codeOf(late)).toBe('PGW_ERR_TIMEOUT');
    expect(slow.runs.length).toBe(1);
  });

  it('retries at most retry.attempts times, pausing backoff × 2^n × random() between', async () => {
    const a = instance('a', ['crash', 'crash', 'crash', OK], 5);
    const pending = dispatch(exchange(plugin([a.instance])), mesh({ random: () => 0.5 }));
    await vi.advanceTimersByTimeAsync(49);
    expect(a.runs.length).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(a.runs.length).toBe(2);
    await vi.advanceTimersByTimeAsync(99);
    expect(a.runs.length).toBe(2);
    await vi.advanceTimersByTimeAsync(1);
    const out = await pending;
    expect(a.runs.length).toBe(3);
    expect(codeOf(out)).toBe('PGW_ERR_PLUGIN_CRASHED');
  });

  it('does not retry when the pause would outlast the deadline, and gives each attempt what is left', async () => {
    const a = instance('a', ['crash', OK]);
    const out = await answer(
      exchange(plugin([a.instance]), 'GET', 40),
      mesh({ random: () => 1, retry: { attempts: 3, backoff: 50 } }),
    );
    expect(a.runs.length).toBe(1);
    expect(out.failure?.__pgw).toBe('crash');

    const b = instance('b', ['unreachable', OK]);
    await answer(exchange(plugin([b.instance]), 'GET', 1000), mesh({ random: () => 0.3 }));
    expect(b.runs.map((r) => r.timeoutMs)).toEqual([1000, 970]);
  });

  it('gives a plugin that is no longer active no retry', async () => {
    const a = instance('a', ['crash', OK]);
    const out = await answer(exchange(plugin([a.instance], { status: 'loading' })), mesh());
    expect(a.runs.length).toBe(1);
    expect(out.failure?.__pgw).toBe('crash');
  });

  it('charges crashes and 5xx to the instance, never 4xx, and routes around its open circuit', async () => {
    const a = instance('a', ['crash', { statusCode: 404 }, { statusCode: 503 }, 'crash']);
    const b = instance('b', []);
    const served = plugin([a.instance, b.instance]);
    const settings = mesh({ retry: { attempts: 0, backoff: 0 }, balancer: (c) => c[0] });
    for (let i = 0; i < 3; i++) await answer(exchange(served), settings);
    // Two failures in a row open it ('consecutive', threshold 2): the 404 between was a success.
    expect(a.breaker.state).toBe('closed');
    await answer(exchange(served), settings);
    expect(a.breaker.state).toBe('open');
    expect((await answer(exchange(served), settings)).response).toBe(OK);
    expect([a.runs.length, b.runs.length]).toEqual([4, 1]);
  });

  it('answers 503 PGW_ERR_CIRCUIT_OPEN with retry-after when every circuit is open, and runs nothing', async () => {
    const a = instance('a', ['crash', 'crash']);
    const served = plugin([a.instance]);
    const settings = mesh({ retry: { attempts: 0, backoff: 0 } });
    await answer(exchange(served, 'POST'), settings);
    await answer(exchange(served, 'POST'), settings);
    vi.setSystemTime(400);
    const out = await answer(exchange(served), settings);
    expect(out.response.statusCode).toBe(503);
    expect(codeOf(out)).toBe('PGW_ERR_CIRCUIT_OPEN');
    expect(out.response.headers?.['retry-after']).toBe('1');
    expect(a.runs.length).toBe(2);
  });

  it('lets one probe through after the timeout; its success closes the circuit', async () => {
    const a = instance('a', ['crash', 'crash', OK]);
    const served = plugin([a.instance]);
    const settings = mesh({ retry: { attempts: 0, backoff: 0 } });
    await answer(exchange(served, 'POST'), settings);
    await answer(exchange(served, 'POST'), settings);
    vi.setSystemTime(1000);
    const probe = dispatch(exchange(served), settings);
    const other = await answer(exchange(served), settings);
    expect(codeOf(other)).toBe('PGW_ERR_CIRCUIT_OPEN');
    expect((await probe).response).toBe(OK);
    expect(a.breaker.state).toBe('closed');
  });

  it('gives the probe place back for a request its plugin never saw (terminated), and retries it', async () => {
    const a = instance('a', ['crash', 'crash', 'terminated', OK]);
    const served = plugin([a.instance]);
    await answer(exchange(served, 'POST'), mesh({ retry: { attempts: 0, backoff: 0 } }));
    await answer(exchange(served, 'POST'), mesh({ retry: { attempts: 0, backoff: 0 } }));
    vi.setSystemTime(1000);
    const out = await answer(exchange(served), mesh());
    expect(out.response).toBe(OK);
    expect(a.runs.length).toBe(4);
    expect(a.breaker.state).toBe('closed');
  });

  it('answers 429 with the rate headers past the rate limit, before any run', async () => {
    const a = instance('a', []);
    const limiter = new RateLimiter(new MemoryRateLimitStore(), 100, {
      onFallback: () => {},
      onRecovered: () => {},
    });
    const x = exchange(plugin([a.instance]));
    x.rate = { limiter, rate: { limit: 1, windowMs: 60_000 }, scope: 'p GET /x', caller: 'u' };
    expect((await answer(x, mesh())).response).toBe(OK);
    const out = await answer(x, mesh());
    expect(out.response.statusCode).toBe(429);
    expect(codeOf(out)).toBe('PGW_ERR_RATE_LIMITED');
    expect(out.response.headers?.['retry-after']).toBeDefined();
    expect(a.runs.length).toBe(1);
  });

  it('answers 503 PGW_ERR_BULKHEAD_FULL when every place is taken and the line is full', async () => {
    let release!: (r: TaskResult) => void;
    const a = instance('a', []);
    a.instance.runtime.run = () => new Promise<TaskResult>((r) => (release = r));
    const served = plugin([a.instance], { maxConcurrent: 1, maxQueued: 0 });
    const first = dispatch(exchange(served), mesh());
    const out = await answer(exchange(served), mesh());
    expect(out.response.statusCode).toBe(503);
    expect(codeOf(out)).toBe('PGW_ERR_BULKHEAD_FULL');
    release(OK);
    expect((await first).response).toBe(OK);
  });
});

describe('dispatch holds a bulkhead place and always gives it back', () => {
  beforeEach(() => vi.useFakeTimers({ now: 0 }));
  afterEach(() => vi.useRealTimers());

  /** A runtime with the ledger's own step (`runThen`), on the fake runtime's script. */
  function settlingRuntime(script: Script) {
    const { runtime, runs } = fakeRuntime(script);
    const then: PluginRuntime['runThen'] = (task, ms, map) => runtime.run(task, ms).then(map);
    return { runtime: { ...runtime, run: runtime.run, runThen: then } as PluginRuntime, runs };
  }

  it('answers, retries and refuses with the place given back, with or without the runtime step', async () => {
    for (const withStep of [false, true]) {
      const make = (script: Script) => {
        const made = withStep ? settlingRuntime(script) : fakeRuntime(script);
        const breaker = new CircuitBreakerPolicy({
          failureThreshold: 5,
          timeout: 1000,
          halfOpenLimit: 1,
          policy: 'consecutive',
          now: () => Date.now(),
        });
        return new PluginInstance('a', made.runtime, breaker);
      };
      const served = plugin([make(['crash', OK, { statusCode: 500 }, 'timeout'])], {
        maxConcurrent: 1,
      });
      const retried = await answer(exchange(served), mesh());
      expect(retried.response).toBe(OK);
      expect((await answer(exchange(served), mesh())).response.statusCode).toBe(500);
      expect((await answer(exchange(served), mesh())).response.statusCode).toBe(504);
      expect(served.bulkhead.running, `runtime step: ${withStep}`).toBe(0);
    }
  });

  it('gives the place back when the balancer throws, and when a finish throws', async () => {
    const { instance: one } = instance('a', [OK, OK]);
    const two = instance('b', []).instance;
    const served = plugin([one, two], { maxConcurrent: 1 });
    const throwing = mesh({
      balancer: () => {
        throw new Error('balancer');
      },
    });
    expect(() => dispatch(exchange(served), throwing)).toThrow('balancer');
    expect(served.bulkhead.running).toBe(0);

    const failing = dispatch(exchange(served), mesh(), () => {
      throw new Error('observer');
    });
    const rejected = expect(failing).rejects.toThrow('observer');
    await vi.runAllTimersAsync();
    await rejected;
    expect(served.bulkhead.running).toBe(0);
    // The place is free for the next request.
    expect((await answer(exchange(served), mesh())).response).toBe(OK);
  });

  it('gives the place back when a runtime without the step rejects', async () => {
    const breaker = new CircuitBreakerPolicy({
      failureThreshold: 5,
      timeout: 1000,
      halfOpenLimit: 1,
      policy: 'consecutive',
      now: () => Date.now(),
    });
    const rejecting = { run: () => Promise.reject(new Error('gone')) } as unknown as PluginRuntime;
    const inst = new PluginInstance('a', rejecting, breaker);
    const served = plugin([inst], { maxConcurrent: 1 });
    const out = dispatch(exchange(served), mesh());
    await expect(out).rejects.toThrow('gone');
    expect([served.bulkhead.running, inst.outstanding]).toEqual([0, 0]);
  });
});
