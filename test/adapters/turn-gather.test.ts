// The adapters hand the requests they read in one turn of the event loop to handle() together (so that
// the worker runtime's batching sends them to the plugin's thread in one message), and a request alone
// in flight at once. Real HTTP on loopback, one server per framework; the handler counts how many of
// its calls came in one synchronous run.
import express from 'express';
import Fastify from 'fastify';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import fastifyPluginGateway from '../../src/adapters/fastify.js';
import { pluginGateway } from '../../src/adapters/express.js';
import { createRequestListener } from '../../src/adapters/node.js';
import type { RequestHandlerLike } from '../../src/adapters/request-handler.js';
import { GATHER_MAX } from '../../src/adapters/turn-gather.js';
import type { GatewayRequest, PluginResponse } from '../../src/shared/types.js';

interface Served {
  port: number;
  /** Connections the server accepted so far. */
  accepted(): number;
  close(): Promise<void>;
}

/** Wraps every request in `before`: what the handler sees can be set per request. */
type Before = (req: http.IncomingMessage) => void;

const frameworks: Record<string, (h: RequestHandlerLike, before: Before) => Promise<Served>> = {
  'node:http': async (handler, before) => {
    const listener = createRequestListener(handler);
    return serve(
      http.createServer((req, res) => {
        before(req);
        listener(req, res);
      }),
    );
  },
  express: async (handler, before) => {
    const app = express();
    app.use((req, _res, next) => {
      before(req);
      next();
    });
    app.use(pluginGateway(handler));
    return serve(http.createServer(app));
  },
  fastify: async (handler, before) => {
    const app = Fastify();
    app.addHook('onRequest', async (request) => before(request.raw));
    await app.register(fastifyPluginGateway, { gateway: handler, stopOnClose: false });
    let accepted = 0;
    app.server.on('connection', () => accepted++);
    await app.listen({ port: 0, host: '127.0.0.1' });
    return {
      port: (app.server.address() as AddressInfo).port,
      accepted: () => accepted,
      close: () => app.close(),
    };
  },
};

async function serve(server: http.Server): Promise<Served> {
  let accepted = 0;
  server.on('connection', () => accepted++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    accepted: () => accepted,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/**
 * A handler that records, for each call, how many calls its synchronous run holds so far (`runs`), and
 * whether a `setImmediate` queued when its request arrived had run already (`waitedForTurn`). `/hold`
 * is answered only when `release()` is called; `/throw` throws instead of answering.
 */
function recordingHandler() {
  const runs: number[] = [];
  const waitedForTurn: boolean[] = [];
  let open = false;
  let turnPassed = false;
  const held: Array<() => void> = [];
  const handler: RequestHandlerLike = {
    handle(request: GatewayRequest): Promise<PluginResponse> {
      if (!open) {
        open = true;
        runs.push(0);
        queueMicrotask(() => (open = false));
      }
      runs[runs.length - 1]!++;
      waitedForTurn.push(turnPassed);
      if (request.path === '/throw') throw new Error('the handler failed');
      const answer: PluginResponse = { statusCode: 200, body: { path: request.path } };
      if (request.path === '/hold') return new Promise((r) => held.push(() => r(answer)));
      return Promise.resolve(answer);
    },
  };
  const before: Before = () => {
    turnPassed = false;
    setImmediate(() => (turnPassed = true));
  };
  return {
    handler,
    before,
    runs,
    waitedForTurn,
    release: () => held.splice(0).forEach((f) => f()),
  };
}

/** Sockets connected and accepted by the server, with the requests not written yet. */
async function connected(served: Served, count: number): Promise<net.Socket[]> {
  const before = served.accepted();
  const sockets = await Promise.all(
    Array.from({ length: count }, async () => {
      const socket = net.connect(served.port, '127.0.0.1');
      await new Promise((r) => socket.once('connect', r));
      return socket;
    }),
  );
  while (served.accepted() < before + count) await new Promise((r) => setTimeout(r, 5));
  return sockets;
}

/** The status line of the first answer on `socket`. */
function statusOf(socket: net.Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      const end = text.indexOf('\r\n');
      if (end !== -1) resolve(text.slice(0, end));
    });
    socket.once('error', reject);
  });
}

const get = (path: string) => `GET ${path} HTTP/1.1\r\nhost: x\r\n\r\n`;
const post = (path: string, body: string) =>
  `POST ${path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n` +
  `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

describe.each(Object.keys(frameworks))('%s adapter: requests of one loop turn', (name) => {
  let served: Served | undefined;
  afterEach(async () => {
    await served?.close();
    served = undefined;
  });

  it('hands the requests read in one turn to handle() in one synchronous run', async () => {
    const recorder = recordingHandler();
    served = await frameworks[name]!(recorder.handler, recorder.before);
    const port = served.port;
    // One request in flight, held: what comes next arrives while the adapter is busy.
    const holding = fetch(`http://127.0.0.1:${port}/hold`);
    while (recorder.runs.length === 0) await new Promise((r) => setTimeout(r, 5));
    const sockets = await connected(served, 8);
    // Written in one synchronous block: the server reads them all in its next poll.
    sockets.forEach((s, i) =>
      s.write(i % 2 === 0 ? get(`/x${i}`) : post(`/x${i}`, JSON.stringify({ i }))),
    );
    const statuses = await Promise.all(sockets.map(statusOf));
    expect(statuses).toEqual(Array(8).fill('HTTP/1.1 200 OK'));
    // The held request alone, then the eight in fewer runs than requests (one, on a quiet machine).
    expect(recorder.runs[0]).toBe(1);
    expect(recorder.runs.length).toBeLessThan(1 + 8);
    expect(Math.max(...recorder.runs.slice(1))).toBeGreaterThan(1);
    // Each waited for the end of its turn's I/O; the held one did not.
    expect(recorder.waitedForTurn).toEqual([false, ...Array(8).fill(true)]);
    recorder.release();
    expect((await holding).status).toBe(200);
    sockets.forEach((s) => s.destroy());
  });

  it(`hands a turn's requests on in runs of at most ${GATHER_MAX}, the first as soon as it is full`, async () => {
    const recorder = recordingHandler();
    served = await frameworks[name]!(recorder.handler, recorder.before);
    const holding = fetch(`http://127.0.0.1:${served.port}/hold`);
    while (recorder.runs.length === 0) await new Promise((r) => setTimeout(r, 5));
    const count = GATHER_MAX + 4;
    const sockets = await connected(served, count);
    sockets.forEach((s, i) => s.write(get(`/x${i}`)));
    const statuses = await Promise.all(sockets.map(statusOf));
    expect(statuses).toEqual(Array(count).fill('HTTP/1.1 200 OK'));
    const runs = recorder.runs.slice(1);
    expect(runs.reduce((a, b) => a + b, 0)).toBe(count);
    expect(Math.max(...runs)).toBe(GATHER_MAX);
    // The full run left before the end of the turn's I/O: its requests did not wait for the turn.
    expect(recorder.waitedForTurn.slice(1, 1 + GATHER_MAX)).toEqual(Array(GATHER_MAX).fill(false));
    recorder.release();
    expect((await holding).status).toBe(200);
    sockets.forEach((s) => s.destroy());
  });

  it('hands a request alone in flight to handle() at once, and recovers from a throwing handle()', async () => {
    const recorder = recordingHandler();
    served = await frameworks[name]!(recorder.handler, recorder.before);
    const base = `http://127.0.0.1:${served.port}`;
    for (let i = 0; i < 3; i++) expect((await fetch(`${base}/one${i}`)).status).toBe(200);
    expect(recorder.waitedForTurn).toEqual([false, false, false]);
    // A handle() that throws while the request waited for its turn: that request is answered 500.
    const holding = fetch(`${base}/hold`);
    while (recorder.runs.length === 3) await new Promise((r) => setTimeout(r, 5));
    const failed = await fetch(`${base}/throw`);
    expect(failed.status).toBe(500);
    expect(await failed.json()).toMatchObject({ error: { code: 'PGW_ERR_GATEWAY_ERROR' } });
    recorder.release();
    expect((await holding).status).toBe(200);
    // Nothing is counted in flight any more: the next request goes at once again.
    expect((await fetch(`${base}/after`)).status).toBe(200);
    expect(recorder.waitedForTurn.at(-1)).toBe(false);
  });
});
