/**
 * `npm run demo:fleet`: two gateways sharing one registry, each behind its own `node:http` listener, as
 * two processes of a fleet would be (here in one process, on the memory registry; with etcd or Consul,
 * pass `new EtcdRegistry(...)` to each). Gateway A runs gamification; gateway B runs none and forwards
 * its requests to A over the peer protocol, signed with the fleet's secret.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { MemoryRegistry, PluginGateway } from '../src/index.js';
import { createRequestListener } from '../src/adapters/node.js';

const plugins = path.join(import.meta.dirname, 'plugins');
const registry = new MemoryRegistry();
const secret = 'demo-fleet-secret-0123456789';

function say(line = ''): void {
  process.stdout.write(`${line}\n`);
}

/** A gateway of the fleet and its HTTP server on a free loopback port. */
async function node(id: string) {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const gateway = new PluginGateway({ registry, node: { id, address, secret }, logger: false });
  server.on('request', createRequestListener(gateway));
  await gateway.start();
  return { id, gateway, server, address };
}

const a = await node('gw-a');
const b = await node('gw-b');
say(`gw-a listens on ${a.address}, gw-b on ${b.address}`);

await a.gateway.load(path.join(plugins, 'gamification'));
say(
  `gw-a runs: ${a.gateway
    .list()
    .map((p) => `${p.name}@${p.version}`)
    .join(', ')}; gw-b runs: none`,
);
say(`registry: ${(await registry.list()).map((r) => `${r.id} at ${r.address}`).join(', ')}`);

for (const userId of [456, 457, 456]) {
  await a.gateway.publish({
    type: 'track.played',
    userId,
    payload: { trackId: 101, seconds: 200 },
  });
}

for (const gw of [a, b]) {
  const res = await fetch(`${gw.address}/gamification/users/456/profile`);
  say(
    `GET ${gw.id} /gamification/users/456/profile → ${res.status} ${JSON.stringify(await res.json())}`,
  );
}

say('\ngw-a stops: gw-b sees its instances leave the registry and stops routing.');
await a.gateway.stop();
const gone = await fetch(`${b.address}/gamification/leaderboard`);
say(`GET gw-b /gamification/leaderboard → ${gone.status} ${JSON.stringify(await gone.json())}`);

await b.gateway.stop();
for (const s of [a.server, b.server]) s.close();
say('Stopped.');
