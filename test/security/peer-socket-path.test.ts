/**
 * The upgrade side reserves the whole peer path as the HTTP side does: a plugin's WebSocket route that
 * would match `/.veza/peer/v1/ws/` (a trailing slash, a fragment) or another path under it never opens
 * there; only the fleet's own socket path is served, and only to a signed peer.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createUpgradeListener } from '../../src/adapters/node.js';
import { MemoryRegistry } from '../../src/index.js';
import { PEER_SOCKET_PATH } from '../../src/fleet/peer-protocol.js';
import { startNode, type FleetNode } from '../fleet-node.js';

const scratch = mkdtempSync(path.join(import.meta.dirname, '..', '.peer-socket-path-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let node: FleetNode | undefined;
afterEach(async () => {
  await node?.close();
  node = undefined;
});

function socketPlugin(route: string): string {
  const dir = path.join(scratch, `ws-${route.length}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'plugin.yaml'),
    `name: wsnoop\nversion: 1.0.0\nendpoints:\n  - path: ${route}\n    method: GET\n    websocket: true\n`,
  );
  writeFileSync(
    path.join(dir, 'index.js'),
    `export default { websockets: { 'GET ${route}': { open: (ws) => ws.send('plugin socket on the peer path') } } };\n`,
  );
  return dir;
}

function firstMessage(url: string): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { origin: `http://${new URL(url).host}` });
    ws.on('message', (m) => (resolve(m.toString()), ws.close()));
    ws.on('unexpected-response', (_req, res) => resolve(`refused ${res.statusCode}`));
    ws.on('error', (e) => resolve(`error ${e.message}`));
  });
}

it.each([
  ['the peer socket path with a trailing slash', PEER_SOCKET_PATH, `${PEER_SOCKET_PATH}/`],
  ['another path under the peer path', '/.veza/peer/v1/other', '/.veza/peer/v1/other'],
])(
  '%s is never a plugin socket',
  async (_, route, target) => {
    node = await startNode('gw-owner', {
      registry: new MemoryRegistry(),
      secret: 'fleet-secret-0123456789',
      warm: true,
    });
    node.server.on('upgrade', createUpgradeListener(node.gateway));
    await node.gateway.load(socketPlugin(route)).catch(() => {}); // refused at load is a fix too
    const got = await firstMessage(node.address.replace('http', 'ws') + target);
    expect(got).not.toContain('plugin socket on the peer path');
  },
  60_000,
);
