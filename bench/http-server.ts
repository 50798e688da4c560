/**
 * One HTTP server for bench/http.bench.ts, in a process of its own: `<framework> <variant>` with
 * framework `node | fastify | express` and variant `adapter` (the gateway's adapter, the http-echo
 * plugin on one thread), `handle` (hand-written glue calling `gateway.handle()`), `by-hand` (the same
 * framework handing the request to a Piscina pool tuned like the gateway's: one thread, 16 tasks per
 * thread, atomics off, no task timing, same echo) or `inline` (the same glue running the echo on the
 * main thread: no isolation at all). `by-hand` hands the whole request (method, path, headers, body)
 * for a POST, and only the URL for a GET, as the server the issue measured did. A variant may name
 * another build of the package to run, `adapter@<folder>` (a folder of the repository holding a `dist/`
 * built from another commit and its `bench/plugins/http-echo`), to measure a change against the code
 * before it in one run. Prints the port, then serves until SIGTERM.
 */
import express from 'express';
import Fastify from 'fastify';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { echo } from './echo-handler.js';
import { threadCpu } from './thread-cpu.js';
import type * as Express from '../dist/express.js';
import type * as FastifyAdapter from '../dist/fastify.js';
import type * as Index from '../dist/index.js';
import type { PluginGateway as Gateway } from '../dist/index.js';
import type * as Node from '../dist/node.js';

const here = import.meta.dirname;
const [framework, named] = process.argv.slice(2) as [string, string];
const [variant, build] = named.split('@') as [string, string | undefined];
const dist =
  build === undefined ? path.join(here, '../dist') : path.resolve(here, '..', build, 'dist');
const load = <T>(entry: string): Promise<T> => import(path.join(dist, entry)) as Promise<T>;
const { PluginGateway } = await load<typeof Index>('index.js');
const { pluginGateway } = await load<typeof Express>('express.js');
const { default: fastifyPluginGateway } = await load<typeof FastifyAdapter>('fastify.js');
const { createRequestListener } = await load<typeof Node>('node.js');

/** `postMessage` calls on the main thread (Piscina's task ports): how many hops a request costs. */
let posted = 0;
const post = MessagePort.prototype.postMessage;
MessagePort.prototype.postMessage = function (this: MessagePort, ...args: Parameters<typeof post>) {
  posted++;
  return post.apply(this, args);
};

interface Echoed {
  statusCode: number;
  headers: Record<string, string>;
  body: unknown;
}

let run: (task: unknown) => Promise<Echoed>;
let gateway: Gateway | undefined;
if (variant === 'adapter' || variant === 'handle') {
  const gw = new PluginGateway({ logger: false });
  // The plugin from the same folder as the build: a thread may read its own library only.
  await gw.load(path.join(dist, '../bench/plugins/http-echo'));
  await gw.start();
  if (variant === 'adapter') gateway = gw;
  // `handle`: the same hand-written glue, calling gateway.handle() instead of a pool: what the
  // adapter adds over the gateway itself is the difference between `adapter` and `handle`.
  else
    run = (t) => {
      const {
        method,
        path: p,
        headers,
        body,
      } = (
        typeof t === 'string' ? { method: 'GET', path: t, headers: {}, body: undefined } : t
      ) as { method: string; path: string; headers: Record<string, string>; body: unknown };
      return gw.handle({ method, path: p, headers, body }) as Promise<Echoed>;
    };
} else if (variant === 'inline') {
  // The same echo as the plugin's and the pool's (bench/echo-handler.ts), on this thread.
  run = (task) =>
    Promise.resolve(echo((typeof task === 'string' ? {} : task) as { body?: unknown }) as Echoed);
} else {
  const pool = new Piscina({
    filename: path.join(here, 'echo-worker.js'),
    minThreads: 1,
    maxThreads: 1,
    atomics: 'disabled',
    concurrentTasksPerWorker: 16,
    idleTimeout: 30_000,
    // The gateway's pools time no task (it keeps its own histogram): neither does this one.
    recordTiming: false,
  });
  run = (task) => pool.run(task) as Promise<Echoed>;
}

/** What a user writes by hand: the whole request for a POST, the URL for a GET. */
const task = (method: string, url: string, headers: object, body: unknown): unknown =>
  method === 'GET' ? url : { method, path: url, headers, body };

function nodeByHand(req: http.IncomingMessage, res: http.ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const raw = Buffer.concat(chunks);
    const body: unknown = raw.length > 0 ? JSON.parse(raw.toString('utf8')) : undefined;
    run(task(req.method!, req.url!, req.headers, body)).then((r) => {
      const payload = r.body === undefined ? '' : JSON.stringify(r.body);
      res.writeHead(r.statusCode, r.headers).end(payload);
    });
  });
}

let server: http.Server;
if (framework === 'node') {
  server = http.createServer(gateway ? createRequestListener(gateway) : nodeByHand);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
} else if (framework === 'express') {
  const app = express();
  app.use(express.json());
  if (gateway) app.use(pluginGateway(gateway));
  else
    app.use((req, res) => {
      void run(task(req.method, req.url, req.headers, req.body)).then((r) =>
        res
          .status(r.statusCode)
          .set(r.headers)
          .send(r.body === undefined ? '' : JSON.stringify(r.body)),
      );
    });
  server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
} else {
  const app = Fastify();
  if (gateway) await app.register(fastifyPluginGateway, { gateway });
  else
    app.all('/*', async (req, reply) => {
      const r = await run(task(req.method, req.url, req.headers, req.body));
      reply.code(r.statusCode).headers(r.headers);
      return r.body === undefined ? '' : JSON.stringify(r.body);
    });
  await app.listen({ port: 0, host: '127.0.0.1' });
  server = app.server;
}
console.log(JSON.stringify({ port: (server.address() as AddressInfo).port }));
// CPU used so far (all threads, and the main thread's own) and postMessage calls, for the driver's
// counts per request: steadier figures than req/s on a busy machine. A line on stdin asks for them; SIGTERM ends the process (and
// writes --cpu-prof).
process.stdin.setEncoding('utf8').on('data', () => {
  const { user, system } = process.cpuUsage();
  console.log(JSON.stringify({ cpuUs: user + system, mainUs: threadCpu().main, posted }));
});
process.once('SIGTERM', () => process.exit(0));
