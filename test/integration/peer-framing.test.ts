// A whole peer answer (and a refusal) states its length: no chunked framing for the caller to decode.
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryRegistry } from '../../src/index.js';
import { PEER_CONTENT_TYPE, PEER_PATH, peerHeaders } from '../../src/fleet/peer-protocol.js';
import { startNode, type FleetNode } from '../fleet-node.js';
import { fixture } from '../helpers.js';

const SECRET = 'fleet-secret-0123456789';
let node: FleetNode | undefined;
afterEach(async () => {
  await node?.close();
  node = undefined;
});

const call = JSON.stringify({
  service: 'profiles',
  version: '1.2.0',
  instance: 'x',
  key: 'GET /profiles/{id}',
  timeoutMs: 2000,
  request: { id: 'framing-1', method: 'GET', path: '/profiles/7', headers: {}, userId: 1 },
});

describe('peer answers on the wire', () => {
  it('carry content-length, never transfer-encoding, whether served or refused', async () => {
    node = await startNode('gw-owner', { registry: new MemoryRegistry(), secret: SECRET });
    await node.gateway.load(fixture('profiles'), { config: { node: 'owner' } });
    const served = await fetch(node.address + PEER_PATH, {
      method: 'POST',
      headers: peerHeaders('gw-entry', 'gw-owner', call, SECRET),
      body: call,
    });
    const text = await served.text();
    expect(served.status).toBe(200);
    expect(served.headers.get('content-type')).toBe(PEER_CONTENT_TYPE);
    expect(served.headers.get('transfer-encoding')).toBeNull();
    expect(served.headers.get('content-length')).toBe(String(Buffer.byteLength(text)));
    expect(JSON.parse(text)).toMatchObject({ response: { statusCode: 200 } });

    const refused = await fetch(node.address + PEER_PATH, {
      method: 'POST',
      headers: peerHeaders('gw-entry', 'gw-owner', call, 'another-secret-0123456789'),
      body: call,
    });
    const why = await refused.text();
    expect(refused.status).toBe(401);
    expect(refused.headers.get('transfer-encoding')).toBeNull();
    expect(refused.headers.get('content-length')).toBe(String(Buffer.byteLength(why)));
  });
});
