// The README as a newcomer types it, against the packed package in a project of its own: the quick
// start's files, the Fastify and Express apps and the fleet sample are the README's code blocks written
// to disk as they stand (only the port 8080 and the fleet's addresses swapped for free local ones), run
// with `node`, and asked over HTTP. Where the README says a command sets the project up, the project is
// set up that way.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdRegistry } from '../../src/registry/etcd.js';
import { freePort, serviceAvailable, waitForPort } from '../services/common.js';
import { EtcdServer } from '../services/etcd.js';
import { installPacked, type InstalledProject } from './tarball.js';

const readme = readFileSync(path.resolve(import.meta.dirname, '../../README.md'), 'utf8');

/** The README's fenced block of `lang` whose first line starts with `firstLine`. */
function block(lang: string, firstLine: string): string {
  for (const [, body] of readme.matchAll(
    new RegExp(`^\`\`\`${lang}\\n([\\s\\S]*?)^\`\`\``, 'gm'),
  )) {
    if (body!.startsWith(firstLine)) return body!;
  }
  throw new Error(`README.md has no \`\`\`${lang} block starting with "${firstLine}"`);
}

/** `node file` in the project, its output kept; killed (SIGTERM, then SIGKILL) by `stop()`. */
function run(file: string, env: NodeJS.ProcessEnv = {}) {
  const child: ChildProcess = spawn(process.execPath, [file], {
    cwd: project.dir,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return {
    output: () => output,
    exited,
    async stop(): Promise<void> {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      // Long enough for a loaded machine: a gateway that stops cleanly must not be cut short.
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function get(port: number, p: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${p}`);
  return { status: res.status, text: await res.text() };
}

let project: InstalledProject;
beforeAll(() => {
  // `npm pkg set type=module`, as the quick start's first block says.
  expect(block('sh', 'mkdir my-app')).toContain('npm init -y && npm pkg set type=module');
  project = installPacked({
    type: 'module',
    peers: ['fastify', 'fastify-plugin', 'express', 'etcd3'],
  });
  const plugin = path.join(project.dir, 'plugins/hello');
  mkdirSync(plugin, { recursive: true });
  writeFileSync(path.join(plugin, 'plugin.yaml'), block('yaml', '# plugins/hello/plugin.yaml'));
  writeFileSync(path.join(plugin, 'index.js'), block('js', '// plugins/hello/index.js'));
}, 120_000);
afterAll(() => project?.close(), 120_000);

describe("the README's samples, typed into a new project", () => {
  /** Writes the README block that starts with `// file` to `file`, listening on `port`. */
  const write = (file: string, port: number): void => {
    const source = block('ts', `// ${file}`);
    expect(source).toContain('8080');
    writeFileSync(path.join(project.dir, file), source.replaceAll('8080', String(port)));
  };

  it('quick start: node server.js serves the plugin, with the page the README promises', async () => {
    const port = await freePort();
    write('server.js', port);
    const server = run('server.js');
    try {
      await waitForPort(port, 30_000);
      const res = await get(port, '/hello/ada?page=2');
      expect(res).toEqual({ status: 200, text: JSON.stringify({ hello: 'ada', page: '2' }) });
      expect(server.output()).toContain('"msg":"greeting"');
    } finally {
      await server.stop();
    }
  });

  it.each([
    ['fastify.js', /Route GET:\/plugins\/nope not found/],
    ['express.js', /Cannot GET \/plugins\/nope/],
  ])(
    '%s serves the plugin under /plugins and leaves other paths to the framework',
    async (file, hostNotFound) => {
      const port = await freePort();
      write(file, port);
      const app = run(file);
      try {
        await waitForPort(port, 30_000);
        expect(await get(port, '/plugins/hello/ada')).toEqual({
          status: 200,
          text: JSON.stringify({ hello: 'ada' }),
        });
        const missing = await get(port, '/plugins/nope');
        expect(missing.status).toBe(404);
        expect(missing.text).toMatch(hostNotFound);
      } finally {
        await app.stop();
      }
    },
  );
});

const haveEtcd = serviceAvailable('etcd', 'apt-get install -y etcd-server');

describe.runIf(haveEtcd)("the README's fleet sample, with etcd3 installed", () => {
  let etcd: EtcdServer;
  let port: number;
  beforeAll(async () => {
    etcd = await EtcdServer.start();
    const sample = block(
      'ts',
      "import { PluginGateway } from '@veza/plugin-gateway';\nimport { EtcdRegistry }",
    );
    expect(sample).toContain("'http://10.0.0.2:2379'");
    expect(sample).toContain('// on shutdown: await gateway.stop(); await registry.close();');
    port = await freePort();
    writeFileSync(
      path.join(project.dir, 'fleet.js'),
      sample
        .replace("'http://10.0.0.2:2379'", `'${etcd.endpoint}'`)
        .replace("'http://10.0.0.5:8080'", `'http://127.0.0.1:${port}'`) +
        "\nawait gateway.load('./plugins/hello');\nawait gateway.start();\nconsole.log('joined');\n" +
        // The README's shutdown line, on SIGTERM.
        "process.once('SIGTERM', async () => { await gateway.stop(); await registry.close(); });\n",
    );
  }, 120_000);
  afterAll(() => etcd?.destroy(), 60_000);

  it('joins the fleet: its plugin is listed in etcd under the node and address it names', async () => {
    const gateway = run('fleet.js', {
      VEZA_FLEET_SECRET: 'a-fleet-secret-of-32-characters!',
    });
    const registry = new EtcdRegistry({ endpoints: etcd.endpoint, namespace: 'veza' });
    try {
      await expect.poll(() => gateway.output(), { timeout: 30_000 }).toContain('joined');
      expect(await registry.list('hello')).toEqual([
        expect.objectContaining({
          service: 'hello',
          nodeId: 'gw-1',
          address: `http://127.0.0.1:${port}`,
          status: 'active',
          seal: expect.stringMatching(/^[0-9a-f]{64}$/),
        }),
      ]);
      await gateway.stop();
      // On SIGTERM the README's shutdown line ran to its end and left nothing holding the process open
      // (it exited by itself, not killed; without registry.close() etcd3 kept it alive), and the
      // gateway deregistered: nothing of gw-1 is left listed.
      expect(await gateway.exited).toBe(0);
      expect(await registry.list('hello')).toEqual([]);
    } finally {
      await gateway.stop();
      await registry.close();
    }
  }, 90_000);

  it('without VEZA_FLEET_SECRET, the gateway refuses to start and says what it needs', async () => {
    const gateway = run('fleet.js', { VEZA_FLEET_SECRET: '' });
    expect(await gateway.exited).not.toBe(0);
    expect(gateway.output()).toContain('PGW_ERR_INVALID_ARGUMENT');
    expect(gateway.output()).toMatch(/Expected `node\.secret` to be at least 16/);
  });
});
