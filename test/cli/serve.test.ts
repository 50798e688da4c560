import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fixture } from '../helpers.js';
import { freePort } from '../services/common.js';

const root = path.resolve(import.meta.dirname, '../..');
const cli = path.join(root, 'dist/cli.js');
const children: ChildProcess[] = [];

/** Starts `veza ...args`; resolves once stderr says `ready`. */
function start(args: string[], ready: RegExp): Promise<{ child: ChildProcess; err: () => string }> {
  const child = spawn(process.execPath, [cli, ...args], {
    cwd: root,
    env: { ...process.env, NO_COLOR: '1', NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let err = '';
  return new Promise((resolve, reject) => {
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      err += chunk;
      if (ready.test(err)) resolve({ child, err: () => err });
    });
    child.on('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
  });
}

/** Runs `veza gateway serve --config config` to its exit: the code and what it wrote to stderr. */
async function serveToExit(
  config: string,
  env: Record<string, string> = {},
): Promise<{ code: number | null; err: string }> {
  const child = spawn(process.execPath, [cli, 'gateway', 'serve', '--config', config], {
    env: { ...process.env, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
  return { code: await exited(child), err };
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once('exit', resolve));
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
});

describe('veza gateway serve', () => {
  const dir = mkdtempSync(path.join(root, 'test/.serve-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a gateway.yaml the gateway schema rejects, each problem at its line (exit 1)', async () => {
    const config = path.join(dir, 'bad.yaml');
    writeFileSync(
      config,
      'listen: { port: 0 }\ngateway:\n  maxPlugins: 0\n  pluginTimeout: soon\ncolour: red\n',
    );
    const { code, err } = await serveToExit(config);
    expect(code).toBe(1);
    expect(err).toContain(`${config}:3:15 gateway.maxPlugins:`);
    expect(err).toContain(`${config}:4:18 gateway.pluginTimeout:`);
    expect(err).toContain(`${config}:5:9 colour: unknown key`);
  });

  it('suggests the key a misspelt one meant, at its line', async () => {
    const config = path.join(dir, 'typos.yaml');
    writeFileSync(
      config,
      'lisen: { port: 0 }\ngateway:\n  pluginTimout: 2s\n  circuitBreaker: { treshold: 3 }\n',
    );
    const { code, err } = await serveToExit(config);
    expect(code).toBe(1);
    expect(err).toContain(`${config}:1:8 lisen: unknown key "lisen": did you mean "listen"?`);
    expect(err).toMatch(
      /typos\.yaml:3:17 gateway\.pluginTimout: unknown key "pluginTimout": did you mean "pluginTimeout"\?/,
    );
    // Too far from any key to be a typo of it: the keys it could be.
    expect(err).toMatch(
      /typos\.yaml:4:\d+ gateway\.circuitBreaker\.treshold: unknown key "treshold" \(known: failureThreshold, /,
    );
  });

  it('serves a plugins folder on its port, and stops on SIGTERM', async () => {
    const plugins = path.join(dir, 'plugins');
    cpSync(fixture('echo'), path.join(plugins, 'echo'), { recursive: true });
    const port = await freePort();
    const config = path.join(dir, 'gateway.yaml');
    writeFileSync(
      config,
      `listen: { port: ${port} }\nplugins: ./plugins\ngateway:\n  maxPlugins: 10\n`,
    );
    const { child } = await start(['gateway', 'serve', '--config', config], /serving 1 plugin/);
    const res = await fetch(`http://127.0.0.1:${port}/echo/ada`, {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ name: 'ada' });
    child.kill('SIGTERM');
    expect(await exited(child)).toBe(0);
  });

  it('answers /livez and /readyz on a port of their own; on SIGTERM it is not ready, then drains what is in flight', async () => {
    const plugins = path.join(dir, 'probe-plugins');
    cpSync(fixture('sleepy'), path.join(plugins, 'sleepy'), { recursive: true });
    const [port, health] = [await freePort(), await freePort()];
    const config = path.join(dir, 'probes.yaml');
    writeFileSync(
      config,
      `listen: { port: ${port} }\nplugins: ./probe-plugins\nhealth: { port: ${health}, host: 127.0.0.1, drainDelay: 1s }\n`,
    );
    const { child } = await start(['gateway', 'serve', '--config', config], /serving 1 plugin/);
    const probe = (name: string) => fetch(`http://127.0.0.1:${health}/${name}`);
    expect((await probe('livez')).status).toBe(200);
    const ready = await probe('readyz');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', plugins: 1 });
    // A request the gateway holds when the signal comes is still answered.
    const inFlight = fetch(`http://127.0.0.1:${port}/sleepy/1500`);
    await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGTERM');
    await until(async () => (await probe('readyz')).status === 503, 'readyz to answer 503');
    const draining = await probe('readyz');
    expect(await draining.json()).toMatchObject({
      status: 'not-ready',
      reasons: [expect.stringMatching(/^draining/)],
    });
    expect((await inFlight).status).toBe(200);
    expect(await exited(child)).toBe(0);
  });

  it('takes secrets from the environment or a file (${env:NAME}, ${file:/path}), and names a missing one at its line', async () => {
    const secret = path.join(dir, 'fleet-secret');
    writeFileSync(secret, 'a-secret-that-never-prints\n');
    const config = path.join(dir, 'refs.yaml');
    writeFileSync(
      config,
      'gateway:\n  pluginTimeout: ${env:PGW_SERVE_TEST_TIMEOUT}\n  maxPlugins: 3\n  node:\n    id: gw-1\n    address: http://127.0.0.1:1\n    secret: ${file:' +
        secret +
        '}\n  watch:\n    env: ${env:PGW_SERVE_TEST_UNSET}\nplugins: ${file:/nonexistent/pgw}\n',
    );
    const { code, err } = await serveToExit(config, { PGW_SERVE_TEST_TIMEOUT: '2s' });
    expect(code).toBe(1);
    expect(err).toContain(
      `${config}:9:10 gateway.watch.env: the environment variable PGW_SERVE_TEST_UNSET is not set`,
    );
    expect(err).toContain(`${config}:10:10 plugins: cannot read /nonexistent/pgw (ENOENT)`);
    // The variable and the file that were found passed the gateway's schema; no value is printed.
    expect(err).not.toContain('pluginTimeout');
    expect(err).not.toContain('node.secret');
    expect(err).not.toContain('a-secret-that-never-prints');
  });

  it('names a malformed health section at its line', async () => {
    const config = path.join(dir, 'bad-health.yaml');
    writeFileSync(config, 'health:\n  port: 0\n  drainDelay: later\n  path: /x\n');
    const { code, err } = await serveToExit(config);
    expect(code).toBe(1);
    expect(err).toContain(`${config}:2:9 health.port: expected a port number`);
    expect(err).toContain(`${config}:3:15 health.drainDelay: expected a duration`);
    expect(err).toContain(`${config}:4:9 health.path: unknown key`);
  });
});

describe('veza plugin dev', () => {
  it('serves the plugin and reloads it when a file is saved', async () => {
    const dir = mkdtempSync(path.join(root, 'test/.dev-'));
    try {
      cpSync(fixture('echo'), dir, { recursive: true });
      const port = await freePort();
      const { child } = await start(['plugin', 'dev', dir, '--port', String(port)], /serving on/);
      const url = `http://127.0.0.1:${port}/whoami`;
      // /whoami needs a caller: 401 before the edit.
      expect((await fetch(url)).status).toBe(401);
      const manifest = path.join(dir, 'plugin.yaml');
      writeFileSync(manifest, readFileSync(manifest, 'utf8').replace('    auth: required\n', ''));
      await until(async () => (await fetch(url)).status === 200, 'the reloaded plugin');
      child.kill('SIGINT');
      expect(await exited(child)).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('veza plugin test --watch', () => {
  it('runs again when a file changes, and stops on SIGINT', async () => {
    const dir = mkdtempSync(path.join(root, 'test/.dev-'));
    try {
      cpSync(fixture('echo'), dir, { recursive: true });
      writeFileSync(
        path.join(dir, 'echo.test.mjs'),
        "import { test } from 'node:test';\ntest('passes', () => {});\n",
      );
      const child = spawn(process.execPath, [cli, 'plugin', 'test', dir, '--watch'], {
        cwd: root,
        env: { ...process.env, NO_COLOR: '1', NODE_OPTIONS: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
      child.stderr.resume();
      await until(async () => /passed in/.test(out), 'the first run');
      writeFileSync(
        path.join(dir, 'echo.test.mjs'),
        "import { test } from 'node:test';\ntest('fails', () => { throw new Error('no'); });\n",
      );
      await until(async () => /failed in/.test(out), 'the run after the change');
      expect(out).toMatch(/✗ echo\.test\.mjs/);
      child.kill('SIGINT');
      expect(await exited(child)).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
