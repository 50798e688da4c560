// The mounts a new user tries first, one per framework, each with a host route of its own (`/host/ping`)
// and a host not-found answer (`host 404`), so fall-through is visible.
import express from 'express';
import Fastify from 'fastify';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import fastifyPluginGateway from '../../src/adapters/fastify.js';
import { pluginGateway } from '../../src/adapters/express.js';
import { createRequestListener } from '../../src/adapters/node.js';
import type { HostUser, RequestHandlerLike } from '../../src/adapters/request-handler.js';

/** What every mount takes beside the handler. */
export interface MountOptions {
  bodyLimit?: number;
  /** The test's stand-in for the host's auth: the caller named by `x-test-user`. */
  withUser?: boolean;
}

/** A running host: where it listens, and how to stop it. */
export interface Mounted {
  base: string;
  /** Where the gateway's routes start: `${base}/plugins`, or `base` itself. */
  plugins: string;
  close(): Promise<void>;
}

export type Mount = (handler: RequestHandlerLike, options?: MountOptions) => Promise<Mounted>;

const userFrom = (headers: http.IncomingHttpHeaders): HostUser | undefined => {
  const name = headers['x-test-user'];
  return typeof name === 'string' ? { userId: name, roles: ['admin'] } : undefined;
};

const bodyOf = (req: http.IncomingMessage): unknown => (req as { body?: unknown }).body;

async function listening(server: http.Server): Promise<Mounted> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    plugins: `${base}/plugins`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** `node:http` with `createRequestListener(gw, { prefix: '/plugins' })` and a `next` to the host. */
export const nodeMount: Mount = (handler, options = {}) => {
  const listener = createRequestListener(handler, {
    prefix: '/plugins',
    bodyLimit: options.bodyLimit,
    getUser: options.withUser ? (req) => userFrom(req.headers) : undefined,
  });
  const server = http.createServer((req, res) => {
    if (req.url === '/host/ping') return void res.end('pong');
    listener(req, res, () => {
      // A host route after the gateway: the body the listener read is in req.body.
      if (req.url === '/plugins/host-upload') return void res.end(JSON.stringify(bodyOf(req)));
      res.writeHead(404).end('host 404');
    });
  });
  return listening(server);
};

/** Express with `parsers` mounted `before` (or after) `app.use('/plugins', pluginGateway(gw))`. */
export function expressMount(
  parsers: 'json-text' | 'all' | 'none',
  order: 'before' | 'after' = 'before',
): Mount {
  return (handler, options = {}) => {
    const app = express();
    const bodyParsers =
      parsers === 'none'
        ? []
        : parsers === 'json-text'
          ? [express.json(), express.text()]
          : [express.json(), express.text(), express.raw(), express.urlencoded()];
    if (order === 'before') for (const p of bodyParsers) app.use(p);
    app.get('/host/ping', (_req, res) => void res.send('pong'));
    app.use(
      '/plugins',
      pluginGateway(handler, {
        bodyLimit: options.bodyLimit,
        getUser: options.withUser ? (req) => userFrom(req.headers) : undefined,
      }),
    );
    if (order === 'after') for (const p of bodyParsers) app.use(p);
    app.post('/plugins/host-upload', (req, res) => void res.send(JSON.stringify(req.body)));
    app.use((_req, res) => void res.status(404).send('host 404'));
    return listening(http.createServer(app));
  };
}

/** Fastify with the plugin registered under `prefix` (none: the whole tree). */
export function fastifyMount(prefix: '/plugins' | ''): Mount {
  return async (handler, options = {}) => {
    const app = Fastify({ requestIdHeader: 'x-request-id' });
    app.get('/host/ping', async () => 'pong');
    app.post(`${prefix}/host-upload`, async (req) => JSON.stringify(req.body));
    app.setNotFoundHandler((_req, reply) => void reply.code(404).send('host 404'));
    await app.register(fastifyPluginGateway, {
      gateway: handler,
      prefix,
      // One gateway serves every host of a suite: closing a host must not stop it.
      stopOnClose: false,
      bodyLimit: options.bodyLimit,
      getUser: options.withUser ? (req) => userFrom(req.headers) : undefined,
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const port = (app.server.address() as AddressInfo).port;
    const base = `http://127.0.0.1:${port}`;
    return { base, plugins: `${base}${prefix}`, close: () => app.close() };
  };
}
