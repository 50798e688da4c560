/**
 * With every awake place held (`maxAwake`) by an open WebSocket, an upgrade to a sleeping plugin used to
 * wait for its wake without a deadline, holding its socket for as long as the first connection stayed
 * open. It is answered like a request now: 503 `starting` with retry-after at the endpoint's timeout.
 */
import type http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { PluginGateway } from '../../src/index.js';
import { closeServer, gatewayWith } from '../helpers.js';
import { connect, liveServer } from '../live-clients.js';

let gateway: PluginGateway | undefined;
let server: http.Server | undefined;
afterEach(async () => {
  await gateway?.stop();
  await closeServer(server);
  gateway = server = undefined;
});

describe('an upgrade to a lazy plugin that cannot wake', () => {
  it('is refused 503 with retry-after at its timeout while every awake place is held open', async () => {
    gateway = await gatewayWith(['live-room', 'live-other'], {
      warm: false,
      maxAwake: 1,
      pluginTimeout: '1s',
    });
    const live = await liveServer(gateway);
    server = live.server;
    // One idle WebSocket on one lazy plugin fills the only awake place.
    const holder = await connect(`${live.url}/rooms/hold`, {
      headers: { origin: 'https://app.example' },
    });
    try {
      const decision = await gateway.upgrade({
        method: 'GET',
        path: '/other/x',
        headers: { upgrade: 'websocket', connection: 'Upgrade' },
      });
      expect(decision.kind).toBe('refused');
      const response = (decision as { response: { statusCode: number; headers?: object } })
        .response;
      expect(response).toMatchObject({ statusCode: 503, headers: { 'retry-after': '1' } });
    } finally {
      holder.ws.terminate();
    }
  }, 20_000);
});
