/**
 * Shared rate limits and fleet events against a Redis run as in production: TLS only, client certificates
 * required, the default user off, and an ACL user for the fleet that may touch its `pgw:` keys only. The host
 * brings the ioredis client (its TLS and credentials); the gateway needs nothing more.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PluginGateway, RedisRateLimitStore, redisStreams } from '../../src/index.js';
import { fixture } from '../helpers.js';
import { makeCertificates } from '../services/certificates.js';
import { findBinary, freePort, killService, serviceAvailable } from '../services/common.js';

const run =
  serviceAvailable('redis-server', 'apt-get install redis-server') &&
  serviceAvailable('openssl', 'apt-get install openssl', ['version']);

describe.skipIf(!run)('Redis with TLS, client certificates and an ACL user per fleet', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pgw-redis-tls-'));
  const password = 'a-password-for-the-veza-fleet';
  let file: (name: string) => Buffer;
  let redis: ChildProcess;
  let port: number;
  const clients: Redis[] = [];

  const client = (options: { cert?: boolean; username?: string } = {}): Redis => {
    const c = new Redis({
      host: '127.0.0.1',
      port,
      username: options.username ?? 'fleet',
      password,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      retryStrategy: () => null,
      tls: {
        ca: file('ca.crt'),
        ...(options.cert !== false && { cert: file('gateway.crt'), key: file('gateway.key') }),
      },
    });
    c.on('error', () => {});
    clients.push(c);
    return c;
  };
  const ready = (c: Redis) =>
    new Promise<void>((resolve, reject) => {
      if (c.status === 'ready') return resolve();
      c.once('ready', resolve);
      c.once('end', () => reject(new Error('connection ended')));
    });

  beforeAll(async () => {
    file = makeCertificates(dir, ['gateway']);
    port = await freePort();
    redis = spawn(
      findBinary('redis-server')!,
      [
        '--port',
        '0',
        '--tls-port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--tls-cert-file',
        path.join(dir, 'server.crt'),
        '--tls-key-file',
        path.join(dir, 'server.key'),
        '--tls-ca-cert-file',
        path.join(dir, 'ca.crt'),
        '--tls-auth-clients',
        'yes',
        '--save',
        '',
        '--appendonly',
        'no',
        '--user',
        'default',
        'off',
        // The fleet's user: its own keys (pgw:…) and the commands rate limits and streams need.
        '--user',
        'fleet',
        'on',
        `>${password}`,
        '~pgw:*',
        'resetchannels',
        '+@all',
        '-@dangerous',
      ],
      { stdio: 'ignore' },
    );
    for (let i = 0; ; i++) {
      try {
        await ready(client());
        break;
      } catch (error) {
        if (i > 50) throw error;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }, 30_000);

  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await killService(redis);
    rmSync(dir, { recursive: true, force: true });
  });

  it('limits a fleet through it: the budget is shared, as the fleet user', async () => {
    const c = client();
    await ready(c);
    const gateways = [0, 1].map(
      () =>
        new PluginGateway({
          logger: false,
          rateLimiting: { store: new RedisRateLimitStore({ client: c }) },
        }),
    );
    try {
      for (const g of gateways) {
        await g.load(fixture('limited'));
        await g.start();
      }
      const statuses: number[] = [];
      for (let i = 0; i < 8; i++) {
        const res = await gateways[i % 2]!.handle({
          method: 'GET',
          path: '/limited',
          headers: {},
          userId: 7,
        });
        statuses.push(res.statusCode);
      }
      // 5/min for user 7 across both gateways: the sixth request, wherever it lands, is refused.
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
    } finally {
      await Promise.all(gateways.map((g) => g.stop()));
    }
  });

  it('stores fleet events through it, as the fleet user', async () => {
    const c = client();
    await ready(c);
    const gateway = new PluginGateway({
      logger: false,
      events: { broker: redisStreams({ redis: c }) },
    });
    try {
      await gateway.start();
      const result = await gateway.publish({ type: 'order.placed', payload: { id: 1 } });
      expect(result.entry).toEqual(expect.any(String));
      expect(await c.xlen('pgw:events')).toBeGreaterThan(0);
    } finally {
      await gateway.stop();
    }
  });

  it('refuses the fleet user outside its keys, and a client without a certificate', async () => {
    const c = client();
    await ready(c);
    await expect(c.set('elsewhere', '1')).rejects.toThrow(/NOPERM/);
    await expect(ready(client({ cert: false }))).rejects.toThrow();
  });
});
