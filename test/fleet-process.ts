// One gateway of a fleet in its own process (fleet-etcd tests, bench): an EtcdRegistry, the ./node
// listener on a free loopback port, and the fixtures named in PLUGINS. Prints one JSON line when ready.
import http from 'node:http';
import { PluginGateway } from '../src/index.js';
import { createRequestListener, createUpgradeListener } from '../src/adapters/node.js';
import { EtcdRegistry } from '../src/registry/etcd.js';
import { fixture } from './helpers.js';
import { freePort } from './services/common.js';

const port = await freePort();
const address = `http://127.0.0.1:${port}`;
const id = process.env.NODE_ID!;
const gateway = new PluginGateway({
  logger: false,
  registry: new EtcdRegistry({
    endpoints: process.env.ETCD!,
    namespace: process.env.NAMESPACE!,
    ttl: process.env.TTL ?? '2s',
  }),
  node: { id, address, insecure: 'private-network' },
  pluginTimeout: '2s',
});
const server = http.createServer(createRequestListener(gateway));
// Forwarded WebSockets and peer channels (version 2) arrive as upgrades.
server.on('upgrade', createUpgradeListener(gateway));
await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
await gateway.start();
for (const name of (process.env.PLUGINS ?? '').split(',').filter(Boolean)) {
  await gateway.load(fixture(name), { config: { node: id } });
}
process.stdout.write(`${JSON.stringify({ ready: true, id, address })}\n`);
process.on('SIGTERM', () => {
  void gateway.stop().then(() => process.exit(0));
});
