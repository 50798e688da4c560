/**
 * The server of `bench/live-swap.bench.ts`, in a process of its own: a gateway with the
 * `live-swap-v1` worker plugin behind the node listener. Prints `{ "port": N }`; then on stdin
 * `swap` hot-swaps to `live-swap-v2` (the default `connectionDrain`, 5 minutes: the open connections
 * stay on 1.0.0) and answers `{ start, end }` (epoch ms with fractions, around `gateway.swap()`), and
 * `connections` answers `{ byVersion }` (`PluginMetrics.connections_by_version`).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createRequestListener, createUpgradeListener } from '../dist/node.js';
import { PluginGateway } from '../dist/index.js';

const plugins = path.join(import.meta.dirname, 'plugins');
const now = () => performance.timeOrigin + performance.now();
const gateway = new PluginGateway({ logger: false });
const { name } = await gateway.load(path.join(plugins, 'live-swap-v1'));
await gateway.start();
const server = http.createServer(createRequestListener(gateway));
server.on('upgrade', createUpgradeListener(gateway));
await new Promise<void>((r) => server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, r));
console.log(JSON.stringify({ port: (server.address() as AddressInfo).port }));

process.stdin.setEncoding('utf8');
process.stdin.on('data', (line: string) => {
  void (async () => {
    if (line.trim() === 'swap') {
      const start = now();
      await gateway.swap(name, path.join(plugins, 'live-swap-v2'));
      return console.log(JSON.stringify({ start, end: now() }));
    }
    console.log(JSON.stringify({ byVersion: gateway.metrics(name).connections_by_version }));
  })();
});
