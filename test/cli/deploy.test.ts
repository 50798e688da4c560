import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdRegistry } from '../../src/registry/etcd.js';
import { startNode, type FleetNode } from '../fleet-node.js';
import { fixture } from '../helpers.js';
import { EtcdServer } from '../services/etcd.js';

const root = path.resolve(import.meta.dirname, '../..');
const cli = path.join(root, 'dist/cli.js');

function veza(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, ...args],
      { cwd: root, timeout: 120_000, env: { ...process.env, NO_COLOR: '1', NODE_OPTIONS: '' } },
      (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('veza plugin deploy / list against a real etcd and two gateways', () => {
  let etcd: EtcdServer;
  const nodes: FleetNode[] = [];
  const cacheDirs: string[] = [];
  let keyFile: string;
  let publicKey: string;
  const catalogErrors: string[] = [];
  beforeAll(async () => {
    etcd = await EtcdServer.start();
    const pair = generateKeyPairSync('ed25519');
    publicKey = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    keyFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'veza-key-')), 'signing.pem');
    writeFileSync(keyFile, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), {
      mode: 0o600,
    });
    for (const id of ['gw-a', 'gw-b']) {
      // Inside the checkout: unpacked plugins import @veza/plugin-gateway/sdk from it.
      const cacheDir = path.resolve(
        import.meta.dirname,
        '../.catalog-cache',
        `deploy-${process.pid}-${id}`,
      );
      cacheDirs.push(cacheDir);
      nodes.push(
        await startNode(id, {
          registry: new EtcdRegistry({
            endpoints: etcd.endpoint,
            namespace: 'deploy',
            environment: 'staging',
            ttl: '3s',
          }),
          watch: { env: 'staging', cacheDir, trustedKeys: [publicKey] },
        }),
      );
    }
    for (const node of nodes)
      node.gateway.on('catalog:error', (e) => catalogErrors.push(`${e.name}: ${e.error.message}`));
    // Each gateway shows itself in the registry with a plugin of its own.
    for (const node of nodes) await node.gateway.load(fixture('steady'));
  }, 60_000);
  afterAll(async () => {
    for (const node of nodes) await node.close();
    await etcd?.destroy();
    for (const dir of [...cacheDirs, path.dirname(keyFile)])
      rmSync(dir, { recursive: true, force: true });
  });

  const registry = () => `etcd://127.0.0.1:${etcd.port}`;

  it('publishes a signed entry, shows progress, and exits 0 once both gateways serve it active', async () => {
    const run = await veza([
      'plugin',
      'deploy',
      fixture('profiles'),
      '--env',
      'staging',
      '--registry',
      registry(),
      '--namespace',
      'deploy',
      '--sign-key',
      keyFile,
      '--timeout',
      '60s',
      '--json',
    ]);
    expect(run.code, `${run.stdout}\n${run.stderr}\n${catalogErrors.join('\n')}`).toBe(0);
    const result = JSON.parse(run.stdout) as {
      healthy: boolean;
      signed: boolean;
      gateways: object;
    };
    expect(result).toMatchObject({
      name: 'profiles',
      healthy: true,
      signed: true,
      gateways: { 'gw-a': 'active', 'gw-b': 'active' },
    });
    for (const node of nodes) expect(node.gateway.get('profiles')?.status).toBe('active');

    const list = await veza([
      'plugin',
      'list',
      '--env',
      'staging',
      '--registry',
      registry(),
      '--namespace',
      'deploy',
      '--json',
    ]);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toMatchObject([{ name: 'profiles', signed: true }]);
  }, 90_000);

  it('exits 1 when the gateways refuse it (unsigned, they trust a key), naming each one', async () => {
    const run = await veza([
      'plugin',
      'deploy',
      fixture('echo'),
      '--env',
      'staging',
      '--registry',
      registry(),
      '--namespace',
      'deploy',
      '--timeout',
      '4s',
    ]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/echo@1\.0\.0 not healthy on 2 gateway\(s\)/);
    expect(run.stdout).toContain('gw-a: waiting');
    expect(run.stderr).toMatch(/published echo@1\.0\.0/);
  }, 60_000);

  it('a registry URL it does not know is a usage error (exit 2)', async () => {
    const run = await veza(['plugin', 'list', '--env', 'staging', '--registry', 'zookeeper://x']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      '--registry must be etcd://host:port, etcds://host:port (TLS) or consul://host:port',
    );
  });
});
