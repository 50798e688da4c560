// The README's quick start and its Fastify and Express samples, as a reader copies them: the plugin's
// plugin.yaml and index.js are taken from the README's own code blocks, so the page and this test cannot
// drift apart, and what the README says comes back is what comes back.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import express from 'express';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { pluginGateway } from '../src/adapters/express.js';
import fastifyPluginGateway from '../src/adapters/fastify.js';
import { createRequestListener } from '../src/adapters/node.js';
import { PluginGateway } from '../src/index.js';
import { closeServer, memoryLogger } from './helpers.js';

const root = path.resolve(import.meta.dirname, '..');
const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
// Inside the repository, so that the plugin's `@veza/plugin-gateway/sdk` resolves to this package.
const folder = path.join(root, 'test', '.readme-quickstart', 'plugins', 'hello');

/** The README's fenced block of `lang` whose first line is `firstLine`. */
function block(lang: string, firstLine: string): string {
  for (const [, body] of readme.matchAll(
    new RegExp(`^\`\`\`${lang}\\n([\\s\\S]*?)^\`\`\``, 'gm'),
  )) {
    if (body!.startsWith(`${firstLine}\n`)) return body!;
  }
  throw new Error(`README.md has no \`\`\`${lang} block starting with "${firstLine}"`);
}

async function getJson(port: number, p: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`http://127.0.0.1:${port}${p}`);
  return { status: res.status, body: await res.json() };
}

describe('the README', () => {
  const logger = memoryLogger();
  let gateway: PluginGateway;

  beforeAll(async () => {
    rmSync(path.dirname(path.dirname(folder)), { recursive: true, force: true });
    mkdirSync(folder, { recursive: true });
    writeFileSync(path.join(folder, 'plugin.yaml'), block('yaml', '# plugins/hello/plugin.yaml'));
    writeFileSync(path.join(folder, 'index.js'), block('js', '// plugins/hello/index.js'));
    gateway = new PluginGateway({ pluginTimeout: '2s', logger });
    await gateway.load(folder);
    await gateway.start();
  }, 60_000);

  afterAll(async () => {
    await gateway?.stop();
    rmSync(path.dirname(path.dirname(folder)), { recursive: true, force: true });
  });

  it('quick start: handle() answers what the README says, the flag shouts, ctx.log reaches the logger', async () => {
    expect(readme).toContain("// → { statusCode: 200, body: { hello: 'ada', page: '2' } }");
    // The first request wakes the plugin and waits for its boot within its timeout (2 s here); on a
    // loaded machine the boot can take longer, and the answer is the README's 503 with retry-after.
    let res = await gateway.handle({ method: 'GET', path: '/hello/ada?page=2', headers: {} });
    for (let i = 0; i < 10 && res.statusCode === 503; i++) {
      expect(res.headers).toMatchObject({ 'retry-after': '1' });
      res = await gateway.handle({ method: 'GET', path: '/hello/ada?page=2', headers: {} });
    }
    expect(res).toMatchObject({ statusCode: 200, body: { hello: 'ada', page: '2' } });
    // A plugin's log lines travel from its thread beside the reply, not before it.
    await vi.waitFor(() =>
      expect(logger.lines).toContainEqual(
        expect.objectContaining({
          level: 'info',
          msg: 'greeting',
          plugin_id: 'hello',
          plugin_fields: { name: 'ada' },
        }),
      ),
    );

    await gateway.setFlag('hello', 'shout', true);
    const loud = await gateway.handle({ method: 'GET', path: '/hello/ada', headers: {} });
    expect(loud).toMatchObject({ statusCode: 200, body: { hello: 'ADA' } });
    await gateway.setFlag('hello', 'shout', false);
  });

  it('quick start: the node:http listener serves the plugin', async () => {
    const server = http.createServer(createRequestListener(gateway)).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      expect(await getJson(port, '/hello/ada')).toEqual({ status: 200, body: { hello: 'ada' } });
    } finally {
      await closeServer(server);
    }
  });

  it('Fastify sample: the plugin under /plugins, the host route beside it', async () => {
    const app = Fastify();
    app.get('/own', () => ({ own: true }));
    // app.close() stops the gateway by default; the samples after this one share it.
    await app.register(fastifyPluginGateway, { gateway, prefix: '/plugins', stopOnClose: false });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const { port } = app.server.address() as AddressInfo;
      expect(await getJson(port, '/plugins/hello/ada')).toEqual({
        status: 200,
        body: { hello: 'ada' },
      });
      expect(await getJson(port, '/own')).toEqual({ status: 200, body: { own: true } });
    } finally {
      await app.close();
    }
  });

  it('Express sample: the plugin under /plugins, a path no plugin serves falls through', async () => {
    const app = express();
    app.use('/plugins', pluginGateway(gateway));
    app.get('/plugins/own', (_req, res) => void res.json({ own: true }));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      expect(await getJson(port, '/plugins/hello/ada')).toEqual({
        status: 200,
        body: { hello: 'ada' },
      });
      expect(await getJson(port, '/plugins/own')).toEqual({ status: 200, body: { own: true } });
    } finally {
      await closeServer(server);
    }
  });

  it('a plugin that cannot start: failed with its reason at start(), thrown by a load() after it', async () => {
    const broken = path.join(path.dirname(folder), 'broken');
    mkdirSync(broken, { recursive: true });
    writeFileSync(
      path.join(broken, 'plugin.yaml'),
      'name: broken\nversion: 1.0.0\nendpoints:\n  - path: /broken\n    method: GET\n',
    );
    writeFileSync(
      path.join(broken, 'index.js'),
      "import { definePlugin } from '@veza/plugin-gateway/sdk';\n" +
        "export default definePlugin({ initialize() { throw new Error('no database'); }, routes: { 'GET /broken': () => ({ statusCode: 200 }) } });\n",
    );
    const early = new PluginGateway({ logger: false, warm: true });
    try {
      await early.load(broken);
      await early.start(); // resolves
      expect(early.get('broken')).toMatchObject({ status: 'failed' });
      expect(early.get('broken')?.reason).toContain('no database');
      const res = await early.handle({ method: 'GET', path: '/broken', headers: {} });
      expect(res.statusCode).toBe(503);
    } finally {
      await early.stop();
    }
    await expect(gateway.load(broken, { warm: true })).rejects.toThrow(/no database/);
    expect(gateway.get('broken')).toBeUndefined();
    // Lazy (the default), its code is sound: it fails at its first request, which answers 503.
    const lazy = new PluginGateway({ logger: false });
    try {
      await lazy.load(broken);
      await lazy.start();
      const first = await lazy.handle({ method: 'GET', path: '/broken', headers: {} });
      expect(first.statusCode).toBe(503);
      expect(lazy.get('broken')).toMatchObject({ status: 'failed' });
      expect(lazy.get('broken')?.reason).toContain('no database');
    } finally {
      await lazy.stop();
    }
  });
});
