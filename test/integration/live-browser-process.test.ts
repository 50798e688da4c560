/**
 * The browser's own WebSocket, in headless Chromium, to a `process` plugin (its Node harness in
 * bubblewrap) through the Fastify and Express adapters: messages both ways, a topic broadcast from
 * another client, and the 1001 the browser sees when the gateway stops.
 */
import express from 'express';
import Fastify from 'fastify';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import fastifyPluginGateway from '../../src/adapters/fastify.js';
import { attachUpgrades, pluginGateway } from '../../src/adapters/express.js';
import { PluginGateway } from '../../src/index.js';
import { browserAvailable, launchBrowser } from '../browser.js';
import { connect } from '../live-clients.js';
import { haveBwrap, removeProcessPlugins, roomPlugin } from '../process-live-plugins.js';

const run = browserAvailable() && haveBwrap();
let browser: Browser | undefined;
let gateway: PluginGateway | undefined;
let close: (() => Promise<unknown>) | undefined;
beforeAll(async () => {
  if (run) browser = await launchBrowser();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  removeProcessPlugins();
});
afterEach(async () => {
  await gateway?.stop();
  await close?.();
  gateway = close = undefined;
});

/** The host's page: a WebSocket to the plugin's room `lobby`, every message and the close kept. */
const PAGE = `<!doctype html><script>
window.result = { messages: [], close: undefined };
const ws = new WebSocket('ws://' + location.host + '/plugins/room/lobby');
ws.onmessage = (e) => {
  window.result.messages.push(e.data);
  if (window.result.messages.length === 1) ws.send('echo:from the browser');
};
ws.onclose = (e) => { window.result.close = e.code; };
</script>`;

interface PageResult {
  messages: string[];
  close: number | undefined;
}
const resultOf = (page: Page) =>
  page.evaluate(() => (globalThis as unknown as { result: PageResult }).result);
const until = (page: Page, test: string) =>
  page.waitForFunction(`(() => { const r = window.result; return ${test}; })()`);

async function processGateway(): Promise<PluginGateway> {
  const g = new PluginGateway({ logger: false, warm: true });
  await g.load(roomPlugin());
  await g.start();
  expect(g.get('procroom')!.runtime).toBe('process');
  return g;
}

/** Drives the page served at `base` through the exchange; the gateway stopping ends it. */
async function exchange(base: string, g: PluginGateway): Promise<void> {
  const page = await browser!.newPage();
  try {
    await page.goto(`${base}/`);
    await until(page, "r.messages.includes('1.0.0:from the browser')");
    const joined = JSON.parse((await resultOf(page)).messages[0]!) as { joined: string };
    expect(joined.joined).toBe('lobby');
    // Another client of the room publishes: the browser gets it, the sender does not.
    const other = await connect(`${new URL(base).host}/plugins/room/lobby`);
    expect(JSON.parse(await other.next())).toMatchObject({ joined: 'lobby' });
    other.ws.send('from another client');
    await until(page, "r.messages.includes('from another client')");
    expect(g.metrics('procroom').active_connections).toBe(2);
    // The gateway stopping closes both 1001 (going away), the browser's too.
    await g.stop();
    await until(page, 'r.close !== undefined');
    expect((await resultOf(page)).close).toBe(1001);
    expect((await other.closed).code).toBe(1001);
    expect(other.messages).toHaveLength(1);
  } finally {
    await page.close();
  }
}

describe.skipIf(!run)('the browser’s WebSocket to a process plugin through the adapters', () => {
  it('Fastify', async () => {
    gateway = await processGateway();
    const app = Fastify();
    app.get('/', (_req, reply) => reply.type('text/html').send(PAGE));
    await app.register(fastifyPluginGateway, { gateway, prefix: '/plugins' });
    await app.listen({ port: 0, host: '127.0.0.1' });
    close = () => app.close();
    await exchange(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, gateway);
  });

  it('Express', async () => {
    gateway = await processGateway();
    const app = express();
    app.get('/', (_req, res) => void res.type('html').send(PAGE));
    app.use('/plugins', pluginGateway(gateway));
    const server = http.createServer(app);
    attachUpgrades(server, gateway, { prefix: '/plugins' });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    close = () => new Promise((r) => server.close(r));
    await exchange(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, gateway);
  });
});
