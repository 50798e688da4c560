/**
 * A WebSocket echo server for `bench/websocket.bench.ts`, in a process of its own: `bare` (a `ws`
 * server echoing on its main thread) or `gateway` (the gateway's node listener, the echo in a worker
 * plugin's live thread). Prints `{ "port": N }`, then `{ "cpuUs": N }` for each `cpu` line on stdin.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { WebSocketServer } from 'ws';
import { createRequestListener, createUpgradeListener } from '../dist/node.js';
import { PluginGateway } from '../dist/index.js';

const variant = process.argv[2];
const server = http.createServer();
if (variant === 'bare') {
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  wss.on('connection', (ws) => ws.on('message', (data, binary) => ws.send(data, { binary })));
} else {
  const gateway = new PluginGateway({ logger: false });
  await gateway.load(path.join(import.meta.dirname, 'plugins', 'ws-echo'));
  await gateway.start();
  server.on('request', createRequestListener(gateway));
  server.on('upgrade', createUpgradeListener(gateway));
}
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
console.log(JSON.stringify({ port: (server.address() as AddressInfo).port }));
process.stdin.setEncoding('utf8');
process.stdin.on('data', () => {
  const { user, system } = process.cpuUsage();
  console.log(JSON.stringify({ cpuUs: user + system }));
});
