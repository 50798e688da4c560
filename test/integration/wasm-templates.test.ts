import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PluginGateway } from '../../src/index.js';
import { memoryLogger } from '../helpers.js';
import { build, templates, toolchainPresent } from '../wasm/templates.js';
import { until } from '../registry/contract.js';

const root = path.resolve(import.meta.dirname, '../..');
const cli = path.join(root, 'dist/cli.js');

describe.each(templates)('the $lang wasm template', (t) => {
  const present = toolchainPresent(t);
  const log = memoryLogger();
  let gateway: PluginGateway;

  beforeAll(async () => {
    if (!present) return;
    build(t);
    gateway = new PluginGateway({ logger: log });
    await gateway.load(t.dir);
    await gateway.start();
  }, 600_000);
  afterAll(() => gateway?.stop());

  it.skipIf(!present)('builds and echoes the request it was given', async () => {
    const res = await gateway.handle({
      method: 'POST',
      path: '/echo',
      headers: { 'content-type': 'application/json' },
      body: { hello: 'wasm', n: [1, 2] },
    });
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatchObject({
      key: 'POST /echo',
      request: { method: 'POST', path: '/echo', body: { hello: 'wasm', n: [1, 2] } },
    });
  });

  it.skipIf(!present)(
    'passes its own test (plugin.test.mjs) under veza plugin test',
    () => {
      // As `veza plugin create` leaves it: the folder in a project that has the package installed.
      const project = mkdtempSync(path.join(os.tmpdir(), 'pgw-template-'));
      mkdirSync(path.join(project, 'node_modules/@veza'), { recursive: true });
      symlinkSync(root, path.join(project, 'node_modules/@veza/plugin-gateway'));
      const dir = path.join(project, `${t.lang}-plugin`);
      const env = { ...process.env, ...t.env(), NO_COLOR: '1' };
      if (t.created) {
        // Go and Rust: made by veza plugin create, built by veza plugin test (validate builds).
        const made = spawnSync(
          process.execPath,
          [cli, 'plugin', 'create', `${t.lang}-plugin`, '--runtime', 'wasm', '--lang', t.lang],
          { cwd: project, encoding: 'utf8', env },
        );
        expect(made.status, made.stdout + made.stderr).toBe(0);
        expect(existsSync(path.join(dir, 'plugin.wasm'))).toBe(false);
        expect(existsSync(path.join(dir, 'pgw'))).toBe(true);
      } else {
        cpSync(t.dir, dir, { recursive: true });
      }
      const run = spawnSync(process.execPath, [cli, 'plugin', 'test', dir, '--json'], {
        encoding: 'utf8',
        timeout: 600_000,
        env,
      });
      expect(run.status, run.stdout + run.stderr).toBe(0);
      const report = JSON.parse(run.stdout) as { ok: boolean; tests?: unknown };
      expect(report.ok).toBe(true);
      expect(JSON.stringify(report)).toContain('plugin.test.mjs');
      if (t.created) {
        expect(readFileSync(path.join(dir, 'plugin.yaml'), 'utf8')).toMatch(
          new RegExp(`^name: ${t.lang}-plugin$`, 'm'),
        );
      }
      rmSync(project, { recursive: true, force: true });
    },
    600_000,
  );

  it.skipIf(!present)('counts hits in the key/value store and logs each', async () => {
    const hit = () => gateway.handle({ method: 'GET', path: '/hits', headers: {} });
    expect((await hit()).body).toEqual({ hits: 1 });
    expect((await hit()).body).toEqual({ hits: 2 });
    // The log line travels on the thread's own port, the answer on the task's: either may come first.
    await until(() => log.lines.some((l) => l.msg === 'hit 2' && l.level === 'info'), 'hit 2');
  });
});
