import { afterEach, describe, expect, it } from 'vitest';
import { PluginGateway } from '../../src/index.js';
import { fixture, memoryLogger, statusOf } from '../helpers.js';

let gateway: PluginGateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

describe('dependencies and ctx.call', () => {
  it('keeps a dependant loading, with the reason, until its dependency appears; then it calls it', async () => {
    gateway = new PluginGateway({ logger: false });
    await gateway.start();
    const info = await gateway.load(fixture('recs'));
    expect(info).toMatchObject({
      status: 'loading',
      reason: 'waiting for dependencies: profiles ^1.0.0 (not found)',
    });
    expect((await gateway.handle({ method: 'GET', path: '/recs/7' })).statusCode).toBe(503);
    const active = statusOf(gateway, 'recs', 'active');
    await gateway.load(fixture('profiles'), { config: { node: 'local' } });
    await active;
    const res = await gateway.handle({ method: 'GET', path: '/recs/7', userId: 42 });
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatchObject({
      recs: ['a', 'b'],
      profile: {
        statusCode: 200,
        body: { id: '7', node: 'local', userId: 42, caller: 'recs', query: { from: 'recs' } },
      },
    });
    // The call went through the target's metrics like any request.
    expect(gateway.metrics('profiles').request_count).toBe(1);
  });

  it('waits for plugins loaded before start() too, and names a version that does not satisfy the range', async () => {
    gateway = new PluginGateway({ logger: false });
    gateway.provide('pricing', '1.4.0', () => ({ statusCode: 200, body: 1 }));
    await gateway.load(fixture('checkout'));
    await gateway.start();
    expect(gateway.get('checkout')).toMatchObject({
      status: 'loading',
      reason: 'waiting for dependencies: pricing ^2.0.0 (1.4.0 does not satisfy it)',
    });
  });

  it('starts a dependant when the host provides the service, and calls the host handler', async () => {
    gateway = new PluginGateway({ logger: false });
    await gateway.load(fixture('checkout'));
    await gateway.start();
    const active = statusOf(gateway, 'checkout', 'active');
    const seen: unknown[] = [];
    gateway.provide('pricing', '2.1.0', (req) => {
      seen.push({
        method: req.method,
        path: req.path,
        body: req.body,
        caller: req.context?.caller,
      });
      return { statusCode: 200, body: { eur: 9.5 } };
    });
    await active;
    const res = await gateway.handle({ method: 'POST', path: '/checkout/sku-1', body: { qty: 2 } });
    expect(res.body).toEqual({ sku: 'sku-1', price: { eur: 9.5 }, status: 200 });
    expect(seen).toEqual([
      { method: 'GET', path: '/prices/sku-1', body: { qty: 2 }, caller: 'checkout' },
    ]);
  });

  it('refuses ctx.call to a service the manifest does not list (403), and logs it', async () => {
    const logger = memoryLogger();
    gateway = new PluginGateway({ logger });
    await gateway.load(fixture('profiles'));
    await gateway.load(fixture('recs'));
    await gateway.start();
    await statusOf(gateway, 'recs', 'active');
    const res = await gateway.handle({ method: 'GET', path: '/recs-sneaky' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatchObject({
      statusCode: 403,
      body: {
        error: {
          code: 'PGW_ERR_CALL_NOT_PERMITTED',
          message:
            'plugin "recs" may not call "billing": list it under dependencies in plugin.yaml',
        },
      },
    });
    expect(logger.lines).toContainEqual(
      expect.objectContaining({ plugin_id: 'recs', service: 'billing', level: 'warn' }),
    );
  });

  it('refuses provide() with a version that is not semver', () => {
    gateway = new PluginGateway({ logger: false });
    expect(() => gateway!.provide('pricing', 'two', () => ({ statusCode: 200 }))).toThrow(
      /semver version, got `pricing` and `two`/,
    );
  });
});
