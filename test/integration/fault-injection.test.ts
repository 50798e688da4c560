import { afterEach, describe, expect, it } from 'vitest';
import { PluginGateway, type PluginResponse } from '../../src/index.js';
import { peerHeaders } from '../../src/fleet/peer-protocol.js';
import { fixture, gatewayWith, get, statusOf } from '../helpers.js';

let gateway: PluginGateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

const codeOf = (res: PluginResponse) => (res.body as { error?: { code: string } }).error?.code;
const servedBy = async (g: PluginGateway) =>
  ((await get(g, '/faulty/ok')).body as { served: number }).served;

describe('fault injection (Envoy-style delay and abort per plugin)', () => {
  it('aborts every request at 100 % with the chosen status, without reaching the plugin', async () => {
    gateway = await gatewayWith(['faulty', 'steady'], {
      faults: { faulty: { abort: { percentage: 100, status: 502 } } },
    });
    for (let i = 0; i < 5; i++) {
      const res = await get(gateway, '/faulty/ok');
      expect(res.statusCode).toBe(502);
      expect(codeOf(res)).toBe('PGW_ERR_FAULT_INJECTED');
      expect(res.body).toMatchObject({ error: { requestId: expect.any(String) } });
    }
    // The bystander is untouched.
    expect(await get(gateway, '/steady/4')).toMatchObject({ statusCode: 200, body: { n: 8 } });
    gateway.setFaults('faulty', null);
    // The plugin never saw the aborted requests: this is its first.
    expect(await servedBy(gateway)).toBe(1);
    expect(gateway.metrics('faulty').request_count).toBe(6);
  });

  it('delays requests by the duration before they enter the mesh', async () => {
    gateway = await gatewayWith(['steady'], {
      faults: { steady: { delay: { percentage: 100, duration: '150ms' } } },
    });
    const started = performance.now();
    const res = await get(gateway, '/steady/1');
    expect(res.statusCode).toBe(200);
    // A lower bound only: a timer never fires early by more than a rounding millisecond.
    expect(performance.now() - started).toBeGreaterThanOrEqual(149);
  });

  it('a delayed request still has its whole deadline after the delay (delay longer than the timeout)', async () => {
    gateway = await gatewayWith(['faulty'], {
      faults: { faulty: { delay: { percentage: 100, duration: 400 } } },
    });
    // /faulty/hang has a 200 ms timeout: the delay does not eat it, the plugin's hang does.
    const res = await get(gateway, '/faulty/hang');
    expect(res.statusCode).toBe(504);
    expect(codeOf(res)).toBe('PGW_ERR_TIMEOUT');
  });

  it('delay then abort: the abort comes after the delay', async () => {
    gateway = await gatewayWith(['steady']);
    gateway.setFaults('steady', {
      delay: { percentage: 100, duration: 100 },
      abort: { percentage: 100, status: 429 },
    });
    const started = performance.now();
    const res = await get(gateway, '/steady/1');
    expect(res.statusCode).toBe(429);
    expect(performance.now() - started).toBeGreaterThanOrEqual(99);
  });

  it('stop() ends delays at once: delayed requests drain like any in flight, no timer is left behind', async () => {
    gateway = await gatewayWith(['steady'], {
      faults: { steady: { delay: { percentage: 100, duration: '1h' } } },
    });
    const delayed = get(gateway, '/steady/1');
    await new Promise((r) => setTimeout(r, 20));
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    await gateway.stop();
    // Answered by the time stop() resolves, not an hour later.
    let answered = false;
    void delayed.then(() => (answered = true));
    await Promise.resolve();
    expect(answered).toBe(true);
    expect((await delayed).statusCode).toBe(200);
    expect(timers()).toBeLessThan(before);
    gateway = undefined;
  });

  it('applies the percentage per request: at 50 % both outcomes happen', async () => {
    gateway = await gatewayWith(['steady']);
    gateway.setFaults('steady', { abort: { percentage: 50, status: 503 } });
    const statuses = new Set<number>();
    for (let i = 0; i < 200; i++) statuses.add((await get(gateway, `/steady/${i}`)).statusCode);
    expect([...statuses].sort()).toEqual([200, 503]);
  });

  it('is set, changed and cleared at run time, and may name a plugin not loaded yet', async () => {
    gateway = new PluginGateway({ logger: false });
    gateway.setFaults('steady', { abort: { percentage: 100, status: 500 } });
    await gateway.load((await import('../helpers.js')).fixture('steady'));
    await gateway.start();
    expect((await get(gateway, '/steady/1')).statusCode).toBe(500);
    gateway.setFaults('steady', { abort: { percentage: 100, status: 418 } });
    expect((await get(gateway, '/steady/1')).statusCode).toBe(418);
    gateway.setFaults('steady', { abort: { percentage: 0, status: 418 } });
    expect((await get(gateway, '/steady/1')).statusCode).toBe(200);
    gateway.setFaults('steady', { abort: { percentage: 100, status: 500 } });
    gateway.setFaults('steady', null);
    expect((await get(gateway, '/steady/1')).statusCode).toBe(200);
  });

  it('injected aborts never count against the circuit breaker and are never retried', async () => {
    gateway = await gatewayWith(['faulty'], {
      circuitBreaker: { failureThreshold: 1 },
      faults: { faulty: { abort: { percentage: 100, status: 500 } } },
    });
    for (let i = 0; i < 3; i++) expect((await get(gateway, '/faulty/ok')).statusCode).toBe(500);
    gateway.setFaults('faulty', null);
    const res = await get(gateway, '/faulty/ok');
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatchObject({ served: 1 });
  });

  it('applies to ctx.call() from another plugin and to peer calls from another gateway', async () => {
    gateway = await gatewayWith(['vault', 'impostor']);
    await statusOf(gateway, 'impostor', 'active');
    gateway.setFaults('vault', { abort: { percentage: 100, status: 502 } });
    // impostor wraps what ctx.call('vault') answered in a 200.
    const called = await get(gateway, '/impostor/mine', { userId: 'u1' });
    expect(called.body).toMatchObject({
      statusCode: 502,
      body: { error: { code: 'PGW_ERR_FAULT_INJECTED' } },
    });
    await gateway.stop();

    gateway = new PluginGateway({
      logger: false,
      node: { id: 'owner', address: 'http://127.0.0.1:9', insecure: 'private-network' },
      faults: { profiles: { abort: { percentage: 100, status: 503 } } },
    });
    await gateway.load(fixture('profiles'), { config: { node: 'owner' } });
    await gateway.start();
    const envelope = JSON.stringify({
      service: 'profiles',
      version: '1.2.0',
      instance: 'x',
      key: 'GET /profiles/{id}',
      timeoutMs: 2000,
      request: { id: 'r-1', method: 'GET', path: '/profiles/7', headers: {}, userId: 'u1' },
    });
    const reply = await gateway.handlePeer(
      envelope,
      peerHeaders('entry', 'owner', envelope, undefined),
      '127.0.0.1',
    );
    expect(reply.statusCode).toBe(200);
    expect(JSON.parse(reply.body)).toMatchObject({
      response: { statusCode: 503, body: { json: { error: { code: 'PGW_ERR_FAULT_INJECTED' } } } },
    });
  });

  it('refuses a malformed spec naming the field, in the option and at run time', () => {
    expect(
      () => new PluginGateway({ faults: { p: { abort: { percentage: 150, status: 503 } } } }),
    ).toThrow(/faults\.p\.abort\.percentage/);
    expect(
      () => new PluginGateway({ faults: { p: { abort: { percentage: 10, status: 200 } } } }),
    ).toThrow(/faults\.p\.abort\.status/);
    gateway = new PluginGateway({ logger: false });
    expect(() => gateway!.setFaults('p', { delay: { percentage: 10, duration: 'soon' } })).toThrow(
      /faults\.p\.delay\.duration/,
    );
    expect(() => gateway!.setFaults('p', { abrot: { percentage: 10 } } as never)).toThrow(
      /Unknown option `faults\.p\.abrot`/,
    );
    expect(() => gateway!.setFaults('', null)).toThrow(/Expected `name`/);
    expect(() => gateway!.setFaults('p', { delay: { percentage: 10 } } as never)).toThrow(
      /`faults\.p\.delay\.duration` to be a duration like "200ms"/,
    );
  });
});
