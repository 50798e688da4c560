import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryRegistry } from '../../src/index.js';
import { PEER_CONTENT_TYPE } from '../../src/fleet/peer-protocol.js';
import { startNode, type FleetNode } from '../fleet-node.js';
import { until } from '../registry/contract.js';

let node: FleetNode | undefined;
let owner: http.Server | undefined;
afterEach(async () => {
  await node?.close();
  owner?.closeAllConnections();
  await new Promise((r) => (owner ? owner.close(r) : r(undefined)));
  node = owner = undefined;
});

/**
 * Whoever can write the registry can name any address as the owner of a plugin, and a fleet member
 * can be compromised: what a remote owner answers is as untrusted as what a thread answers, and gets
 * the same host-side check (status 200–599, headers strings or string lists).
 */
describe('an answer from a remote owner', () => {
  it.each([
    ['status 101', { statusCode: 101 }],
    ['status 700', { statusCode: 700 }],
    ['a status that is not a number', { statusCode: 'x-label-1' }],
    ['a header that is an object', { statusCode: 200, headers: { 'x-a': { b: 1 } } }],
    ['no response at all', {}],
  ])('with %s is a 500 PGW_ERR_BAD_RESPONSE for handle()', async (_, response) => {
    owner = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': PEER_CONTENT_TYPE });
        res.end(JSON.stringify({ response: { ...response, body: { json: { forged: true } } } }));
      });
    });
    await new Promise<void>((r) => owner!.listen(0, '127.0.0.1', r));
    const registry = new MemoryRegistry();
    node = await startNode('entry', { registry, secret: 'a-fleet-secret-of-some-length' });
    await registry.register({
      id: 'profiles@1.2.0#owner.1',
      service: 'profiles',
      version: '1.2.0',
      nodeId: 'owner',
      address: `http://127.0.0.1:${(owner.address() as AddressInfo).port}`,
      endpoints: [{ path: '/profiles/{id}', method: 'GET', auth: 'none', roles: [] }],
      status: 'active',
      metadata: {},
    } as never);
    await until(
      async () =>
        (await node!.gateway.handle({ method: 'GET', path: '/profiles/1' })).statusCode !== 404,
      'the remote route',
    );
    const res = await node.gateway.handle({ method: 'GET', path: '/profiles/1' });
    expect(res.statusCode).toBe(500);
    expect((res.body as { error: { code: string } }).error.code).toBe('PGW_ERR_BAD_RESPONSE');
  });
});
