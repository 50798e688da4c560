// A fleet without `node.secret` (`insecure: 'private-network'`) behind `trustProxy`: the forwarded
// WebSocket route must judge "private network" by the socket's own address, never by the
// `x-forwarded-for` a stranger writes. The stranger connects from this machine's non-private address.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { BlockList, isIPv4 } from 'node:net';
import { networkInterfaces } from 'node:os';
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { createRequestListener, createUpgradeListener } from '../../src/adapters/node.js';
import { PluginGateway } from '../../src/index.js';
import { PEER_CALL_HEADER, PEER_SOCKET_PATH, peerHeaders } from '../../src/fleet/peer-protocol.js';
import { closeServer, fixture } from '../helpers.js';

const PRIVATE = new BlockList();
for (const [net, bits] of [
  ['127.0.0.0', 8],
  ['10.0.0.0', 8],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['169.254.0.0', 16],
] as const) {
  PRIVATE.addSubnet(net, bits, 'ipv4');
}

/** An address of this machine outside the private ranges, to connect from as a stranger would. */
const publicAddress = Object.values(networkInterfaces())
  .flat()
  .find((a) => a && isIPv4(a.address) && !a.internal && !PRIVATE.check(a.address, 'ipv4'))?.address;
if (publicAddress === undefined) {
  console.log('skipped: no non-private IPv4 address on this machine to connect from');
}

let gateway: PluginGateway | undefined;
let server: http.Server | undefined;
afterEach(async () => {
  await gateway?.stop();
  await closeServer(server);
  gateway = server = undefined;
});

describe.runIf(publicAddress)('forwarded WebSockets without a secret, behind trustProxy', () => {
  it('refuses 401 a stranger whose x-forwarded-for claims a private address', async () => {
    const host = publicAddress!;
    server = http.createServer();
    await new Promise<void>((r) => server!.listen(0, host, r));
    const port = (server.address() as AddressInfo).port;
    gateway = new PluginGateway({
      logger: false,
      node: { id: 'gw-owner', address: `http://${host}:${port}`, insecure: 'private-network' },
    });
    server.on('request', createRequestListener(gateway, { trustProxy: 1 }));
    server.on('upgrade', createUpgradeListener(gateway, { trustProxy: 1 }));
    await gateway.load(fixture('live-room'));
    await gateway.start();

    const envelope = JSON.stringify({
      service: 'live-room',
      version: '1.0.0',
      instance: 'x',
      key: 'GET /rooms/{room}',
      timeoutMs: 5000,
      request: { id: 'r-1', method: 'GET', path: '/rooms/a', headers: {}, userId: 'admin' },
    });
    const headers = peerHeaders('gw-x', 'gw-owner', envelope, undefined);
    delete headers['content-type'];
    headers[PEER_CALL_HEADER] = Buffer.from(envelope).toString('base64url');
    headers['x-forwarded-for'] = '10.0.0.7';
    const ws = new WebSocket(`ws://${host}:${port}${PEER_SOCKET_PATH}`, {
      headers,
      localAddress: host,
    });
    const outcome = await new Promise<number | 'open'>((resolve) => {
      ws.once('open', () => resolve('open'));
      ws.once('unexpected-response', (_req, res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      ws.once('error', () => resolve(0));
    });
    if (outcome === 'open') ws.terminate();
    expect(outcome).toBe(401);
    expect(gateway.metrics('live-room').active_connections).toBe(0);
  });
});
