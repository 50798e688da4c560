import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryRegistry } from '../../src/index.js';
import { PEER_CONTENT_TYPE } from '../../src/fleet/peer-protocol.js';
import { registerCompromisedOwner, startNode, type FleetNode } from '../fleet-node.js';
import { until } from '../registry/contract.js';

const SECRET = 'a-fleet-secret-of-some-length';
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
    node = await startNode('entry', { registry, secret: SECRET });
    await registerCompromisedOwner(
      registry,
      `http://127.0.0.1:${(owner.address() as AddressInfo).port}`,
      SECRET,
      { id: 'profiles@1.2.0#owner.1', nodeId: 'owner' },
    );
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

describe('an answer from a remote owner larger than the gateway reads', () => {
  it('is a 500 PGW_ERR_RESPONSE_TOO_LARGE, read no further than 6 × maxResponseBytes', async () => {
    // Every answer the owner starts is endless, the refused channel upgrade's included: the sum of
    // what it could write before each connection was cut, once all are cut.
    let written = 0;
    let streaming = 0;
    let answers = 0;
    owner = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        answers++;
        streaming++;
        res.writeHead(200, { 'content-type': PEER_CONTENT_TYPE });
        res.write('{"response":{"statusCode":200,"body":{"json":"');
        const chunk = 'x'.repeat(64 * 1024);
        let mine = 0;
        const more = () => {
          while (mine < 256 * 1024 * 1024) {
            mine += chunk.length;
            written += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', more);
          }
          res.end('"}}}');
        };
        res.on('close', () => streaming--);
        more();
      });
    });
    await new Promise<void>((r) => owner!.listen(0, '127.0.0.1', r));
    const registry = new MemoryRegistry();
    node = await startNode('entry', {
      registry,
      secret: SECRET,
      maxResponseBytes: 1024 * 1024,
    });
    await registerCompromisedOwner(
      registry,
      `http://127.0.0.1:${(owner.address() as AddressInfo).port}`,
      SECRET,
      { id: 'profiles@1.2.0#owner.1', nodeId: 'owner' },
    );
    // Routed once a POST there is 405 rather than 404 (a GET would fetch the whole stream each time).
    await until(
      async () =>
        (await node!.gateway.handle({ method: 'POST', path: '/profiles/1' })).statusCode === 405,
      'the remote route',
    );
    const res = await node.gateway.handle({ method: 'GET', path: '/profiles/1' });
    expect((res.body as { error: { code: string } }).error.code).toBe('PGW_ERR_RESPONSE_TOO_LARGE');
    // Both answers (the channel refused, then the call as version 1) were cut long before 256 MiB.
    await until(
      async () => answers === 2 && streaming === 0,
      'the owner to see its connections closed',
    );
    expect(written).toBeLessThan(64 * 1024 * 1024);
  });
});
