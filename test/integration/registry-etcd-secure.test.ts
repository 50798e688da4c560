/**
 * The etcd registry against an etcd run as in production: TLS with client certificates (a CA made here
 * with openssl), etcd's authentication on, and a user whose role may read and write the fleet's prefix
 * only.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Etcd3, Range } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packPlugin } from '../../src/fleet/artifacts.js';
import { EtcdRegistry } from '../../src/registry/etcd.js';
import type { InstanceRecord } from '../../src/registry/registry.js';
import { fixture } from '../helpers.js';
import { makeCertificates } from '../services/certificates.js';
import { findBinary, freePort, killService, serviceAvailable } from '../services/common.js';

const cli = path.resolve(import.meta.dirname, '../../dist/cli.js');

const run =
  serviceAvailable('etcd', 'apt-get install etcd-server') &&
  serviceAvailable('openssl', 'apt-get install openssl', ['version']);

const record = (id: string, service = 'secure-plugin'): InstanceRecord => ({
  id,
  service,
  version: '1.0.0',
  nodeId: 'gw-1',
  address: 'http://127.0.0.1:1',
  status: 'active',
  endpoints: [{ method: 'GET', path: '/secure', auth: 'none', roles: [] }],
  metadata: {},
});

describe.skipIf(!run)('EtcdRegistry with TLS, client certificates and etcd authentication', () => {
  // Inside the repository: the plugin that `veza gateway serve` loads resolves the SDK from it.
  const dir = mkdtempSync(path.resolve(import.meta.dirname, '../.serve-etcd-tls-'));
  let file: (name: string) => Buffer;
  let etcd: ChildProcess;
  let endpoint: string;
  const registries: EtcdRegistry[] = [];
  const fleet = { username: 'fleet-veza', password: 'a-password-for-the-veza-fleet' };

  const registry = (options: Partial<ConstructorParameters<typeof EtcdRegistry>[0]> = {}) => {
    const r = new EtcdRegistry({
      endpoints: endpoint,
      namespace: 'veza',
      ttl: '5s',
      tls: { ca: file('ca.crt'), cert: file('gateway.crt'), key: file('gateway.key') },
      auth: fleet,
      ...options,
    });
    registries.push(r);
    return r;
  };

  beforeAll(async () => {
    file = makeCertificates(dir, ['gateway', 'root']);
    const port = await freePort();
    const peerPort = await freePort();
    endpoint = `https://127.0.0.1:${port}`;
    etcd = spawn(
      findBinary('etcd')!,
      [
        '--name',
        'secure',
        '--data-dir',
        path.join(dir, 'data'),
        '--listen-client-urls',
        endpoint,
        '--advertise-client-urls',
        endpoint,
        '--listen-peer-urls',
        `http://127.0.0.1:${peerPort}`,
        '--initial-advertise-peer-urls',
        `http://127.0.0.1:${peerPort}`,
        '--initial-cluster',
        `secure=http://127.0.0.1:${peerPort}`,
        '--cert-file',
        path.join(dir, 'server.crt'),
        '--key-file',
        path.join(dir, 'server.key'),
        '--client-cert-auth',
        '--trusted-ca-file',
        path.join(dir, 'ca.crt'),
        '--log-level',
        'error',
      ],
      { stdio: 'ignore', env: { ...process.env, ETCD_UNSUPPORTED_ARCH: process.arch } },
    );
    // The operator's side: a root user, and a fleet user whose role reaches `veza/` only; then auth on.
    const admin = new Etcd3({
      hosts: endpoint,
      credentials: {
        rootCertificate: file('ca.crt'),
        certChain: file('root.crt'),
        privateKey: file('root.key'),
      },
    });
    for (let i = 0; ; i++) {
      try {
        await admin.user('root').create('a-root-password');
        break;
      } catch (error) {
        if (i > 100) throw error;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await admin.role('root').create();
    await admin.role('root').addUser('root');
    await admin.user(fleet.username).create(fleet.password);
    await admin.role('fleet-veza').create();
    await admin.role('fleet-veza').grant({ permission: 'Readwrite', range: Range.prefix('veza/') });
    await admin.role('fleet-veza').addUser(fleet.username);
    await admin.auth.authEnable();
    admin.close();
  }, 60_000);

  afterAll(async () => {
    await Promise.all(registries.map((r) => r.close().catch(() => {})));
    await killService(etcd);
    rmSync(dir, { recursive: true, force: true });
  });

  it('registers, lists and watches as the fleet user, over TLS with a client certificate', async () => {
    const r = registry();
    const seen: string[] = [];
    const stop = r.watch((change) => {
      if (change.type === 'put') seen.push(change.instance.id);
    });
    await r.register(record('secure-1'));
    expect((await r.list('secure-plugin')).map((i) => i.id)).toEqual(['secure-1']);
    for (let i = 0; i < 50 && !seen.includes('secure-1'); i++)
      await new Promise((res) => setTimeout(res, 100));
    expect(seen).toContain('secure-1');
    stop();
  });

  it('refuses the fleet user outside its prefix: another namespace cannot be written', async () => {
    const other = registry({ namespace: 'not-veza' });
    await expect(other.register(record('elsewhere'))).rejects.toMatchObject({
      code: 'PGW_ERR_REGISTRY',
    });
  });

  it('veza gateway serve joins it from gateway.yaml (etcds://, certificates and password by reference)', async () => {
    const plugins = path.join(dir, 'plugins');
    cpSync(fixture('echo'), path.join(plugins, 'echo'), { recursive: true });
    const config = path.join(dir, 'gateway.yaml');
    writeFileSync(
      config,
      [
        `listen: { port: ${await freePort()} }`,
        'plugins: ./plugins',
        'registry:',
        `  url: etcds://${endpoint.slice('https://'.length)}`,
        '  env: default',
        '  namespace: veza',
        '  username: ${env:PGW_TEST_ETCD_USER}',
        '  password: ${env:PGW_TEST_ETCD_PASSWORD}',
        '  tls:',
        `    ca: \${file:${path.join(dir, 'ca.crt')}}`,
        `    cert: \${file:${path.join(dir, 'gateway.crt')}}`,
        `    key: \${file:${path.join(dir, 'gateway.key')}}`,
        'gateway:',
        '  node: { id: gw-secure, address: "http://127.0.0.1:1", secret: a-fleet-secret-of-32-characters! }',
        '',
      ].join('\n'),
    );
    const child = spawn(process.execPath, [cli, 'gateway', 'serve', '--config', config], {
      env: {
        ...process.env,
        NO_COLOR: '1',
        PGW_TEST_ETCD_USER: fleet.username,
        PGW_TEST_ETCD_PASSWORD: fleet.password,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
    try {
      for (let i = 0; i < 300 && !/serving 1 plugin/.test(err); i++) {
        if (child.exitCode !== null) throw new Error(err);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(
        (await registry().list('echo')).map((i) => i.service),
        err,
      ).toEqual(['echo']);
      expect(err).not.toContain(fleet.password);
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  }, 60_000);

  it('veza plugin list reaches it with the variables etcdctl reads (ETCDCTL_CACERT, _CERT, _KEY, _USER)', async () => {
    await registry().publish('default', await packPlugin(fixture('echo')));
    const list = (variables: Record<string, string>) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
        execFile(
          process.execPath,
          [
            cli,
            'plugin',
            'list',
            '--env',
            'default',
            '--registry',
            `etcds://${endpoint.slice(8)}`,
            '--namespace',
            'veza',
            '--json',
          ],
          { env: { ...process.env, NO_COLOR: '1', ...variables }, timeout: 30_000 },
          (error, stdout, stderr) =>
            resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        ),
      );
    const etcdctl = {
      ETCDCTL_CACERT: path.join(dir, 'ca.crt'),
      ETCDCTL_CERT: path.join(dir, 'gateway.crt'),
      ETCDCTL_KEY: path.join(dir, 'gateway.key'),
      ETCDCTL_USER: `${fleet.username}:${fleet.password}`,
    };
    const listed = await list(etcdctl);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ name: 'echo' })]);
    const anonymous: Record<string, string> = { ...etcdctl };
    delete anonymous['ETCDCTL_USER'];
    expect((await list(anonymous)).code).not.toBe(0);
    const missing = await list({ ...etcdctl, ETCDCTL_CACERT: path.join(dir, 'no-such.crt') });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(
      `ETCDCTL_CACERT=${path.join(dir, 'no-such.crt')}: cannot read it (ENOENT)`,
    );
  }, 60_000);

  it('refuses a wrong password, and a client without a certificate', async () => {
    await expect(
      registry({ auth: { username: fleet.username, password: 'wrong' } }).list(),
    ).rejects.toThrow();
    await expect(registry({ tls: { ca: file('ca.crt') } }).list()).rejects.toThrow();
  });
});
