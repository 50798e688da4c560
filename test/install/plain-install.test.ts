import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installPacked, resolvesFrom, type InstalledProject } from './tarball.js';

// The package as `npm install @veza/plugin-gateway` leaves it: no optional peer installed.
describe('veza on a plain install (no optional peers)', () => {
  let project: InstalledProject;
  beforeAll(() => {
    project = installPacked();
  }, 120_000);
  afterAll(() => project?.close());

  it('has none of the optional peers', () => {
    for (const peer of ['etcd3', 'esbuild', 'fastify', 'express', 'prom-client', 'ioredis']) {
      expect(resolvesFrom(project, peer), peer).toBe(false);
    }
  });

  it('prints its help and version', () => {
    const help = project.veza(['--help']);
    expect(help.stderr).toBe('');
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: veza');
    const version = project.veza(['--version']);
    expect(version.status).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('creates and validates a JavaScript plugin', () => {
    const created = project.veza(['plugin', 'create', 'hello', '--lang', 'js']);
    expect(created.stderr).toBe('');
    expect(created.status).toBe(0);
    const valid = project.veza(['plugin', 'validate', 'hello']);
    expect(valid.stderr).toBe('');
    expect(valid.status).toBe(0);
    expect(valid.stdout).toContain('valid');
  });

  it("shows a plugin's ctx.log.info by default; LOG_LEVEL=warn hides it", () => {
    writeFileSync(
      path.join(project.dir, 'app.mjs'),
      `import { PluginGateway } from '@veza/plugin-gateway';
const gateway = new PluginGateway();
await gateway.load('./hello');
await gateway.start();
await gateway.handle({ method: 'GET', path: '/hello?name=Ada', headers: {} });
await gateway.stop();
`,
    );
    const greeted = (out: string) =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { msg?: string })
        .filter((l) => l.msg === 'greeting');
    const plain = project.node(['app.mjs']);
    expect(plain.status).toBe(0);
    expect(greeted(plain.stdout)).toEqual([
      expect.objectContaining({ plugin_id: 'hello', plugin_fields: { who: 'Ada' } }),
    ]);
    const quiet = project.node(['app.mjs'], { env: { LOG_LEVEL: 'warn' } });
    expect(quiet.status).toBe(0);
    expect(greeted(quiet.stdout)).toEqual([]);
  });

  it('packs the plugin without its tests or an entry packed before', () => {
    const cwd = path.join(project.dir, 'hello');
    for (let i = 0; i < 2; i++) {
      const packed = project.veza(['plugin', 'pack', '--json'], { cwd });
      expect(packed.status).toBe(0);
    }
    const entry = JSON.parse(readFileSync(path.join(cwd, 'hello-0.1.0.veza.json'), 'utf8')) as {
      files: Record<string, string>;
    };
    expect(Object.keys(entry.files).sort()).toEqual([
      'README.md',
      'index.js',
      'package.json',
      'plugin.yaml',
    ]);
  });

  it('creates TypeScript by default without esbuild, saying to install it; wasm templates say what they need', () => {
    const typed = project.veza(['plugin', 'create', 'typed']);
    expect(typed.status).toBe(0);
    expect(readFileSync(path.join(project.dir, 'typed/plugin.yaml'), 'utf8')).toContain(
      'main: index.ts',
    );
    expect(typed.stdout).toContain('esbuild is not installed');
    expect(typed.stdout).toContain('npm i -D esbuild');
    const tsconfig = JSON.parse(
      readFileSync(path.join(project.dir, 'typed/tsconfig.json'), 'utf8'),
    ) as { compilerOptions: { strict?: boolean } };
    expect(tsconfig.compilerOptions.strict).toBe(true);

    const as = project.veza(['plugin', 'create', 'as-one', '--runtime', 'wasm', '--lang', 'as']);
    expect(as.stdout).toContain(
      'next: cd as-one && npm install && ./build.sh && npx veza plugin test',
    );
    for (const [lang, needs, build] of [
      ['c', /clang.*lld.*wasi-libc/, './build.sh && '],
      // veza plugin test builds a Go or Rust plugin itself.
      ['rust', /wasm32-unknown-unknown/, ''],
      ['go', /Go 1\.24 or later/, ''],
    ] as const) {
      const made = project.veza([
        'plugin',
        'create',
        `${lang}-one`,
        '--runtime',
        'wasm',
        '--lang',
        lang,
      ]);
      expect(made.status).toBe(0);
      expect(made.stdout).toMatch(needs);
      expect(made.stdout).toContain(`next: cd ${lang}-one && ${build}npx veza plugin test`);
      for (const file of ['README.md', 'plugin.test.mjs', 'build.sh']) {
        expect(
          readFileSync(path.join(project.dir, `${lang}-one`, file), 'utf8').length,
        ).toBeGreaterThan(0);
      }
    }
  });

  it('names the package to install when a command needs etcd3', () => {
    const list = project.veza([
      'plugin',
      'list',
      '--env',
      'dev',
      '--registry',
      'etcd://127.0.0.1:1',
    ]);
    expect(list.status).toBe(1);
    expect(list.stderr).toContain('needs the optional package "etcd3"');
    expect(list.stderr).toContain('npm install etcd3');
    expect(list.stderr).not.toContain('ERR_MODULE_NOT_FOUND');
  });

  it('imports the etcd registry without etcd3, and names the package when one is made', () => {
    writeFileSync(
      path.join(project.dir, 'fleet.mjs'),
      `import { EtcdRegistry } from '@veza/plugin-gateway/registry/etcd';
try {
  new EtcdRegistry({ endpoints: 'http://127.0.0.1:2379' });
} catch (error) {
  console.log(JSON.stringify({ code: error.code, message: error.message }));
}
`,
    );
    const made = project.node(['fleet.mjs']);
    expect(made.stderr).not.toContain('ERR_MODULE_NOT_FOUND');
    expect(JSON.parse(made.stdout)).toEqual({
      code: 'PGW_ERR_REGISTRY',
      message:
        'EtcdRegistry needs the optional peer etcd3: npm i etcd3 (or pass a client of your own)',
    });
  });
});
