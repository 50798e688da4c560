/**
 * The server of `bench/live-scale.bench.ts`, in a process of its own (run with --expose-gc): `bare`
 * (a `ws` echo on the main thread, an SSE endpoint and a download piped from a worker thread by hand)
 * or `gateway` (the same three served by the `live-scale` worker plugin through the node listener).
 * Prints `{ "port": N }`; then on stdin `mem` answers `{ rss, peak, arrayBuffersPeak, externalPeak }`
 * after a collection (`peak`: highest RSS sampled since the last `mem`; `arrayBuffersPeak`: highest
 * `process.memoryUsage().arrayBuffers` of the main thread since then, what it allocated;
 * `externalPeak`: highest `external`, which also counts buffers moved to it from a thread), `cpu`
 * answers `{ cpuUs }`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { MessageChannel, Worker } from 'node:worker_threads';
import { WebSocketServer } from 'ws';
import { createRequestListener, createUpgradeListener } from '../dist/node.js';
import { PluginGateway } from '../dist/index.js';

const here = import.meta.dirname;
const variant = process.argv[2];
const server = http.createServer();
const UPLOAD_WINDOW = 8;

function bareDownload(worker: Worker, res: http.ServerResponse, bytes: number): void {
  const { port1, port2 } = new MessageChannel();
  res.writeHead(200, { 'content-type': 'application/octet-stream' });
  port1.on('message', (chunk: Uint8Array | null) => {
    if (chunk === null) {
      port1.close();
      return void res.end();
    }
    if (res.write(chunk)) port1.postMessage(1);
    else res.once('drain', () => port1.postMessage(1));
  });
  res.once('close', () => port1.close());
  worker.postMessage({ port: port2, bytes }, [port2]);
}

/** The request body posted to the worker chunk by chunk, the socket read only while it keeps up. */
function bareUpload(worker: Worker, req: http.IncomingMessage, res: http.ServerResponse): void {
  const { port1, port2 } = new MessageChannel();
  let unacknowledged = 0;
  port1.on('message', (message: number | { bytes: number }) => {
    if (typeof message === 'number') {
      if (--unacknowledged < UPLOAD_WINDOW) req.resume();
      return;
    }
    port1.close();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(message));
  });
  req.on('data', (chunk: Buffer) => {
    port1.postMessage(chunk);
    if (++unacknowledged >= UPLOAD_WINDOW) req.pause();
  });
  req.once('end', () => port1.postMessage(null));
  req.once('error', () => port1.close());
  worker.postMessage({ upload: port2 }, [port2]);
}

if (variant === 'bare') {
  const worker = new Worker(path.join(here, 'live-scale-worker.js'));
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  wss.on('connection', (ws) => ws.on('message', (data, binary) => ws.send(data, { binary })));
  server.on('request', (req, res) => {
    const url = new URL(req.url!, 'http://x');
    if (url.pathname === '/sse') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write('event: hello\ndata: first\n\n');
      return;
    }
    if (url.pathname === '/download')
      return bareDownload(worker, res, Number(url.searchParams.get('bytes')));
    if (url.pathname === '/upload' && req.method === 'PUT') return bareUpload(worker, req, res);
    res.writeHead(404).end();
  });
} else {
  const gateway = new PluginGateway({ logger: false });
  await gateway.load(path.join(here, 'plugins', 'live-scale'));
  await gateway.start();
  server.on('request', createRequestListener(gateway));
  server.on('upgrade', createUpgradeListener(gateway));
}
server.maxConnections = 30_000;
await new Promise<void>((r) => server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, r));
console.log(JSON.stringify({ port: (server.address() as AddressInfo).port }));

let peak = 0;
let arrayBuffersPeak = 0;
let externalPeak = 0;
setInterval(() => {
  const { rss, arrayBuffers, external } = process.memoryUsage();
  peak = Math.max(peak, rss);
  arrayBuffersPeak = Math.max(arrayBuffersPeak, arrayBuffers);
  externalPeak = Math.max(externalPeak, external);
}, 20).unref();
process.stdin.setEncoding('utf8');
process.stdin.on('data', (line: string) => {
  if (line.trim() === 'cpu') {
    const { user, system } = process.cpuUsage();
    return console.log(JSON.stringify({ cpuUs: user + system }));
  }
  globalThis.gc?.();
  const rss = process.memoryUsage.rss();
  console.log(JSON.stringify({ rss, peak: Math.max(peak, rss), arrayBuffersPeak, externalPeak }));
  peak = rss;
  arrayBuffersPeak = 0;
  externalPeak = 0;
});
