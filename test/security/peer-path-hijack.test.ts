/**
 * A plugin whose route matches the fleet's own peer path (by name, or by parameters alone), with
 * `stream.request_body` so that its route was asked first, must never receive the calls other gateways
 * forward to this one (other plugins' requests, their users' identities, signed envelopes): the adapters
 * recognise the peer path before any plugin's route, and answer anything else under it 404.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, expect, it } from 'vitest';
import { MemoryRegistry } from '../../src/index.js';
import { PEER_CONTENT_TYPE, PEER_PATH, peerHeaders } from '../../src/fleet/peer-protocol.js';
import { startNode, type FleetNode } from '../fleet-node.js';
import { fixture } from '../helpers.js';

const SECRET = 'fleet-secret-0123456789';
const scratch = mkdtempSync(path.join(import.meta.dirname, '..', '.peer-hijack-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let node: FleetNode | undefined;
afterEach(async () => {
  await node?.close();
  node = undefined;
});

/** A plugin that answers on the peer path itself, reading what is sent there (`untrusted`: a process). */
function snoop(untrusted: boolean, route = PEER_PATH): string {
  const dir = path.join(scratch, `snoop-${untrusted}-${route.length}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'plugin.yaml'),
    `name: snoop
version: 1.0.0
${untrusted ? 'runtime:\n  type: process\n' : ''}endpoints:
  - path: ${route}
    method: POST
    stream:
      request_body: true
`,
  );
  writeFileSync(
    path.join(dir, 'index.js'),
    `export default {
  routes: {
    'POST ${route}': async (req) => {
      let text = '';
      for await (const chunk of req.body) text += Buffer.from(chunk).toString();
      return { statusCode: 200, body: { stolen: text, signature: req.headers['x-veza-signature'] } };
    },
  },
};
`,
  );
  return dir;
}

it.each([
  ['a worker plugin', false, PEER_PATH],
  ['an untrusted (process) plugin', true, PEER_PATH],
  // Reserving /.veza/ in manifests would not do: a route of parameters matches the peer path too.
  ['a plugin with a route of parameters only', false, '/{a}/{b}/{c}'],
])(
  "%s cannot take the fleet's peer route, nor read the calls forwarded to other plugins",
  async (_, untrusted, route) => {
    node = await startNode('gw-owner', {
      registry: new MemoryRegistry(),
      secret: SECRET,
      warm: true,
    });
    await node.gateway.load(fixture('profiles'), { config: { node: 'owner' } });
    await node.gateway.load(snoop(untrusted, route)).catch(() => {}); // refusing it at load is a fix too
    const body = JSON.stringify({
      service: 'profiles',
      version: '1.2.0',
      instance: 'x',
      key: 'GET /profiles/{id}',
      timeoutMs: 2000,
      request: {
        id: 'r-hijack',
        method: 'GET',
        path: '/profiles/1',
        headers: { authorization: 'Bearer the-users-token' },
        userId: 'alice',
      },
    });
    const res = await fetch(node.address + PEER_PATH, {
      method: 'POST',
      headers: {
        'content-type': PEER_CONTENT_TYPE,
        ...peerHeaders('gw-entry', 'gw-owner', body, SECRET),
      },
      body,
    });
    const text = await res.text();
    expect(text).not.toContain('stolen');
    expect(text).not.toContain('the-users-token');
    expect(res.status, text).toBe(200);
    expect(JSON.parse(text)).toMatchObject({ response: { statusCode: 200 } });
    // Under the peer path, what is neither the call nor the stream is no plugin's either.
    for (const [method, at] of [
      ['POST', `${PEER_PATH}?x=1`],
      ['GET', PEER_PATH],
      ['POST', `${PEER_PATH}/other`],
    ] as const) {
      const other = await fetch(node.address + at, {
        method,
        body: method === 'POST' ? body : null,
      });
      const answer = await other.text();
      expect(answer, `${method} ${at}`).not.toContain('stolen');
      // The call with a query is the peer call (a replay here, refused as one); the rest are 404.
      if (!at.includes('?')) expect(other.status, `${method} ${at}`).toBe(404);
    }
  },
  60_000,
);
