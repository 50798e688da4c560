import { execFileSync } from 'node:child_process';
import {
  closeSync,
  constants,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { isPluginCodeError, type PluginGateway } from '../../src/index.js';
import { gatewayWith } from '../helpers.js';

// The gateway bundles a TypeScript plugin in the host, with the host's rights: the bundler must not
// read what the plugin's threads could not (the host's files) and hand it to the plugin as code.
describe('a TypeScript plugin bundled at load', () => {
  const root = mkdtempSync(path.join(import.meta.dirname, '../.ts-bundle-'));
  let gateway: PluginGateway | undefined;
  afterEach(async () => {
    await gateway?.stop();
    gateway = undefined;
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  function plugin(name: string, code: string): string {
    const dir = path.join(root, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      path.join(dir, 'plugin.yaml'),
      `name: ${name}\nversion: 0.1.0\nmain: index.ts\nendpoints:\n  - { path: /${name}, method: GET }\n`,
    );
    writeFileSync(path.join(dir, 'index.ts'), code);
    return dir;
  }

  it.each([
    ['a JSON file of the host', "import secret from '../host-secret.json';"],
    ['a text file by absolute path', `import secret from '${path.join(root, 'host-secret.txt')}';`],
  ])('cannot import %s into its code', async (_what, line) => {
    writeFileSync(path.join(root, 'host-secret.json'), '{ "password": "hunter2" }');
    writeFileSync(path.join(root, 'host-secret.txt'), 'hunter2');
    const dir = plugin(
      `thief-${Math.random().toString(36).slice(2, 8)}`,
      `${line}\nexport default { routes: { 'GET /x': () => ({ statusCode: 200, body: secret }) } };\n`,
    );
    gateway = await gatewayWith([]);
    const error = await gateway.load(dir).catch((e: unknown) => e);
    expect(isPluginCodeError(error)).toBe(true);
    expect((error as Error).message).toContain("is outside the plugin's folder");
    expect((error as Error).message).not.toContain('hunter2');
    expect(gateway.list()).toEqual([]);
  });

  it('still imports its own files and the SDK', async () => {
    const dir = plugin(
      'honest',
      "import { definePlugin } from '@veza/plugin-gateway/sdk';\nimport { n } from './n.js';\nexport default definePlugin({ routes: { 'GET /honest': () => ({ statusCode: 200, body: n }) } });\n",
    );
    writeFileSync(path.join(dir, 'n.ts'), 'export const n: number = 42;\n');
    gateway = await gatewayWith([]);
    await gateway.load(dir);
    expect((await gateway.handle({ method: 'GET', path: '/honest', headers: {} })).body).toBe(42);
  });

  // esbuild reads the file a `//# sourceMappingURL=` comment names by itself, past the `onLoad` check.
  it("cannot have the bundler copy a host file's source map into its code", async () => {
    writeFileSync(
      path.join(root, 'host-app.js.map'),
      '{"version":3,"sources":["HOST-SECRET-hunter2"],"names":[],"mappings":"AAAA"}',
    );
    const dir = plugin(
      'map-thief',
      "import { x } from './lib.js';\nexport default { routes: { 'GET /map-thief': () => { const code = Buffer.from(import.meta.url.split(',')[1]!, 'base64').toString(); return { statusCode: 200, body: Buffer.from(/base64,(\\S+)\\s*$/.exec(code)![1]!, 'base64').toString() + x }; } } };\n",
    );
    writeFileSync(
      path.join(dir, 'lib.js'),
      'export const x = 1;\n//# sourceMappingURL=../host-app.js.map\n',
    );
    gateway = await gatewayWith([]);
    await gateway.load(dir);
    const { body } = await gateway.handle({ method: 'GET', path: '/map-thief', headers: {} });
    expect(body).toContain('lib.js');
    expect(body).not.toContain('hunter2');
  });

  it('cannot have the bundler read a device or a pipe without end', async () => {
    const fifo = path.join(root, 'host-pipe');
    execFileSync('mkfifo', [fifo]);
    try {
      const dir = plugin(
        'map-pipe',
        "import { x } from './lib.js';\nexport default { routes: { 'GET /map-pipe': () => ({ statusCode: 200, body: x }) } };\n",
      );
      // /dev/zero had the host's esbuild grow by ~1 GB a second; a pipe with no writer blocks it for good.
      writeFileSync(
        path.join(dir, 'lib.js'),
        `export const x = 7;\n//# sourceMappingURL=${fifo}\n`,
      );
      gateway = await gatewayWith([]);
      await gateway.load(dir);
      expect((await gateway.handle({ method: 'GET', path: '/map-pipe', headers: {} })).body).toBe(
        7,
      );
    } finally {
      // Frees a bundler left reading the pipe (without the fix) so that the run can end.
      try {
        closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {
        // No reader: nothing to free.
      }
    }
  });
});
