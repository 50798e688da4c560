import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Etcd3 } from 'etcd3';
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
  let secretFile: string;
  let publicKey: string;
  const secret = 'the-fleet-secret-of-the-deploy-test';
  const catalogErrors: string[] = [];
  beforeAll(async () => {
    etcd = await EtcdServer.start();
    const pair = generateKeyPairSync('ed25519');
    publicKey = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    keyFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'veza-key-')), 'signing.pem');
    writeFileSync(keyFile, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), {
      mode: 0o600,
    });
    secretFile = path.join(path.dirname(keyFile), 'fleet-secret');
    writeFileSync(secretFile, `${secret}\n`, { mode: 0o600 });
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
          secret,
          // deploy's verdict per gateway comes from the boot: these boot what the catalog hands them.
          warm: true,
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
  /** `veza plugin deploy DIR` to this fleet, with the fleet secret; `extra` after. */
  const deploy = (dir: string, ...extra: string[]) =>
    veza([
      'plugin',
      'deploy',
      dir,
      '--env',
      'staging',
      '--registry',
      registry(),
      '--namespace',
      'deploy',
      '--fleet-secret-file',
      secretFile,
      ...extra,
    ]);

  it('publishes a signed entry, shows progress, and exits 0 once both gateways serve it active', async () => {
    const run = await deploy(
      fixture('profiles'),
      '--sign-key',
      keyFile,
      '--timeout',
      '60s',
      '--json',
    );
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

  it('when the gateways refuse an unsigned entry, says at once why, per gateway, and exits 1', async () => {
    // A timeout far beyond the test's: the verdict comes from the gateways' answers, not the clock.
    const run = await deploy(fixture('echo'), '--timeout', '10m');
    expect(run.code, run.stderr).toBe(1);
    expect(run.stdout).toMatch(/echo@1\.0\.0 not healthy on 2 gateway\(s\)/);
    for (const node of ['gw-a', 'gw-b']) {
      expect(run.stdout).toMatch(
        new RegExp(`${node}: refused — PGW_ERR_ARTIFACT_SIGNATURE .*echo@1\\.0\\.0.*not signed`),
      );
    }
    expect(run.stderr).toMatch(/published echo@1\.0\.0/);
  }, 60_000);

  it("when the new version fails to start, says so per gateway with the plugin's error", async () => {
    const run = await deploy(
      fixture('init-fails'),
      '--sign-key',
      keyFile,
      '--timeout',
      '10m',
      '--json',
    );
    expect(run.code, run.stderr).toBe(1);
    const result = JSON.parse(run.stdout) as { gateways: object; reasons: Record<string, string> };
    expect(result.gateways).toEqual({ 'gw-a': 'refused', 'gw-b': 'refused' });
    expect(result.reasons['gw-a']).toContain('cannot reach the model store');
  }, 60_000);

  it('when no gateway watches --env, says so at once with the environments they do watch', async () => {
    const run = await veza([
      'plugin',
      'deploy',
      fixture('profiles'),
      '--env',
      'production',
      '--registry',
      registry(),
      '--namespace',
      'deploy',
      '--fleet-secret-file',
      secretFile,
      '--timeout',
      '10m',
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      `no gateway watches "production"; the registry's gateways watch: staging (gw-a, gw-b)`,
    );
  }, 60_000);

  it('a forged status record is ignored and named, not counted; without the secret deploy warns', async () => {
    const client = new Etcd3({ hosts: etcd.endpoint });
    try {
      // Someone with write access to the registry but not the fleet secret.
      await client
        .put('deploy/_gateways/gw-evil')
        .value(
          JSON.stringify({
            nodeId: 'gw-evil',
            environment: 'staging',
            watch: 'staging',
            updatedAt: new Date().toISOString(),
            plugins: [
              { name: 'profiles', version: '1.2.0', status: 'failed', reason: 'x\u001b[2Jy' },
            ],
            refusals: [],
            seal: 'f'.repeat(64),
          }),
        )
        .exec();
      const run = await deploy(fixture('profiles'), '--sign-key', keyFile, '--json');
      expect(run.code, run.stdout + run.stderr).toBe(0);
      const result = JSON.parse(run.stdout) as { gateways: object; ignored: string[] };
      expect(result.gateways).toEqual({ 'gw-a': 'active', 'gw-b': 'active' });
      expect(result.ignored).toEqual(['gw-evil: its seal does not verify with the fleet secret']);

      const unchecked = await veza([
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
        '10m',
      ]);
      expect(unchecked.stderr).toContain('gateway status records are not verified');
      // Believed without the secret, its reason is printed without the terminal escape it carried.
      expect(unchecked.stdout).toContain('gw-evil: failed — x?[2Jy');
      expect(unchecked.code).toBe(1);
    } finally {
      await client.delete().key('deploy/_gateways/gw-evil').exec();
      client.close();
    }
  }, 60_000);

  it('a registry URL it does not know is a usage error (exit 2)', async () => {
    const run = await veza(['plugin', 'list', '--env', 'staging', '--registry', 'zookeeper://x']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      '--registry must be etcd://host:port[,host:port], etcds://host:port (TLS), consul://host:port or consuls://host:port (TLS)',
    );
  });
});
