/**
 * A WebSocket echo server for `bench/websocket.bench.ts`, in a process of its own: `bare` (a `ws`
 * server echoing on its main thread) or `gateway` (the gateway's node listener, the echo in a worker
 * plugin's live thread), or `forwarded` (a second gateway of the fleet in this process in front of
 * that one, forwarding each connection to it). Prints `{ "port": N }`, then `{ "cpuUs": N }` for each `cpu` line on stdin.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { WebSocketServer } from 'ws';
import { createRequestListener, createUpgradeListener } from '../dist/node.js';
import { MemoryRegistry, PluginGateway } from '../dist/index.js';

const variant = process.argv[2];
const server = http.createServer();
if (variant === 'bare') {
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  wss.on('connection', (ws) => ws.on('message', (data, binary) => ws.send(data, { binary })));
} else if (variant === 'forwarded') {
  // Two gateways of one fleet in this process: the client's connects to the caller, which forwards
  // each connection to the owner over the peer protocol (a signed WebSocket of its own).
  const registry = new MemoryRegistry();
  const secret = 'bench-websocket-fleet-secret-0123456789';
  const ownerServer = http.createServer();
  await new Promise<void>((r) => ownerServer.listen(0, '127.0.0.1', r));
  const ownerAddress = `http://127.0.0.1:${(ownerServer.address() as AddressInfo).port}`;
  const owner = new PluginGateway({
    logger: false,
    registry,
    node: { id: 'owner', address: ownerAddress, secret },
  });
  await owner.load(path.join(import.meta.dirname, 'plugins', 'ws-echo'));
  await owner.start();
  ownerServer.on('request', createRequestListener(owner));
  ownerServer.on('upgrade', createUpgradeListener(owner));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const caller = new PluginGateway({
    logger: false,
    registry,
    node: {
      id: 'caller',
      address: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      secret,
    },
  });
  await caller.start();
  server.on('request', createRequestListener(caller));
  server.on('upgrade', createUpgradeListener(caller));
} else {
  const gateway = new PluginGateway({ logger: false });
  await gateway.load(path.join(import.meta.dirname, 'plugins', 'ws-echo'));
  await gateway.start();
  server.on('request', createRequestListener(gateway));
  server.on('upgrade', createUpgradeListener(gateway));
}
if (!server.listening) await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
console.log(JSON.stringify({ port: (server.address() as AddressInfo).port }));
process.stdin.setEncoding('utf8');
process.stdin.on('data', () => {
  const { user, system } = process.cpuUsage();
  console.log(JSON.stringify({ cpuUs: user + system }));
});
