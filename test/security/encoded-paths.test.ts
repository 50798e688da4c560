/**
 * Class F of issue 23: the router decoded percent-encoding while Express matches the raw path, so
 * `/plugins/%70rofiles/7` walked around a host's guard on `/plugins/profiles`. Only one spelling of a
 * path routes now: a path that encodes a character it could write as it is reaches no plugin. Through
 * a real Express host with a real guard, on a real port.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pluginGateway } from '../../src/adapters/express.js';
import type { PluginGateway } from '../../src/index.js';
import { closeServer, gatewayWith } from '../helpers.js';

let gateway: PluginGateway;
let server: http.Server;
let base = '';
beforeAll(async () => {
  gateway = await gatewayWith(['profiles']);
  const app = express();
  // The host's guard: only callers with the staff header reach /plugins/profiles.
  app.use('/plugins/profiles', (req, res, next) => {
    if (req.headers['x-staff'] === 'yes') next();
    else res.status(403).json({ error: 'staff only' });
  });
  app.use('/plugins', pluginGateway(gateway));
  server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await closeServer(server);
  await gateway.stop();
});

/** A raw request line, exactly as written (fetch would normalise some of these). */
function rawGet(path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}/`, { method: 'GET', path, headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('percent-encoded paths behind a host guard (Express)', () => {
  it('serves the canonical path to staff only', async () => {
    expect(await rawGet('/plugins/profiles/7', { 'x-staff': 'yes' })).toBe(200);
    expect(await rawGet('/plugins/profiles/7')).toBe(403);
  });

  it.each([
    '/plugins/%70rofiles/7',
    '/plugins/%70%72%6F%66%69%6C%65%73/7',
    '/plugins/pro%66iles/7',
    '/plugins/profile%73/7',
    '/plugins/PROFILES/7',
    '/plugins//profiles/7',
    '/plugins/./profiles/7',
    '/plugins/x/../profiles/7',
    '/plugins/%2E/profiles/7',
    '/plugins/%2561rofiles/7',
    '/plugins/profiles%2F7',
    '/plugins/profiles%2f7',
  ])('%s never reaches the plugin without passing the guard', async (path) => {
    const status = await rawGet(path);
    expect([400, 403, 404]).toContain(status);
  });

  it('still routes encoded characters that must be encoded, in parameters', async () => {
    expect(await rawGet('/plugins/profiles/a%20b', { 'x-staff': 'yes' })).toBe(200);
    const res = await gateway.handle({ method: 'GET', path: '/profiles/a%20b' });
    expect(res.statusCode).toBe(200);
    expect((await gateway.handle({ method: 'GET', path: '/%70rofiles/7' })).statusCode).toBe(404);
  });
});
