/**
 * A fleet member mounted in a Fastify or an Express app serves the fleet's peer routes under its mount
 * path: a second gateway (the `./node` listener) forwards a whole request, a Server-Sent Events stream
 * and a WebSocket to it, while the host's own route and upgrade handler keep working.
 */
import express from 'express';
import Fastify from 'fastify';
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import fastifyPluginGateway from '../../src/adapters/fastify.js';
import { attachUpgrades, pluginGateway } from '../../src/adapters/express.js';
import { createUpgradeListener } from '../../src/adapters/node.js';
import { MemoryRegistry, PluginGateway } from '../../src/index.js';
import { startNode, type FleetNode } from '../fleet-node.js';
import { fixture } from '../helpers.js';
import { connect } from '../live-clients.js';
import { until } from '../registry/contract.js';
import { freePort } from '../services/common.js';

const SECRET = 'fleet-adapters-secret-0123456789';
const ORIGIN = { origin: 'https://app.example' };
let cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

/** The host's own WebSocket server on `/host-ws`: answers `host:` + each message. */
function hostUpgrades(server: http.Server): void {
  const wss = new WebSocketServer({ noServer: true });
  wss.on('connection', (ws) => ws.on('message', (m) => ws.send(`host:${m}`)));
  server.on('upgrade', (req, socket, head) => {
    if (req.url !== '/host-ws') return;
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });
}

/** The owner's gateway, whose address is `base` + `/gw` (where the framework mounts it). */
async function ownerGateway(registry: MemoryRegistry, port: number): Promise<PluginGateway> {
  const gateway = new PluginGateway({
    logger: false,
    registry,
    node: { id: 'gw-owner', address: `http://127.0.0.1:${port}/gw`, secret: SECRET },
  });
  await gateway.start();
  for (const name of ['profiles', 'live-stream', 'live-room']) await gateway.load(fixture(name));
  cleanup.push(() => gateway.stop());
  return gateway;
}

async function caller(registry: MemoryRegistry): Promise<FleetNode> {
  const node = await startNode('gw-caller', { registry, secret: SECRET });
  node.server.on('upgrade', createUpgradeListener(node.gateway));
  cleanup.push(() => node.close());
  await until(async () => {
    try {
      return ['profiles', 'live-stream', 'live-room'].every(
        (p) => node.gateway.metrics(p).instances?.length === 1,
      );
    } catch {
      return false;
    }
  }, 'the caller to see the owner’s plugins');
  return node;
}

/** Everything forwarded through `c` reaches the owner; the host's own route and upgrades still work. */
async function forwardsAll(c: FleetNode, owner: PluginGateway, port: number): Promise<void> {
  const whole = await fetch(`${c.address}/profiles/7`);
  expect(whole.status).toBe(200);
  expect(await whole.json()).toMatchObject({ id: '7' });

  const sse = await fetch(`${c.address}/ticks`, { headers: { 'last-event-id': '5' } });
  expect(sse.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
  expect(await sse.text()).toContain('id: 8\nevent: tick\ndata: {"n":8}');

  const url = c.address.replace('http://', '');
  const ws = await connect(`${url}/rooms/f1`, { headers: ORIGIN });
  expect(JSON.parse(await ws.next())).toEqual({ joined: 'f1', user: null });
  await expect.poll(() => owner.metrics('live-room').active_connections).toBe(1);
  ws.ws.send('echo:through');
  expect(await ws.next()).toBe('echo:through');
  ws.ws.close();
  await ws.closed;
  // Served by the owner, not answered by the caller alone.
  expect(owner.metrics('profiles').request_count).toBeGreaterThanOrEqual(1);
  expect(owner.metrics('live-stream').request_count).toBeGreaterThanOrEqual(1);

  expect(await (await fetch(`http://127.0.0.1:${port}/health`)).text()).toBe('ok');
  const host = await connect(`127.0.0.1:${port}/host-ws`);
  host.ws.send('y');
  expect(await host.next()).toBe('host:y');
  host.ws.close();
  await host.closed;
}

describe('the fleet’s peer routes through the framework adapters', () => {
  it('Fastify: a gateway registered under a prefix serves calls, streams and WebSockets', async () => {
    const registry = new MemoryRegistry();
    const port = await freePort();
    const owner = await ownerGateway(registry, port);
    const app = Fastify();
    hostUpgrades(app.server);
    app.get('/health', async () => 'ok');
    await app.register(fastifyPluginGateway, { gateway: owner, prefix: '/gw', stopOnClose: false });
    await app.listen({ port, host: '127.0.0.1' });
    cleanup.push(() => app.close());
    await forwardsAll(await caller(registry), owner, port);
  });

  it('Express: a gateway mounted with app.use() serves calls, streams and WebSockets', async () => {
    const registry = new MemoryRegistry();
    const port = await freePort();
    const owner = await ownerGateway(registry, port);
    const app = express();
    app.use(express.json());
    app.use('/gw', pluginGateway(owner));
    app.get('/health', (_req, res) => {
      res.send('ok');
    });
    const server = http.createServer(app);
    hostUpgrades(server);
    attachUpgrades(server, owner, { prefix: '/gw' });
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    cleanup.push(async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    });
    await forwardsAll(await caller(registry), owner, port);
  });
});
