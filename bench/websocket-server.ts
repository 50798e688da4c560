/**
 * A WebSocket echo server for `bench/websocket.bench.ts`, in a process of its own: `bare` (a `ws`
 * server echoing on its main thread) or `gateway` (the gateway's node listener, the echo in a worker
 * plugin's live thread), or `forwarded` (a second gateway of the fleet in this process in front of
 * that one, forwarding each connection to it). On two hosts (`BENCH_NETNS=1`) the forwarded pair is
 * two processes instead: `forwarded-owner` (the gateway running the plugin) and `forwarded-caller` (the
 * gateway the clients reach), on etcd at `ETCD`. Listens on `HOST_ADDRESS` (default 127.0.0.1).
 * Prints `{ "port": N }`, then `{ "cpuUs": N }` for each `cpu` line on stdin.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import WebSocket, { WebSocketServer } from 'ws';
import { createRequestListener, createUpgradeListener } from '../dist/node.js';
import { MemoryRegistry, PluginGateway, type DiscoveryRegistry } from '../dist/index.js';
import { EtcdRegistry } from '../dist/registry/etcd.js';

const variant = process.argv[2];
const host = process.env.HOST_ADDRESS ?? '127.0.0.1';
const secret = 'bench-websocket-fleet-secret-0123456789';
const echoPlugin = path.join(import.meta.dirname, 'plugins', 'ws-echo');
const server = http.createServer();
const listen = (s: http.Server) => new Promise<void>((r) => s.listen(0, host, r));
const addressOf = (s: http.Server) => `http://${host}:${(s.address() as AddressInfo).port}`;

/** A gateway of the fleet serving on `on`; `plugin` loaded when given. */
async function fleetGateway(
  on: http.Server,
  id: string,
  registry: DiscoveryRegistry,
  plugin?: string,
): Promise<PluginGateway> {
  if (!on.listening) await listen(on);
  const gateway = new PluginGateway({
    logger: false,
    registry,
    node: { id, address: addressOf(on), secret },
  });
  if (plugin) await gateway.load(plugin);
  await gateway.start();
  on.on('request', createRequestListener(gateway));
  on.on('upgrade', createUpgradeListener(gateway));
  return gateway;
}

/** Until the caller routes `/echo` to its owner (the registry's watch): a client opens through it. */
async function untilRoutable(): Promise<void> {
  for (;;) {
    const opened = await new Promise<boolean>((resolve) => {
      const ws = new WebSocket(`${addressOf(server).replace('http', 'ws')}/echo`);
      ws.once('open', () => {
        ws.close();
        resolve(true);
      });
      ws.once('error', () => resolve(false));
    });
    if (opened) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

if (variant === 'bare') {
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  wss.on('connection', (ws) => ws.on('message', (data, binary) => ws.send(data, { binary })));
} else if (variant === 'forwarded') {
  // Two gateways of one fleet in this process: the client's connects to the caller, which forwards
  // each connection to the owner over the peer protocol (a signed WebSocket of its own).
  const registry = new MemoryRegistry();
  await fleetGateway(http.createServer(), 'owner', registry, echoPlugin);
  await fleetGateway(server, 'caller', registry);
} else if (variant === 'forwarded-owner' || variant === 'forwarded-caller') {
  const registry = new EtcdRegistry({ endpoints: process.env.ETCD!.split(','), namespace: 'ws' });
  const owner = variant === 'forwarded-owner';
  await fleetGateway(server, owner ? 'owner' : 'caller', registry, owner ? echoPlugin : undefined);
  if (!owner) await untilRoutable();
} else {
  const gateway = new PluginGateway({ logger: false });
  await gateway.load(echoPlugin);
  await gateway.start();
  server.on('request', createRequestListener(gateway));
  server.on('upgrade', createUpgradeListener(gateway));
}
if (!server.listening) await listen(server);
console.log(JSON.stringify({ port: (server.address() as AddressInfo).port }));
process.stdin.setEncoding('utf8');
process.stdin.on('data', () => {
  const { user, system } = process.cpuUsage();
  console.log(JSON.stringify({ cpuUs: user + system }));
});
