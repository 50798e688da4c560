// What each adapter takes from its framework: the client address as the framework's own trust-proxy
// setting decides it, and, when the handler itself fails, a 500 in the gateway's error shape (on
// Fastify, logged through the host's logger). A stub handler stands in for the gateway.
import express from 'express';
import Fastify from 'fastify';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import fastifyPluginGateway from '../../src/adapters/fastify.js';
import { pluginGateway } from '../../src/adapters/express.js';
import { createRequestListener } from '../../src/adapters/node.js';
import type { RequestHandlerLike } from '../../src/adapters/request-handler.js';
import type { GatewayRequest } from '../../src/shared/types.js';

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()!();
});

/** Answers with the client address it was given. */
const addressOf: RequestHandlerLike = {
  handle: async (req: GatewayRequest) => ({
    statusCode: 200,
    body: { client: req.context?.clientAddress },
  }),
};
const failing: RequestHandlerLike = {
  handle: () => Promise.reject(new Error('a bug in the handler')),
};

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => {
    server.closeAllConnections();
    return new Promise((r) => server.close(r));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function express1(handler: RequestHandlerLike, trust: boolean): Promise<string> {
  const app = express();
  if (trust) app.set('trust proxy', 1);
  app.use(pluginGateway(handler));
  return listen(http.createServer(app));
}

async function fastify1(
  handler: RequestHandlerLike,
  trust: boolean,
  logs?: string[],
): Promise<string> {
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs?.push(String(chunk));
      done();
    },
  });
  const app = Fastify({
    trustProxy: trust ? '127.0.0.1' : false,
    logger: logs ? { stream } : false,
  });
  await app.register(fastifyPluginGateway, { gateway: handler });
  await app.listen({ port: 0, host: '127.0.0.1' });
  closers.push(() => app.close());
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

const clientSeen = async (base: string): Promise<unknown> =>
  (
    (await (
      await fetch(`${base}/x`, { headers: { 'x-forwarded-for': '203.0.113.9' } })
    ).json()) as {
      client: unknown;
    }
  ).client;

describe('adapters: what the framework decides', () => {
  it('Express: the client address is req.ip, so the app’s trust proxy setting', async () => {
    expect(await clientSeen(await express1(addressOf, false))).toBe('127.0.0.1');
    expect(await clientSeen(await express1(addressOf, true))).toBe('203.0.113.9');
  });

  it('Fastify: the client address is request.ip, so Fastify’s trustProxy', async () => {
    expect(await clientSeen(await fastify1(addressOf, false))).toBe('127.0.0.1');
    expect(await clientSeen(await fastify1(addressOf, true))).toBe('203.0.113.9');
  });

  it('a handler that fails is a 500 PGW_ERR_GATEWAY_ERROR, with no detail, on every adapter', async () => {
    const logs: string[] = [];
    const bases = [
      await listen(http.createServer(createRequestListener(failing))),
      await express1(failing, false),
      await fastify1(failing, false, logs),
    ];
    for (const base of bases) {
      const res = await fetch(`${base}/x`);
      expect(res.status).toBe(500);
      const body = await res.text();
      expect(JSON.parse(body)).toMatchObject({ error: { code: 'PGW_ERR_GATEWAY_ERROR' } });
      expect(body).not.toContain('a bug in the handler');
    }
    // Fastify: through the host's own logger, with the request it belongs to.
    expect(logs.join('')).toContain('a bug in the handler');
  });

  it('Fastify: the plugin’s body parsers and error handler stay in its own context', async () => {
    const app = Fastify();
    app.post('/host/upload', async (req) => ({ got: typeof req.body }));
    app.get('/host/broken', async () => {
      throw Object.assign(new Error('host failure'), { statusCode: 418 });
    });
    await app.register(fastifyPluginGateway, { gateway: addressOf, prefix: '/plugins' });
    await app.listen({ port: 0, host: '127.0.0.1' });
    closers.push(() => app.close());
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const blob = { method: 'POST', headers: { 'content-type': 'application/x-blob' }, body: 'b' };
    // Inside the plugin, any content type is read; the host's routes still refuse what they do not parse.
    expect((await fetch(`${base}/plugins/x`, blob)).status).toBe(200);
    expect((await fetch(`${base}/host/upload`, blob)).status).toBe(415);
    // The host's errors keep Fastify's own shape, not the gateway's.
    const broken = await fetch(`${base}/host/broken`);
    expect(broken.status).toBe(418);
    expect(await broken.json()).toMatchObject({ message: 'host failure' });
  });
});
