import { EventEmitter } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { GatewayOptions, PluginGateway } from '../../src/index.js';
import {
  createAlerts,
  type Alert,
  type AlertRule,
  type Alerts,
} from '../../src/management/index.js';
import { closeServer, gatewayWith } from '../helpers.js';

let gateway: PluginGateway | undefined;
let alerts: Alerts | undefined;
let receiver: http.Server | undefined;
afterEach(async () => {
  alerts?.close();
  await closeServer(receiver);
  await gateway?.stop();
  gateway = alerts = receiver = undefined;
});

const INTERVAL = 50;

async function watch(rule: AlertRule, options: GatewayOptions = {}) {
  gateway = await gatewayWith(['faulty'], options);
  alerts = createAlerts(gateway, { rules: [rule], interval: INTERVAL });
  return { gateway, alerts };
}

/** The next `alert:firing` / `alert:resolved` (no deadline of its own: the test's timeout bounds it). */
function next(a: Alerts, event: 'alert:firing' | 'alert:resolved'): Promise<Alert> {
  return new Promise((resolve) => {
    const listener = (alert: Alert) => {
      a.off(event, listener);
      resolve(alert);
    };
    a.on(event, listener);
  });
}

const call = (g: PluginGateway, path: string) => g.handle({ method: 'GET', path, headers: {} });

describe('alerts', () => {
  it('error_rate fires while most requests fail and resolves once the window holds none', async () => {
    const { gateway: g, alerts: a } = await watch({
      kind: 'error_rate',
      threshold: 0.5,
      window: '300ms',
    });
    const firing = next(a, 'alert:firing');
    for (let i = 0; i < 3; i++) expect((await call(g, '/faulty/throw')).statusCode).toBe(500);
    await call(g, '/faulty/ok');
    const fired = await firing;
    expect(fired).toMatchObject({
      rule: 'error_rate',
      plugin: 'faulty',
      state: 'firing',
      threshold: 0.5,
    });
    expect(fired.value).toBeGreaterThanOrEqual(0.5);
    expect(a.firing()).toEqual([fired]);
    const resolved = await next(a, 'alert:resolved');
    expect(resolved).toMatchObject({ id: fired.id, state: 'resolved', firedAt: fired.firedAt });
    expect(a.firing()).toEqual([]);
    expect(a.recent().map((x) => x.state)).toEqual(['resolved', 'firing']);
  });

  it('waits for the `for` duration: a value back below the threshold before it never fires', async () => {
    const { gateway: g, alerts: a } = await watch({
      kind: 'error_rate',
      threshold: 0.5,
      window: '200ms',
      for: '1h',
    });
    const fired = vi.fn();
    a.on('alert:firing', fired);
    await call(g, '/faulty/throw');
    // Evaluations go on while the value is above the threshold, then below: no alert either way.
    await vi.waitFor(() =>
      expect(a.history.samples('faulty').some((s) => s.errors > 0)).toBe(true),
    );
    const before = a.history.samples('faulty').length;
    await vi.waitFor(() => expect(a.history.samples('faulty').length).toBeGreaterThan(before + 5));
    expect(fired).not.toHaveBeenCalled();
  });

  it('fires once the value has stayed at or above the threshold for `for`, at the first sample after', async () => {
    gateway = await gatewayWith(['faulty']);
    // No timer (an hour between samples): the test takes the samples, at times it chooses.
    alerts = createAlerts(gateway, {
      rules: [{ kind: 'error_rate', threshold: 0.5, window: '10s', for: '500ms' }],
      interval: 3_600_000,
    });
    const fired = vi.fn();
    alerts.on('alert:firing', fired);
    await call(gateway, '/faulty/throw');
    const t0 = Date.now();
    alerts.history.sample(t0);
    alerts.history.sample(t0 + 499);
    expect(fired).not.toHaveBeenCalled();
    alerts.history.sample(t0 + 500);
    expect(fired).toHaveBeenCalledTimes(1);
    expect(fired.mock.calls[0]![0]).toMatchObject({ firedAt: t0 + 500, value: 1 });
    alerts.history.sample(t0 + 600);
    expect(fired).toHaveBeenCalledTimes(1); // firing already: no second event
  });

  it('p99 fires on slow answers and resolves when the window has only fast ones', async () => {
    const { gateway: g, alerts: a } = await watch({ kind: 'p99', threshold: 150, window: '300ms' });
    const firing = next(a, 'alert:firing');
    await call(g, '/faulty/slow?ms=300');
    expect((await firing).value).toBeGreaterThanOrEqual(150);
    await next(a, 'alert:resolved');
  });

  it('breaker_open fires when an instance breaker opens and resolves when it closes', async () => {
    const { gateway: g, alerts: a } = await watch(
      { kind: 'breaker_open' },
      { circuitBreaker: { failureThreshold: 2, timeout: '100ms' } },
    );
    const firing = next(a, 'alert:firing');
    await call(g, '/faulty/throw');
    await call(g, '/faulty/throw');
    expect((await firing).value).toBe(1);
    const resolved = next(a, 'alert:resolved');
    await vi.waitFor(async () => expect((await call(g, '/faulty/ok')).statusCode).toBe(200), {
      timeout: 5000,
      interval: 50,
    });
    expect((await resolved).value).toBe(0);
  });

  it('crash_loop fires on crashes within the window and resolves once they are older', async () => {
    const { gateway: g, alerts: a } = await watch(
      { kind: 'crash_loop', threshold: 2, window: '1s' },
      { restart: { backoff: '10ms', maxCrashes: 100 } },
    );
    const firing = next(a, 'alert:firing');
    let crashes = 0;
    g.on('plugin:crash', () => crashes++);
    await vi.waitFor(
      async () => {
        await call(g, '/faulty/exit');
        expect(crashes).toBeGreaterThanOrEqual(2);
      },
      { timeout: 10_000, interval: 20 },
    );
    expect((await firing).value).toBeGreaterThanOrEqual(2);
    await next(a, 'alert:resolved');
  });

  it('plugin_failed fires when the plugin gives up and resolves when it is unloaded', async () => {
    const { gateway: g, alerts: a } = await watch(
      { kind: 'plugin_failed', name: 'gave-up' },
      { restart: { backoff: '10ms', maxCrashes: 2 } },
    );
    const firing = next(a, 'alert:firing');
    await vi.waitFor(
      async () => {
        await call(g, '/faulty/exit');
        expect(g.get('faulty')?.status).toBe('failed');
      },
      { timeout: 10_000, interval: 20 },
    );
    expect(await firing).toMatchObject({
      rule: 'gave-up',
      kind: 'plugin_failed',
      plugin: 'faulty',
    });
    const resolved = next(a, 'alert:resolved');
    await g.unload('faulty');
    a.evaluate();
    expect((await resolved).plugin).toBe('faulty');
  });

  it('rollback fires on a `plugin:rollback` event and resolves once it is older than the window', async () => {
    // A stand-in gateway emits `plugin:rollback`, so the test need not make a swap fail; the rest is real.
    const real = await gatewayWith(['faulty']);
    gateway = real;
    const emitter = new EventEmitter();
    const standIn = {
      list: () => real.list(),
      get: (name: string) => real.get(name),
      metrics: (name: string) => real.metrics(name),
      onResponse: real.onResponse.bind(real),
      on: (event: string, l: (...args: unknown[]) => void) =>
        event === 'plugin:rollback' ? emitter.on(event, l) : real.on(event as never, l as never),
      off: (event: string, l: (...args: unknown[]) => void) =>
        event === 'plugin:rollback' ? emitter.off(event, l) : real.off(event as never, l as never),
    } as unknown as PluginGateway;
    alerts = createAlerts(standIn, {
      rules: [{ kind: 'rollback', window: '300ms' }],
      interval: INTERVAL,
    });
    const firing = next(alerts, 'alert:firing');
    emitter.emit('plugin:rollback', { plugin: 'faulty', from: '1.0.1', to: '1.0.0' });
    expect(await firing).toMatchObject({ kind: 'rollback', plugin: 'faulty', value: 1 });
    await next(alerts, 'alert:resolved');
    emitter.emit('plugin:rollback', { plugin: 'not-loaded' });
    expect(alerts.firing()).toEqual([]);
  });

  it('refuses malformed rules and webhooks with a coded error naming the field', async () => {
    gateway = await gatewayWith([]);
    const g = gateway;
    expect(() => createAlerts(g, { rules: [{ kind: 'cpu' as never }] })).toThrow(
      expect.objectContaining({
        code: 'PGW_ERR_INVALID_ARGUMENT',
        message: expect.stringContaining('alerts.rules.0.kind'),
      }),
    );
    expect(() => createAlerts(g, { webhooks: [{ url: 'file:///etc/passwd' }] })).toThrow(
      /alerts.webhooks.0.url/,
    );
    expect(() => createAlerts(g, { rules: [{ kind: 'p99', window: '2h' }] })).toThrow(
      /alerts.rules.0.window/,
    );
  });
});

describe('alert webhooks', () => {
  async function receive(answer: (n: number) => number | 'hang') {
    const bodies: unknown[] = [];
    let n = 0;
    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const status = answer(++n);
        if (status === 'hang') return;
        bodies.push({
          type: req.headers['content-type'],
          auth: req.headers.authorization,
          body: JSON.parse(Buffer.concat(chunks).toString()),
        });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((r) => receiver!.listen(0, '127.0.0.1', r));
    return {
      url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`,
      bodies,
      count: () => n,
    };
  }

  it('POSTs each change as JSON to a real receiver, retrying a 5xx', async () => {
    const hook = await receive((n) => (n === 1 ? 503 : 204));
    gateway = await gatewayWith(['faulty']);
    alerts = createAlerts(gateway, {
      rules: [{ kind: 'error_rate', threshold: 0.5, window: '300ms' }],
      webhooks: [{ url: hook.url, headers: { authorization: 'Bearer hook' }, retries: 2 }],
      interval: INTERVAL,
    });
    const resolved = next(alerts, 'alert:resolved');
    await call(gateway, '/faulty/throw');
    await resolved;
    await vi.waitFor(() => expect(hook.bodies).toHaveLength(3));
    expect(hook.count()).toBe(3); // the first POST was answered 503 and sent again
    expect(hook.bodies.map((b) => (b as { body: { status: string } }).body.status)).toEqual([
      'firing',
      'firing',
      'resolved',
    ]);
    expect(hook.bodies[2]).toMatchObject({
      type: 'application/json',
      auth: 'Bearer hook',
      body: {
        status: 'resolved',
        alert: { rule: 'error_rate', plugin: 'faulty', state: 'resolved' },
      },
    });
  });

  it('gives up on a receiver that never answers after the timeout and the retries, without holding requests', async () => {
    const hook = await receive(() => 'hang');
    gateway = await gatewayWith(['faulty']);
    alerts = createAlerts(gateway, {
      rules: [{ kind: 'error_rate', threshold: 0.5, window: '10s' }],
      webhooks: [{ url: hook.url, timeout: '100ms', retries: 1 }],
      interval: INTERVAL,
    });
    const failed = new Promise((resolve) => alerts!.on('alert:webhook-failed', resolve));
    const firing = next(alerts, 'alert:firing');
    await call(gateway, '/faulty/throw');
    await firing;
    // The receiver holds the POST; requests are served meanwhile.
    expect((await call(gateway, '/faulty/ok')).statusCode).toBe(200);
    expect(await failed).toEqual({ url: hook.url, reason: 'timed out' });
    expect(hook.count()).toBe(2);
  });
});
