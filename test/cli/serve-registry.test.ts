import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../helpers.js';
import { freePort } from '../services/common.js';
import { EtcdServer } from '../services/etcd.js';

const root = path.resolve(import.meta.dirname, '../..');
const cli = path.join(root, 'dist/cli.js');
const env = { ...process.env, NO_COLOR: '1', NODE_OPTIONS: '' };

/**
 * `veza gateway serve` as a member of an environment: a real etcd, a gateway.yaml naming it, and a plugin
 * deployed with `veza plugin deploy` reaching the standalone gateway.
 */
describe('veza gateway serve with a registry and a watched environment', () => {
  let etcd: EtcdServer;
  let child: ChildProcess | undefined;
  // Inside the checkout: unpacked plugins import @veza/plugin-gateway/sdk from it.
  const dir = path.resolve(import.meta.dirname, `../.serve-registry-${process.pid}`);
  beforeAll(async () => {
    etcd = await EtcdServer.start();
  }, 60_000);
  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await etcd?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('registers in the environment, serves what is deployed to it, and deploy sees it active', async () => {
    mkdirSync(path.join(dir, 'plugins'), { recursive: true });
    cpSync(fixture('steady'), path.join(dir, 'plugins', 'steady'), { recursive: true });
    const port = await freePort();
    const config = path.join(dir, 'gateway.yaml');
    writeFileSync(
      config,
      [
        `listen: { port: ${port} }`,
        'plugins: ./plugins',
        `registry: { url: "etcd://127.0.0.1:${etcd.port}", env: staging, namespace: serve }`,
        'gateway:',
        `  watch: { env: staging, cacheDir: ${JSON.stringify(path.join(dir, 'cache'))}, trusted: true }`,
        '',
      ].join('\n'),
    );
    child = spawn(process.execPath, [cli, 'gateway', 'serve', '--config', config], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    await new Promise<void>((resolve, reject) => {
      child!.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
        err += chunk;
        if (/serving 1 plugin/.test(err)) resolve();
      });
      child!.once('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
    });
    const deployed = await new Promise<{ code: number; stdout: string; stderr: string }>(
      (resolve) =>
        execFile(
          process.execPath,
          [
            cli,
            'plugin',
            'deploy',
            fixture('profiles'),
            '--env',
            'staging',
            '--registry',
            `etcd://127.0.0.1:${etcd.port}`,
            '--namespace',
            'serve',
            '--timeout',
            '60s',
            '--json',
          ],
          { cwd: root, env, timeout: 120_000 },
          (error, stdout, stderr) =>
            resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        ),
    );
    expect(deployed.code, `${deployed.stdout}\n${deployed.stderr}\n${err}`).toBe(0);
    expect(JSON.parse(deployed.stdout)).toMatchObject({ name: 'profiles', healthy: true });
    const res = await fetch(`http://127.0.0.1:${port}/profiles/7`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: '7' });
    child.kill('SIGTERM');
    expect(await new Promise((resolve) => child!.once('exit', resolve))).toBe(0);
  }, 120_000);

  it('names a registry url it cannot use at its gateway.yaml line', async () => {
    mkdirSync(dir, { recursive: true });
    const config = path.join(dir, 'bad.yaml');
    writeFileSync(config, 'registry:\n  url: redis://127.0.0.1:1\n  colour: blue\n');
    const run = await new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile(
        process.execPath,
        [cli, 'gateway', 'serve', '--config', config],
        { cwd: root, env },
        (error, _stdout, stderr) =>
          resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stderr }),
      ),
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`${config}:2:8 registry.url: expected registry.url as etcd://`);
    expect(run.stderr).toContain(`${config}:3:11 registry.colour: unknown key`);
  });
});
