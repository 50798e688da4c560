/**
 * The adapters inside a host as a new user sets one up: Fastify's `app.close()` stops the gateway,
 * Express logs and answers under pino-http's request id, and the adapters' own refusals (a malformed
 * body) carry the request id like the gateway's answers do.
 */
import express from 'express';
import Fastify from 'fastify';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { pinoHttp } from 'pino-http';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { fastifyPluginGateway } from '../../src/adapters/fastify.js';
import { pluginGateway } from '../../src/adapters/express.js';
import type { PluginGateway } from '../../src/index.js';
import { closeServer, gatewayWith } from '../helpers.js';

let gateway: PluginGateway | undefined;
let server: http.Server | undefined;
afterEach(async () => {
  await closeServer(server);
  server = undefined;
  await gateway?.stop();
  gateway = undefined;
});

const malformed: RequestInit = {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: '{"n":',
};

describe('Fastify', () => {
  it('app.close() stops the gateway (onClose): its plugins are unloaded, its threads gone', async () => {
    gateway = await gatewayWith(['echo']);
    const app = Fastify();
    await app.register(fastifyPluginGateway, { gateway });
    await app.ready();
    expect(gateway.list().map((p) => p.name)).toEqual(['echo']);
    await app.close();
    expect(gateway.list()).toEqual([]);
  });

  it('stopOnClose: false leaves the gateway running', async () => {
    gateway = await gatewayWith(['echo']);
    const app = Fastify();
    await app.register(fastifyPluginGateway, { gateway, stopOnClose: false });
    await app.close();
    expect(gateway.list().map((p) => p.name)).toEqual(['echo']);
  });

  it('answers a malformed body 400 with the request id in the body and the header', async () => {
    gateway = await gatewayWith(['echo']);
    const app = Fastify();
    await app.register(fastifyPluginGateway, { gateway });
    const res = await app.inject({
      method: 'POST',
      url: '/echo/x',
      headers: { 'content-type': 'application/json', 'x-request-id': 'abc-1' },
      payload: '{"n":',
    });
    expect(res.statusCode).toBe(400);
    const body = res.json<{ error: { code: string; requestId: string } }>();
    expect(body.error.code).toBe('PGW_ERR_BAD_REQUEST');
    expect(body.error.requestId).toEqual(expect.any(String));
    expect(res.headers['x-request-id']).toBe(body.error.requestId);
    await app.close();
  });
});

describe('Express', () => {
  async function listen(app: express.Express): Promise<string> {
    server = http.createServer(app);
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it("serves under pino-http's req.id: the answer, its header and the host's log line agree", async () => {
    gateway = await gatewayWith(['echo']);
    const lines: { req?: { id?: unknown } }[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as { req?: { id?: unknown } });
        done();
      },
    });
    const app = express();
    app.use(pinoHttp({ logger: pino(sink), genReqId: () => 'host-7f3a' }));
    app.use(pluginGateway(gateway));
    const base = await listen(app);
    const res = await fetch(`${base}/echo/ada`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('host-7f3a');
    await new Promise((r) => setImmediate(r));
    expect(lines.some((l) => l.req?.id === 'host-7f3a')).toBe(true);
  });

  it("takes pino-http's default numeric id too", async () => {
    gateway = await gatewayWith(['echo']);
    const app = express();
    app.use(pinoHttp({ logger: pino({ enabled: false }) }));
    app.use(pluginGateway(gateway));
    const base = await listen(app);
    const res = await fetch(`${base}/echo/ada`, { method: 'POST' });
    expect(res.headers.get('x-request-id')).toMatch(/^\d+$/);
  });

  it('answers a malformed body 400 with the request id in the body and the header', async () => {
    gateway = await gatewayWith(['echo']);
    const app = express();
    app.use(pluginGateway(gateway));
    const base = await listen(app);
    const res = await fetch(`${base}/echo/x`, malformed);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; requestId: string } };
    expect(body.error.code).toBe('PGW_ERR_BAD_REQUEST');
    expect(body.error.requestId).toEqual(expect.any(String));
    expect(res.headers.get('x-request-id')).toBe(body.error.requestId);
  });
});
