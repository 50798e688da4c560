// One gateway on a test host (a network namespace of test/netns/network.ts): an EtcdRegistry on the
// etcd cluster, the ./node listener on the host's own address, the fixtures named in PLUGINS. Prints one
// JSON line when ready, then one line per registry event it sees, so a test can follow it.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { PluginGateway } from '../../src/index.js';
import { createRequestListener, createUpgradeListener } from '../../src/adapters/node.js';
import { EtcdRegistry } from '../../src/registry/etcd.js';
import { fixture } from '../helpers.js';

const id = process.env.NODE_ID!;
const host = process.env.HOST_ADDRESS!;
const address = `http://${host}:8080`;
const gateway = new PluginGateway({
  logger: false,
  registry: new EtcdRegistry({
    endpoints: process.env.ETCD!.split(','),
    namespace: 'netns',
    ttl: process.env.TTL ?? '3s',
  }),
  node: { id, address, secret: process.env.FLEET_SECRET! },
  pluginTimeout: process.env.PLUGIN_TIMEOUT ?? '2s',
  circuitBreaker: { timeout: process.env.BREAKER_TIMEOUT ?? '30s' },
  // A catalog-driven gateway: WATCH_ENV, the publisher's public key, rolling rollouts.
  ...(process.env.WATCH_ENV && {
    watch: {
      env: process.env.WATCH_ENV,
      cacheDir: process.env.CACHE_DIR!,
      trusted: true,
      trustedKeys: [readFileSync(process.env.TRUSTED_KEY_FILE!, 'utf8')],
      rolling: process.env.ROLLING === '1',
    },
  }),
});
const server = http.createServer(createRequestListener(gateway));
// Forwarded WebSockets and peer channels (version 2) arrive as upgrades.
server.on('upgrade', createUpgradeListener(gateway));
await new Promise<void>((resolve) => server.listen(8080, host, resolve));
await gateway.start();
for (const name of (process.env.PLUGINS ?? '').split(',').filter(Boolean)) {
  await gateway.load(fixture(name), { config: { node: id } });
}
process.stdout.write(`${JSON.stringify({ ready: true, id, address })}\n`);
process.on('SIGTERM', () => {
  void gateway.stop().then(() => process.exit(0));
});
