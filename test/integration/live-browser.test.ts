/**
 * The browser's own WebSocket and EventSource, in headless Chromium, through the Fastify and Express
 * adapters: a page served by the host opens a WebSocket to a plugin and follows its Server-Sent Events.
 */
import express from 'express';
import Fastify from 'fastify';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import fastifyPluginGateway from '../../src/adapters/fastify.js';
import { attachUpgrades, pluginGateway } from '../../src/adapters/express.js';
import type { PluginGateway } from '../../src/index.js';
import { browserAvailable, launchBrowser } from '../browser.js';
import { gatewayWith } from '../helpers.js';

const run = browserAvailable();
let browser: Browser | undefined;
let gateway: PluginGateway | undefined;
let close: (() => Promise<unknown>) | undefined;
beforeAll(async () => {
  if (run) browser = await launchBrowser();
}, 60_000);
afterAll(() => browser?.close());
afterEach(async () => {
  await gateway?.stop();
  await close?.();
  gateway = close = undefined;
});

/** The host's page: a WebSocket to the plugin's echo, and an EventSource on its ticks. */
const PAGE = `<!doctype html><script>
window.result = {};
const ws = new WebSocket('ws://' + location.host + '/plugins/limited');
ws.onopen = () => ws.send('from the browser');
ws.onmessage = (e) => { window.result.ws = e.data; ws.close(); };
const ticks = [];
const es = new EventSource('/plugins/ticks');
es.addEventListener('tick', (e) => {
  ticks.push(e.lastEventId + ':' + e.data);
  if (ticks.length === 3) { window.result.sse = ticks; es.close(); }
});
</script>`;

async function pageResult(base: string): Promise<unknown> {
  const page = await browser!.newPage();
  try {
    await page.goto(`${base}/`);
    await page.waitForFunction(() => {
      const r = (globalThis as unknown as { result?: { ws?: string; sse?: string[] } }).result;
      return r?.ws !== undefined && r?.sse !== undefined;
    });
    return await page.evaluate(() => (globalThis as unknown as { result: unknown }).result);
  } finally {
    await page.close();
  }
}

const expected = { ws: 'from the browser', sse: ['1:{"n":1}', '2:{"n":2}', '3:{"n":3}'] };

describe.skipIf(!run)('the browser’s WebSocket and EventSource through the adapters', () => {
  it('Fastify', async () => {
    gateway = await gatewayWith(['live-room', 'live-stream']);
    const app = Fastify();
    app.get('/', (_req, reply) => reply.type('text/html').send(PAGE));
    await app.register(fastifyPluginGateway, { gateway, prefix: '/plugins' });
    await app.listen({ port: 0, host: '127.0.0.1' });
    close = () => app.close();
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    expect(await pageResult(base)).toEqual(expected);
  });

  it('Express', async () => {
    gateway = await gatewayWith(['live-room', 'live-stream']);
    const app = express();
    app.get('/', (_req, res) => void res.type('html').send(PAGE));
    app.use('/plugins', pluginGateway(gateway));
    const server = http.createServer(app);
    attachUpgrades(server, gateway, { prefix: '/plugins' });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    close = () => new Promise((r) => server.close(r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    expect(await pageResult(base)).toEqual(expected);
  });
});
