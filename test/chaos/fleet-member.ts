// One gateway of the chaos suite's fleet, in its own process: an EtcdRegistry, the ./node listener on a
// free loopback port, the `chaos` plugin, and a `ledger` service that records each execution with the
// test process (LEDGER_URL) before answering — so that executions survive this process being killed.
import http from 'node:http';
import { PluginGateway } from '../../src/index.js';
import { createRequestListener } from '../../src/adapters/node.js';
import { EtcdRegistry } from '../../src/registry/etcd.js';
import { fixture } from '../helpers.js';
import { freePort } from '../services/common.js';

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
});
gateway.provide('ledger', '1.0.0', async (req) => {
  const res = await fetch(process.env.LEDGER_URL!, {
    method: 'POST',
    body: JSON.stringify({ ...(req.body as object), node: id }),
  });
  return { statusCode: res.status };
});
const server = http.createServer(createRequestListener(gateway));
await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
await gateway.start();
await gateway.load(fixture('chaos'));
process.stdout.write(`${JSON.stringify({ ready: true, id, address })}\n`);
process.on('SIGTERM', () => {
  void gateway.stop().then(() => process.exit(0));
});
