import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PluginGateway,
  type CrashEvent,
  type GatewayOptions,
  type PluginResponse,
} from '../../src/index.js';
import { fixture, gatewayWith, get, memoryLogger, statusOf } from '../helpers.js';
import { bwrapReason, usable } from '../services/toolchains.js';

/**
 * A `runtime.type: process` plugin tries what it could do against its host, inside bubblewrap and
 * (with `sandbox.bwrap: false`) under Node's permission model alone. The intruder is copied outside
 * the library's folder, beside a file of the host's that it must not read; it is granted
 * `permissions.network: [127.0.0.1]`, so that what stops its connections under bubblewrap is the
 * kernel, not the JavaScript guard.
 */
let home: string;
let server: http.Server;
let port: number;
let hits = 0;
const gateways: Record<'bwrap' | 'permission-model', PluginGateway> = {} as never;
const haveBwrap = usable('the bubblewrap tests', bwrapReason(), 'apt-get install -y bubblewrap');

beforeAll(async () => {
  process.env.PGW_TEST_HOST_SECRET = 'the host keeps this';
  home = mkdtempSync(path.join(os.tmpdir(), 'pgw-process-sandbox-'));
  writeFileSync(path.join(home, 'host-secret.txt'), 'the host keeps this');
  cpSync(fixture('proc-intruder'), path.join(home, 'plugins', 'intruder'), { recursive: true });
  server = http.createServer((_req, res) => {
    hits++;
    res.end('reached');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  for (const [kind, bwrap] of [
    ['bwrap', true],
    ['permission-model', false],
  ] as const) {
    if (bwrap && !haveBwrap) continue;
    const gateway = new PluginGateway({ logger: false, sandbox: { bwrap } });
    await gateway.load(path.join(home, 'plugins', 'intruder'));
    await gateway.start();
    gateways[kind] = gateway;
  }
});

afterAll(async () => {
  delete process.env.PGW_TEST_HOST_SECRET;
  await Promise.all(Object.values(gateways).map((g) => g.stop()));
  server?.close();
  if (home) rmSync(home, { recursive: true, force: true });
});

interface Outcome {
  allowed: boolean;
  value?: unknown;
  code?: string;
}

async function attempt(
  kind: keyof typeof gateways,
  what: string,
  query = `?port=${port}`,
): Promise<Outcome> {
  const res = await get(gateways[kind], `/try/${what}${query}`);
  expect(res.statusCode).toBe(200);
  return res.body as Outcome;
}

const KINDS = haveBwrap
  ? (['bwrap', 'permission-model'] as const)
  : (['permission-model'] as const);

describe.each(KINDS)('a process plugin (%s) cannot reach into its host', (kind) => {
  it('runs behind the wall it says', () => {
    expect(gateways[kind].get('intruder')).toMatchObject({ runtime: 'process', sandbox: kind });
  });

  it.each([
    'inspector-import',
    'inspector-require',
    'inspector-promises',
    'child-import',
    'child-require',
    'child-builtin',
    'child-cluster',
    'worker',
  ])('no inspector, no child process, no worker (%s)', async (what) => {
    expect(await attempt(kind, what)).toEqual({ allowed: false, code: 'ERR_ACCESS_DENIED' });
  });

  it("sends no signal to the host: refused, and the host's pid is not its parent", async () => {
    expect(await attempt(kind, 'kill-host')).toEqual({ allowed: false, code: 'ERR_ACCESS_DENIED' });
    // The binding behind kill(), one property away from it.
    expect(await attempt(kind, 'kill-host-binding')).toEqual({
      allowed: false,
      code: 'ERR_ACCESS_DENIED',
    });
    const [pid, ppid] = String((await attempt(kind, 'ids')).value)
      .split('|')
      .map(Number);
    expect(pid).not.toBe(process.pid);
    if (kind === 'bwrap') {
      // Its own PID namespace: it is pid 2 under bwrap's init, and no host process is visible.
      expect([pid, ppid]).toEqual([2, 1]);
    }
  });

  it('runs as an unprivileged user under bubblewrap, even when the host is root', async () => {
    const uid = (await attempt(kind, 'uid')).value;
    expect(uid).toBe(kind === 'bwrap' ? 65534 : process.getuid!());
  });

  it("cannot call the harness's collector: no gc in its global, nor in a context it makes", async () => {
    expect(await attempt(kind, 'gc-global')).toEqual({
      allowed: true,
      value: 'undefined|undefined',
    });
    expect(await attempt(kind, 'gc-context')).toEqual({ allowed: true, value: 'undefined' });
  });

  it("sees none of the host's environment, and not /proc/self/environ", async () => {
    const env = JSON.parse(String((await attempt(kind, 'env')).value)) as Record<string, string>;
    // MALLOC_ARENA_MAX is the launcher's own setting for glibc (docs/decisions/0271), not the host's.
    expect(Object.keys(env).sort()).toEqual(
      kind === 'bwrap' ? ['MALLOC_ARENA_MAX', 'PWD', 'TMPDIR'] : ['MALLOC_ARENA_MAX', 'TMPDIR'],
    );
    expect(env.MALLOC_ARENA_MAX).toBe('1');
    expect(JSON.stringify(env)).not.toContain('the host keeps this');
    expect(await attempt(kind, 'environ')).toEqual({ allowed: false, code: 'ERR_ACCESS_DENIED' });
  });

  it('reads its own folder only: not /etc/passwd, not a host file beside its folder', async () => {
    expect(await attempt(kind, 'own-file')).toMatchObject({ allowed: true });
    expect(await attempt(kind, 'passwd')).toMatchObject({ allowed: false });
    // Nor whether a host path exists (the permission model checked realpath's walk nowhere).
    expect(await attempt(kind, 'realpath-host')).toEqual({
      allowed: false,
      code: 'ERR_ACCESS_DENIED',
    });
    expect(await attempt(kind, 'realpath-missing')).toEqual({
      allowed: false,
      code: 'ERR_ACCESS_DENIED',
    });
    expect(await attempt(kind, 'sibling')).toMatchObject({ allowed: false });
  });

  it('writes only its scratch folder', async () => {
    expect(await attempt(kind, 'write-own-folder')).toMatchObject({ allowed: false });
    expect(await attempt(kind, 'write-tmp')).toMatchObject({
      allowed: kind === 'bwrap', // /tmp is its own tmpfs there, the scratch folder
    });
    expect(existsSync('/tmp/pgw-intruder-dropped.txt')).toBe(false);
    expect(await attempt(kind, 'write-scratch')).toMatchObject({ allowed: true });
  });

  it('has a V8 heap capped at resources.memory (128 MiB by default)', async () => {
    const limit = Number((await attempt(kind, 'heap-limit')).value);
    expect(limit).toBeLessThan(200 * 1024 * 1024);
  });

  it.each(['fetch-localhost', 'unix-socket', 'listen', 'dns'])(
    'connects, listens and resolves nothing outside permissions.network (%s)',
    async (what) => {
      expect(await attempt(kind, what)).toMatchObject({ allowed: false });
    },
  );
});

describe('the network of a process plugin under bubblewrap', () => {
  it.each(['fetch', 'http-get', 'net-connect'])(
    "is the kernel's to refuse: a granted loopback host is out of reach all the same (%s)",
    async (what) => {
      const before = hits;
      const outcome = await attempt('bwrap', what);
      expect(outcome.allowed).toBe(false);
      expect(outcome.code).toMatch(/^E(CONNREFUSED|NETUNREACH)$/);
      expect(hits).toBe(before);
    },
  );

  it('without bubblewrap, the granted host is reached: the allowlist is a JavaScript guard there', async () => {
    const before = hits;
    expect(await attempt('permission-model', 'fetch')).toEqual({ allowed: true, value: 200 });
    expect(hits).toBe(before + 1);
  });
});

describe('resources of a process plugin', () => {
  let gateway: PluginGateway | undefined;
  const codeOf = (res: PluginResponse) => (res.body as { error?: { code: string } }).error?.code;
  afterAll(async () => gateway?.stop());

  it.each([
    ['off-heap ArrayBuffers', 'proc-hoarder', 'POST', '/hoarder/hoard', '/hoarder/ok'],
    ['a V8 heap bomb', 'proc-faulty', 'GET', '/faulty/bomb', '/faulty/ok'],
  ])(
    'a memory bomb (%s) is ended at the cap and reported as memory; the host serves on, the plugin restarts',
    async (_what, plugin, method, bomb, ok) => {
      await gateway?.stop();
      gateway = await gatewayWith([plugin]);
      const name = gateway.list()[0]!.name;
      const crashed = new Promise<CrashEvent>((resolve) => gateway!.once('plugin:crash', resolve));
      const res = await gateway.handle({ method, path: bomb, headers: {} });
      expect(res.statusCode).toBe(500);
      expect(codeOf(res)).toBe('PGW_ERR_PLUGIN_CRASHED');
      expect((await crashed).reason).toMatch(/^memory: /);
      expect(process.memoryUsage().rss).toBeLessThan(1024 * 1024 * 1024);
      await statusOf(gateway, name, 'active');
      expect((await get(gateway, ok)).statusCode).toBe(200);
    },
  );
});

describe('a gateway that requires bubblewrap', () => {
  it('refuses a process plugin that would run without it (PGW_ERR_SANDBOX_UNAVAILABLE)', async () => {
    const options: GatewayOptions = {
      logger: false,
      sandbox: { bwrap: false, requireBwrap: true },
    };
    const gateway = new PluginGateway(options);
    await expect(gateway.load(fixture('proc-echo'))).rejects.toMatchObject({
      code: 'PGW_ERR_SANDBOX_UNAVAILABLE',
    });
    expect(gateway.list()).toEqual([]);
    await gateway.stop();
  });

  it.skipIf(!haveBwrap)(
    'loads it when bwrap is there; without the requirement, says at load that it runs without',
    async () => {
      const required = new PluginGateway({ logger: false, sandbox: { requireBwrap: true } });
      expect((await required.load(fixture('proc-echo'))).sandbox).toBe('bwrap');
      await required.stop();
      const logger = memoryLogger();
      const lax = new PluginGateway({ logger, sandbox: { bwrap: false } });
      expect((await lax.load(fixture('proc-echo'))).sandbox).toBe('permission-model');
      expect(logger.lines).toContainEqual(
        expect.objectContaining({
          level: 'warn',
          plugin_id: 'proc-echo',
          sandbox: 'permission-model',
        }),
      );
      await lax.stop();
    },
  );
});
