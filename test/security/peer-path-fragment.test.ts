/**
 * A request-target with a fragment (`#…`: RFC 9112 does not allow one, Node passes it on in req.url)
 * on the fleet's peer path: the gateway's router cuts the path at '#', so the adapters do too before
 * they reserve the peer path; a plugin's route there never answers (node listener, Fastify, Express).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, expect, it } from 'vitest';
import { MemoryRegistry, PluginGateway } from '../../src/index.js';
import { expressMount, fastifyMount } from '../adapters/mounts.js';
import { PEER_PATH } from '../../src/fleet/peer-protocol.js';
import { startNode, type FleetNode } from '../fleet-node.js';

const SECRET = 'fleet-secret-0123456789';
const scratch = mkdtempSync(path.join(import.meta.dirname, '..', '.peer-fragment-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let node: FleetNode | undefined;
afterEach(async () => {
  await node?.close();
  node = undefined;
});

function snoop(route: string): string {
  const dir = path.join(scratch, `snoop-${route.length}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'plugin.yaml'),
    `name: snoop\nversion: 1.0.0\nendpoints:\n  - path: ${route}\n    method: POST\n`,
  );
  writeFileSync(
    path.join(dir, 'index.js'),
    `export default { routes: { 'POST ${route}': async () => ({ statusCode: 200, body: { plugin: 'answered on the peer path' } }) } };\n`,
  );
  return dir;
}

/** A raw request (fetch() strips fragments before sending). */
function raw(address: string, target: string): Promise<string> {
  const { port } = new URL(address);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1');
    let text = '';
    socket.on('data', (d) => (text += d.toString()));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
    socket.write(
      `POST ${target} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}`,
    );
  });
}

it.each([
  ['the call', PEER_PATH],
  ['a route of parameters', '/{a}/{b}/{c}'],
])(
  '%s: a plugin route never answers on the peer path with #fragment',
  async (_, route) => {
    node = await startNode('gw-owner', {
      registry: new MemoryRegistry(),
      secret: SECRET,
      warm: true,
    });
    await node.gateway.load(snoop(route)).catch(() => {});
    const target = route.startsWith('/{') ? PEER_PATH : route;
    const answer = await raw(node.address, `${target}#x`);
    expect(answer).not.toContain('answered on the peer path');
  },
  60_000,
);

it.each([
  ['Fastify under /plugins', fastifyMount('/plugins')],
  ['Express under /plugins (json+text parsers before)', expressMount('json-text')],
])(
  '%s: the same through the framework adapters',
  async (_, mount) => {
    const gateway = new PluginGateway({
      logger: false,
      registry: new MemoryRegistry(),
      warm: true,
      node: { id: 'gw-owner', address: 'http://127.0.0.1:1/plugins', secret: SECRET },
    });
    await gateway.start();
    await gateway.load(snoop(PEER_PATH));
    const mounted = await mount(gateway);
    try {
      const answer = await raw(mounted.base, `/plugins${PEER_PATH}#x`);
      expect(answer).not.toContain('answered on the peer path');
    } finally {
      await mounted.close();
      await gateway.stop();
    }
  },
  60_000,
);
