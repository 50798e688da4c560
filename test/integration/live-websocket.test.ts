import type http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { PluginGateway } from '../../src/index.js';
import { closeServer, gatewayWith, memoryLogger, statusOf } from '../helpers.js';
import { connect, liveServer, refusal } from '../live-clients.js';

let gateway: PluginGateway | undefined;
let server: http.Server | undefined;
afterEach(async () => {
  // The gateway first: it closes the connections, which an HTTP server's close() does not.
  await gateway?.stop();
  await closeServer(server);
  gateway = server = undefined;
});

const ORIGIN = { origin: 'https://app.example' };

describe('WebSockets through the worker runtime and the node:http adapter', () => {
  it('opens a connection, echoes, and publishes to the room’s other clients only', async () => {
    const log = memoryLogger();
    gateway = await gatewayWith(['live-room'], { logger: log });
    const live = await liveServer(gateway);
    server = live.server;
    const a = await connect(`${live.url}/rooms/blue`, { headers: ORIGIN });
    const b = await connect(`${live.url}/rooms/blue`, { headers: ORIGIN });
    const c = await connect(`${live.url}/rooms/green`, { headers: ORIGIN });
    expect(JSON.parse(await a.next())).toEqual({ joined: 'blue', user: null });
    await b.next();
    await c.next();
    a.ws.send('echo:hi');
    expect(await a.next()).toBe('echo:hi');
    a.ws.send('{"edit":1}');
    expect(await b.next()).toBe('{"edit":1}');
    c.ws.send('to green');
    a.ws.send('echo:after');
    expect(await a.next()).toBe('echo:after');
    expect(a.messages).not.toContain('to green');
    expect(b.messages).not.toContain('to green');
    expect(gateway.metrics('live-room').active_connections).toBe(3);
    a.ws.send('bye');
    expect(await a.closed).toEqual({ code: 4000, reason: 'bye' });
    b.ws.close(1000);
    c.ws.close(1000);
    await Promise.all([b.closed, c.closed]);
    await expect.poll(() => gateway!.metrics('live-room').active_connections).toBe(0);
    const opens = log.lines.filter((l) => l.msg === 'websocket open');
    const closes = log.lines.filter((l) => l.msg?.startsWith('websocket closed'));
    expect(opens).toHaveLength(3);
    expect(closes.map((l) => l.code).sort()).toEqual([1000, 1000, 4000]);
  });

  it('answers a plain GET to a WebSocket endpoint 426, and an unknown path 404 or to the host', async () => {
    gateway = await gatewayWith(['live-room']);
    let handedOver = 0;
    const live = await liveServer(gateway, {
      onNotFound: (_req, socket) => {
        handedOver++;
        socket.end("HTTP/1.1 418 I'm a teapot\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
      },
    });
    server = live.server;
    const plain = await fetch(`http://${live.url}/rooms/x`);
    expect(plain.status).toBe(426);
    expect(await plain.json()).toMatchObject({ error: { code: 'PGW_ERR_UPGRADE_REQUIRED' } });
    expect((await refusal(`${live.url}/nowhere`)).status).toBe(418);
    expect(handedOver).toBe(1);
  });

  it('refuses 401/403 before a connection exists, and lets a member in', async () => {
    gateway = await gatewayWith(['live-room'], {
      authenticate: (req) =>
        req.headers?.authorization === 'Bearer member'
          ? { userId: 7, roles: ['member'] }
          : req.headers?.authorization === 'Bearer guest'
            ? { userId: 8, roles: [] }
            : null,
    });
    const live = await liveServer(gateway);
    server = live.server;
    const anonymous = await refusal(`${live.url}/private`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error?.code).toBe('PGW_ERR_UNAUTHORIZED');
    const guest = await refusal(`${live.url}/private`, {
      headers: { authorization: 'Bearer guest' },
    });
    expect(guest.status).toBe(403);
    expect(gateway.metrics('live-room').active_connections).toBe(0);
    const member = await connect(`${live.url}/private`, {
      headers: { authorization: 'Bearer member' },
    });
    expect(await member.next()).toBe('hello 7');
    member.ws.close();
    await member.closed;
  });

  it('closes 1011 when the live thread crashes, and the plugin restarts and serves again', async () => {
    gateway = await gatewayWith(['live-room'], { restart: { backoff: '10ms' } });
    const live = await liveServer(gateway);
    server = live.server;
    const a = await connect(`${live.url}/rooms/r`, { headers: ORIGIN });
    await a.next();
    a.ws.send('crash');
    expect((await a.closed).code).toBe(1011);
    await statusOf(gateway, 'live-room', 'active');
    const again = await connect(`${live.url}/rooms/r`, { headers: ORIGIN });
    expect(JSON.parse(await again.next())).toMatchObject({ joined: 'r' });
    again.ws.close();
    await again.closed;
  });

  it('closes 1011 when a handler throws, and 1001 at unload', async () => {
    gateway = await gatewayWith(['live-room']);
    const live = await liveServer(gateway);
    server = live.server;
    const a = await connect(`${live.url}/rooms/r`, { headers: ORIGIN });
    const b = await connect(`${live.url}/rooms/r`, { headers: ORIGIN });
    await a.next();
    a.ws.send('throw');
    expect((await a.closed).code).toBe(1011);
    await gateway.unload('live-room');
    expect((await b.closed).code).toBe(1001);
  });
});
