/**
 * The CLI against a Consul agent with ACLs on and HTTPS under a private CA (the stand-in: no Consul agent
 * can be installed here), with credentials from gateway.yaml or from the variables the consul CLI reads;
 * and gateway.yaml credentials that belong to the other kind of registry, refused at their line.
 */
import { execFile, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packPlugin } from '../../src/fleet/artifacts.js';
import { ConsulRegistry } from '../../src/registry/consul.js';
import { fixture } from '../helpers.js';
import { makeCertificates } from '../services/certificates.js';
import { freePort, serviceAvailable } from '../services/common.js';
import { ConsulStandIn } from '../services/consul-standin.js';

const root = path.resolve(import.meta.dirname, '../..');
const cli = path.join(root, 'dist/cli.js');
const token = 'a-consul-acl-token-for-the-fleet';

function veza(args: string[], variables: Record<string, string> = {}) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    execFile(
      process.execPath,
      [cli, ...args],
      { cwd: root, env: { ...process.env, NO_COLOR: '1', ...variables }, timeout: 30_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

describe.skipIf(!serviceAvailable('openssl', 'apt-get install openssl', ['version']))(
  'veza and a Consul agent with ACLs and HTTPS',
  () => {
    // Inside the checkout: the plugin `veza gateway serve` loads imports the SDK from it.
    const dir = mkdtempSync(path.join(root, 'test/.registry-credentials-'));
    let file: (name: string) => Buffer;
    let consul: ConsulStandIn;
    let url: string;

    beforeAll(async () => {
      file = makeCertificates(dir, []);
      consul = await ConsulStandIn.start(0, {
        aclToken: token,
        tls: { key: file('server.key'), cert: file('server.crt') },
      });
      url = `consuls://127.0.0.1:${consul.port}`;
      const owner = new ConsulRegistry({ port: consul.port, token, tls: { ca: file('ca.crt') } });
      await owner.publish('staging', await packPlugin(fixture('echo')));
      await owner.close();
    });
    afterAll(async () => {
      await consul?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('veza plugin list takes CONSUL_HTTP_TOKEN and CONSUL_CACERT, as the consul CLI does', async () => {
      const args = ['plugin', 'list', '--env', 'staging', '--registry', url, '--json'];
      const listed = await veza(args, {
        CONSUL_HTTP_TOKEN: token,
        CONSUL_CACERT: path.join(dir, 'ca.crt'),
      });
      expect(listed.code, listed.stderr).toBe(0);
      expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ name: 'echo' })]);

      const refusedBefore = consul.refused;
      const anonymous = await veza(args, { CONSUL_CACERT: path.join(dir, 'ca.crt') });
      expect(anonymous.code).toBe(1);
      expect(anonymous.stderr).toContain('answered 403: Permission denied');
      expect(consul.refused).toBeGreaterThan(refusedBefore);

      // The agent's certificate is not one Node's CA store trusts: no CONSUL_CACERT, no connection.
      const untrusted = await veza(args, { CONSUL_HTTP_TOKEN: token });
      expect(untrusted.code).toBe(1);
      expect(untrusted.stderr).toMatch(/certificate/i);

      // TLS material with a plain URL: refused, never a token in clear.
      const plain = await veza(
        ['plugin', 'list', '--env', 'staging', '--registry', url.replace('consuls:', 'consul:')],
        { CONSUL_HTTP_TOKEN: token, CONSUL_CACERT: path.join(dir, 'ca.crt') },
      );
      expect(plain.code).toBe(2);
      expect(plain.stderr).toContain(
        'CONSUL_CACERT is set but the URL is plain text; use consuls://',
      );

      writeFileSync(path.join(dir, 'token'), `${token}\n`);
      const fromFile = await veza(args, {
        CONSUL_HTTP_TOKEN_FILE: path.join(dir, 'token'),
        CONSUL_CACERT: path.join(dir, 'ca.crt'),
      });
      expect(fromFile.code, fromFile.stderr).toBe(0);
    });

    it('veza gateway serve registers with the token and CA named in gateway.yaml', async () => {
      mkdirSync(path.join(dir, 'plugins'), { recursive: true });
      cpSync(fixture('echo'), path.join(dir, 'plugins', 'echo'), { recursive: true });
      const config = path.join(dir, 'gateway.yaml');
      writeFileSync(
        config,
        [
          `listen: { port: ${await freePort()} }`,
          'plugins: ./plugins',
          'registry:',
          `  url: ${url}`,
          '  env: staging',
          '  token: ${env:PGW_TEST_CONSUL_TOKEN}',
          '  tls:',
          `    ca: \${file:${path.join(dir, 'ca.crt')}}`,
          'gateway:',
          '  node: { id: gw-consul, address: "http://127.0.0.1:1", secret: a-fleet-secret-of-32-characters! }',
          '',
        ].join('\n'),
      );
      const child = spawn(process.execPath, [cli, 'gateway', 'serve', '--config', config], {
        cwd: root,
        env: { ...process.env, NO_COLOR: '1', PGW_TEST_CONSUL_TOKEN: token },
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
          [...consul.services.values()].map((s) => s.Service),
          err,
        ).toContain('echo');
        expect(err).not.toContain(token);
      } finally {
        if (child.exitCode === null) {
          const exited = new Promise((r) => child.once('exit', r));
          child.kill('SIGTERM');
          await exited;
        }
      }
      expect([...consul.services.values()].map((s) => s.Service)).not.toContain('echo');
    }, 60_000);

    it('refuses, at their gateway.yaml line, credentials of the other kind of registry', async () => {
      const check = async (lines: string[]) => {
        const config = path.join(dir, 'mismatch.yaml');
        writeFileSync(config, [...lines, ''].join('\n'));
        const run = await veza(['gateway', 'serve', '--config', config, '--check']);
        return { code: run.code, stderr: run.stderr.replaceAll(config, 'gateway.yaml') };
      };
      const etcdWithToken = await check([
        'registry:',
        '  url: etcd://127.0.0.1:2379',
        '  token: x',
      ]);
      expect(etcdWithToken.code).toBe(1);
      expect(etcdWithToken.stderr).toContain(
        "gateway.yaml:3:10 registry.token: registry.token is Consul's ACL token; etcd takes registry.username and registry.password",
      );
      const consulWithUser = await check(['registry:', `  url: ${url}`, '  username: fleet']);
      expect(consulWithUser.stderr).toContain(
        "gateway.yaml:3:13 registry.username: registry.username is etcd's; Consul takes registry.token",
      );
      const plainWithTls = await check([
        'registry:',
        '  url: etcd://127.0.0.1:2379',
        '  tls: { ca: x }',
      ]);
      expect(plainWithTls.stderr).toContain(
        'gateway.yaml:3:8 registry.tls: registry.tls needs a TLS URL (etcds://), not etcd://',
      );
      const halfPair = await check(['registry:', '  url: etcd://127.0.0.1:2379', '  username: gw']);
      expect(halfPair.stderr).toContain(
        'gateway.yaml:3:13 registry.username: registry.username and registry.password go together',
      );
      // A URL carrying a user and password: refused, and never echoed.
      const inUrl = await veza([
        'plugin',
        'list',
        '--env',
        'x',
        '--registry',
        'etcd://root:hunter2@h:2379',
      ]);
      expect(inUrl.code).toBe(2);
      expect(inUrl.stderr).toContain('not in the URL');
      expect(inUrl.stderr).not.toContain('hunter2');
      const badForm = await veza([
        'plugin',
        'list',
        '--env',
        'x',
        '--registry',
        'etcd://root:hunter2@h:2379/v3',
      ]);
      expect(badForm.code).toBe(2);
      expect(badForm.stderr).not.toContain('hunter2');
      const consulList = await check(['registry:', '  url: consul://a:8500,b:8500']);
      expect(consulList.stderr).toContain(
        "gateway.yaml:2:8 registry.url: a Consul registry is one agent (this host's), not a list",
      );
    });
  },
);
