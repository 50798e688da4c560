/**
 * WebSocket upgrades through the Fastify and Express adapters, on the host's own server, beside a
 * WebSocket server of the host's that keeps the paths no plugin serves.
 */
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import fastifyPluginGateway from '../../src/adapters/fastify.js';
import { attachUpgrades, pluginGateway } from '../../src/adapters/express.js';
import { createUpgradeListener } from '../../src/adapters/node.js';
import type { PluginGateway } from '../../src/index.js';
import { gatewayWith } from '../helpers.js';
import { connect, refusal } from '../live-clients.js';

let gateway: PluginGateway | undefined;
let close: (() => Promise<unknown>) | undefined;
afterEach(async () => {
  await gateway?.stop();
  await close?.();
  gateway = close = undefined;
});

const ORIGIN = { origin: 'https://app.example' };

/** The host's own WebSocket server: answers `host:` + each message, on upgrades it is handed. */
function hostUpgrades(server: http.Server): void {
  const wss = new WebSocketServer({ noServer: true });
  wss.on('connection', (ws) => ws.on('message', (m) => ws.send(`host:${m}`)));
  server.on('upgrade', (req, socket, head) => {
    if (req.url !== '/host-ws') return socket.destroy();
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });
}

async function bothWork(base: string, prefix: string): Promise<void> {
  const plugin = await connect(`${base}${prefix}/rooms/a`, { headers: ORIGIN });
  expect(JSON.parse(await plugin.next())).toMatchObject({ joined: 'a' });
  plugin.ws.send('echo:x');
  expect(await plugin.next()).toBe('echo:x');
  const host = await connect(`${base}/host-ws`);
  host.ws.send('y');
  expect(await host.next()).toBe('host:y');
  host.ws.close();
  plugin.ws.close();
  await Promise.all([host.closed, plugin.closed]);
}

describe('WebSocket upgrades through the framework adapters', () => {
  it('Fastify: the plugin’s endpoints under the prefix, the host’s own upgrades kept', async () => {
    gateway = await gatewayWith(['live-room']);
    const app: FastifyInstance = Fastify();
    hostUpgrades(app.server);
    await app.register(fastifyPluginGateway, { gateway, prefix: '/plugins' });
    await app.listen({ port: 0, host: '127.0.0.1' });
    close = () => app.close();
    const base = `127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    await bothWork(base, '/plugins');
    const plain = await fetch(`http://${base}/plugins/rooms/a`);
    expect(plain.status).toBe(426);
  });

  it('Express: attachUpgrades on the server app.listen() made; 404 for what nobody serves', async () => {
    gateway = await gatewayWith(['live-room']);
    const app = express();
    app.use('/plugins', pluginGateway(gateway));
    const server = http.createServer(app);
    hostUpgrades(server);
    attachUpgrades(server, gateway, { prefix: '/plugins' });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    close = () => new Promise((r) => server.close(r));
    const base = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    await bothWork(base, '/plugins');

    const bare = http.createServer(app);
    attachUpgrades(bare, gateway, { prefix: '/plugins' });
    await new Promise<void>((r) => bare.listen(0, '127.0.0.1', r));
    const bareBase = `127.0.0.1:${(bare.address() as AddressInfo).port}`;
    expect((await refusal(`${bareBase}/plugins/nothing`)).status).toBe(404);
    await new Promise((r) => bare.close(r));
  });
});

describe('what an open WebSocket keeps on the host', () => {
  it('lets its upgrade request go once the connection is accepted', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    gateway = await gatewayWith(['live-room']);
    const server = http.createServer();
    const upgrades = createUpgradeListener(gateway);
    const requests: WeakRef<object>[] = [];
    server.on('upgrade', (req, socket, head) => {
      requests.push(new WeakRef(req));
      upgrades(req, socket, head);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    close = () => new Promise((r) => server.close(r));
    const base = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    const client = await connect(`${base}/rooms/a`, { headers: ORIGIN });
    expect(JSON.parse(await client.next())).toMatchObject({ joined: 'a' });
    // Held, a request costs the host its headers and parser state for the connection's whole life.
    for (let i = 0; i < 5 && requests[0]!.deref() !== undefined; i++) {
      await new Promise((r) => setTimeout(r, 50));
      gc();
    }
    expect(requests[0]!.deref()).toBeUndefined();
    client.ws.send('echo:still open');
    expect(await client.next()).toBe('echo:still open');
    client.ws.close();
    await client.closed;
  });
});
