import { describe, expect, it } from 'vitest';
import type { PluginRuntime, TaskInput, TaskResult } from '../loader/runtime.js';
import { checkInstance } from './instance-health.js';

/** A runtime that answers every task with `answer`, with `threads` live threads. */
function runtime(answer: TaskResult, threads = 1) {
  const tasks: TaskInput[] = [];
  const r = {
    run: (task: TaskInput) => (tasks.push(task), Promise.resolve(answer)),
    stats: () => ({ threads, utilization: 0, heapUsedBytes: 0, inFlight: 0, violations: 0 }),
    checkHealth: () => Promise.resolve({ status: 'degraded' as const }),
  } as unknown as PluginRuntime;
  return { runtime: r, tasks };
}

describe('checkInstance with health_check.endpoint', () => {
  it('sends a GET of the route and reads a 2xx as healthy', async () => {
    const { runtime: r, tasks } = runtime({ statusCode: 204 });
    expect(await checkInstance({ runtime: r }, 100, '/svc/health')).toEqual({
      status: 'healthy',
      details: { endpoint: '/svc/health', statusCode: 204 },
    });
    expect(tasks[0]).toMatchObject({ t: 'req', k: 'GET /svc/health', r: { method: 'GET' } });
  });

  it('takes the status a 2xx JSON body names', async () => {
    const { runtime: r } = runtime({ statusCode: 200, body: { status: 'degraded' } });
    expect((await checkInstance({ runtime: r }, 100, '/h'))?.status).toBe('degraded');
    const { runtime: odd } = runtime({ statusCode: 200, body: { status: 'splendid' } });
    expect((await checkInstance({ runtime: odd }, 100, '/h'))?.status).toBe('healthy');
  });

  it('reads any other status, and a failure (throw, timeout, crash), as unhealthy', async () => {
    const { runtime: r } = runtime({ statusCode: 503, body: { status: 'healthy' } });
    expect((await checkInstance({ runtime: r }, 100, '/h'))?.status).toBe('unhealthy');
    const { runtime: late } = runtime({ __pgw: 'timeout' } as unknown as TaskResult);
    expect(await checkInstance({ runtime: late }, 100, '/h')).toEqual({
      status: 'unhealthy',
      details: { endpoint: '/h', failure: 'timeout' },
    });
  });

  it('does not wake an idle instance', async () => {
    const { runtime: r, tasks } = runtime({ statusCode: 200 }, 0);
    expect(await checkInstance({ runtime: r }, 100, '/h')).toBeUndefined();
    expect(tasks).toEqual([]);
  });

  it("without an endpoint, asks the plugin's healthCheck()", async () => {
    const { runtime: r } = runtime({ statusCode: 200 });
    expect(await checkInstance({ runtime: r }, 100, undefined)).toEqual({ status: 'degraded' });
  });
});
