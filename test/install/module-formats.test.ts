import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installPacked, type InstalledProject } from './tarball.js';

/**
 * The packed package seen from both module formats (docs/decisions/0250): `require()` loads the ES
 * modules themselves, so both formats get the same objects, and one set of declarations types both a
 * CommonJS and an ES module TypeScript consumer, under node16 and bundler resolution, with the
 * package's own declarations checked too (no skipLibCheck).
 */
const tsc = path.resolve(import.meta.dirname, '../../node_modules/typescript/bin/tsc');

const subpaths = [
  '',
  '/sdk',
  '/node',
  '/fastify',
  '/express',
  '/testing',
  '/management',
  '/prometheus',
  '/registry/etcd',
  '/registry/consul',
];

// What a consumer writes: values and types from the main entry and the subpaths, and the adapters'
// default exports (a CommonJS module's `default` seen from an ES module is the whole module unless
// the declarations re-export it by name).
const CONSUMER = `import { PluginGateway, isGatewayError, type GatewayOptions } from '@veza/plugin-gateway';
import fastifyPluginGateway, { fastifyPluginGateway as namedFastify } from '@veza/plugin-gateway/fastify';
import pluginGateway from '@veza/plugin-gateway/express';
import { definePlugin, type PluginRequest } from '@veza/plugin-gateway/sdk';
import { createRequestListener } from '@veza/plugin-gateway/node';
import { createTestGateway } from '@veza/plugin-gateway/testing';

const options: GatewayOptions = { logger: false };
const gateway: PluginGateway = new PluginGateway(options);
const adapter: typeof namedFastify = fastifyPluginGateway;
const middleware: (g: PluginGateway) => unknown = (g) => pluginGateway(g);
const plugin = definePlugin({
  routes: { 'GET /a/{id}': (req: PluginRequest) => ({ statusCode: 200, body: req.params.id }) },
});
export const used = [gateway, adapter, middleware, plugin, createRequestListener, createTestGateway];
export const isCoded = (e: unknown): boolean => isGatewayError(e) && e.code.startsWith('PGW_ERR_');
`;

describe('a CommonJS and an ES module consumer of the packed package', () => {
  let project: InstalledProject;
  beforeAll(() => {
    project = installPacked({
      type: 'commonjs',
      peers: [
        'fastify',
        'fastify-plugin',
        'express',
        'prom-client',
        'etcd3',
        '@types/express',
        // An optional peer for TypeScript: the public `LiveUpgrade` type names `ws`'s `WebSocket`.
        '@types/ws',
        '@types/node',
      ],
    });
    writeFileSync(path.join(project.dir, 'consumer.cts'), CONSUMER);
    writeFileSync(path.join(project.dir, 'consumer.mts'), CONSUMER);
  }, 120_000);
  afterAll(() => project?.close(), 120_000);

  // tsc reads @types/node, fastify's and express's declarations: ~40 s of wall time on a loaded machine.
  const tscRun = (args: string[]) =>
    spawnSync(
      process.execPath,
      [tsc, '--strict', '--target', 'es2022', '--types', 'node', ...args],
      { cwd: project.dir, encoding: 'utf8', timeout: 170_000 },
    );

  it('typechecks both under moduleResolution node16; compiled, the default imports are the adapters', () => {
    // attw reads `module.exports = require('./fastify.js')` as having no default export; Node's
    // require() of an ES module with one marks it `__esModule`, so TypeScript's default import works.
    writeFileSync(
      path.join(project.dir, 'defaults.cts'),
      `import fastifyPluginGateway, { fastifyPluginGateway as f } from '@veza/plugin-gateway/fastify';
import pluginGateway, { pluginGateway as e } from '@veza/plugin-gateway/express';
console.log(JSON.stringify([typeof fastifyPluginGateway, fastifyPluginGateway === f, pluginGateway === e]));
`,
    );
    const run = tscRun([
      '--module',
      'node16',
      '--outDir',
      'out',
      'consumer.cts',
      'consumer.mts',
      'defaults.cts',
    ]);
    expect(run.stdout).toBe('');
    expect(run.status).toBe(0);
    const compiled = project.node(['out/defaults.cjs']);
    expect(compiled.stderr).toBe('');
    expect(JSON.parse(compiled.stdout)).toEqual(['function', true, true]);
  }, 180_000);

  it('typechecks an ES module consumer under moduleResolution bundler', () => {
    const run = tscRun([
      '--noEmit',
      '--module',
      'esnext',
      '--moduleResolution',
      'bundler',
      'consumer.mts',
    ]);
    expect(run.stdout).toBe('');
    expect(run.status).toBe(0);
  }, 180_000);

  it('refuses a misuse under both formats (the types are not `any`)', () => {
    writeFileSync(
      path.join(project.dir, 'wrong.cts'),
      `import { PluginGateway } from '@veza/plugin-gateway';\nnew PluginGateway({ logger: 5 });\n`,
    );
    writeFileSync(
      path.join(project.dir, 'wrong.mts'),
      `import fastifyPluginGateway from '@veza/plugin-gateway/fastify';\nfastifyPluginGateway.nope;\n`,
    );
    const run = tscRun(['--noEmit', '--module', 'node16', 'wrong.cts', 'wrong.mts']);
    expect(run.stdout).toMatch(/wrong\.cts\(2,\d+\): error TS2322/);
    expect(run.stdout).toMatch(/wrong\.mts\(2,\d+\): error TS2339/);
  }, 180_000);

  it('gives require() and import the same module: one core, loaded once, no warning', () => {
    writeFileSync(
      path.join(project.dir, 'both.cjs'),
      `const subpaths = ${JSON.stringify(subpaths)};
(async () => {
  const out = {};
  for (const s of subpaths) {
    const required = require('@veza/plugin-gateway' + s);
    const imported = await import('@veza/plugin-gateway' + s);
    const names = Object.keys(imported).filter((k) => k !== 'default');
    out[s || '.'] = {
      names: names.length,
      same: names.every((k) => required[k] === imported[k]) && required.default === imported.default,
    };
  }
  const { fastifyPluginGateway, default: byDefault } = require('@veza/plugin-gateway/fastify');
  out.fastifyDefault = byDefault === fastifyPluginGateway;
  const cores = Object.keys(require.cache).filter((f) => f.includes('plugin-gateway/dist/'));
  out.cjsInCache = cores.filter((f) => f.endsWith('.cjs')).length;
  console.log(JSON.stringify(out));
})();
`,
    );
    const run = project.node(['both.cjs']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const out = JSON.parse(run.stdout) as Record<string, { names: number; same: boolean }> & {
      fastifyDefault: boolean;
      cjsInCache: number;
    };
    for (const s of subpaths) {
      expect(out[s || '.']!.same, s).toBe(true);
      expect(out[s || '.']!.names, s).toBeGreaterThan(0);
    }
    expect(out.fastifyDefault).toBe(true);
    expect(out.cjsInCache).toBe(subpaths.length);
  });

  it('says what to do where Node cannot require() an ES module (Node 21, 22.0–22.11, or the flag off)', () => {
    writeFileSync(path.join(project.dir, 'old.cjs'), `require('@veza/plugin-gateway');\n`);
    const run = project.node(['--no-experimental-require-module', 'old.cjs']);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(
      `@veza/plugin-gateway is ES modules, and this Node (${process.version}) cannot require() one: use import(), Node 20.19+ or 22.12+, or --experimental-require-module`,
    );
  });
});
