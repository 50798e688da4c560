import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  isPluginCodeError,
  PluginGateway,
  type PluginCodeError,
  type PluginInfo,
} from '../../src/index.js';
import { fixture, memoryLogger } from '../helpers.js';

// Inside the repository, where plugins resolve `@veza/plugin-gateway/sdk` as an installed one would.
const scratch = mkdtempSync(path.join(import.meta.dirname, '..', '.code-check-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A plugin folder of `files` (plugin.yaml made from `name` and `endpoints` unless given). */
function pluginDir(
  name: string,
  files: Record<string, string>,
  endpoints = [`GET /${name}`],
): string {
  const dir = path.join(scratch, name);
  execFileSync('mkdir', ['-p', dir]);
  const manifest = [
    `name: ${name}`,
    'version: 1.0.0',
    'endpoints:',
    ...endpoints.map((e) => `  - { method: ${e.split(' ')[0]}, path: ${e.split(' ')[1]} }`),
  ].join('\n');
  writeFileSync(path.join(dir, 'plugin.yaml'), `${manifest}\n`);
  for (const [file, text] of Object.entries(files)) {
    execFileSync('mkdir', ['-p', path.dirname(path.join(dir, file))]);
    writeFileSync(path.join(dir, file), text);
  }
  return dir;
}

const SDK = "import { definePlugin } from '@veza/plugin-gateway/sdk';\n";

describe('start() checks a lazy plugin code without running it', () => {
  let gateway: PluginGateway | undefined;
  afterEach(async () => {
    await gateway?.stop();
    gateway = undefined;
  });

  /** Loads `dir` in a lazy gateway, starts it, and returns the plugin's info and the boots seen. */
  async function started(dir: string): Promise<{ info: PluginInfo; boots: number }> {
    const logger = memoryLogger();
    gateway = new PluginGateway({ logger, warm: false });
    let boots = 0;
    gateway.on('plugin:boot', () => void boots++);
    const { name } = await gateway.load(dir);
    await gateway.start();
    return { info: gateway.get(name)!, boots };
  }

  /** The error `load()` throws for `dir` into a started lazy gateway (nothing left loaded). */
  async function loadError(dir: string): Promise<PluginCodeError> {
    gateway = new PluginGateway({ logger: false, warm: false });
    await gateway.start();
    const error = await gateway.load(dir).catch((e: unknown) => e);
    expect(isPluginCodeError(error), String(error)).toBe(true);
    expect(gateway.list()).toEqual([]);
    return error as PluginCodeError;
  }

  it('fails a syntax error at start(), naming file, line and column, with no thread started', async () => {
    const { info, boots } = await started(fixture('code-syntax'));
    const file = path.join(fixture('code-syntax'), 'index.js');
    expect(info.status).toBe('failed');
    expect(info.reason).toContain(`${file}:5:52: SyntaxError: Unexpected token ')'`);
    expect(boots).toBe(0);
    expect(gateway!.metrics('code-syntax').threads).toBe(0);
  });

  it('throws PGW_ERR_PLUGIN_CODE from load() after start(), located', async () => {
    const error = await loadError(fixture('code-syntax'));
    expect(error.code).toBe('PGW_ERR_PLUGIN_CODE');
    expect(error.location).toEqual({
      file: path.join(fixture('code-syntax'), 'index.js'),
      line: 5,
      column: 52,
    });
    expect(error.hint).toMatch(/fix the syntax/);
  });

  it('a package that is not installed: the import, and the npm command', async () => {
    const error = await loadError(fixture('code-missing-package'));
    expect(error.location).toMatchObject({ line: 2, column: 21 });
    expect(error.hint).toBe("install it in the plugin's folder: npm i left-pad-not-installed");
  });

  it('a relative import without its extension', async () => {
    const error = await loadError(fixture('code-missing-file'));
    expect(error.location).toMatchObject({ line: 3, column: 24 });
    expect(error.message).toContain('cannot find module "helper"');
    expect(error.hint).toContain('"./file.js"');
  });

  it('ES module syntax in a "type": "commonjs" package: the package.json to change', async () => {
    const error = await loadError(fixture('code-commonjs'));
    expect(error.location).toMatchObject({ line: 1, column: 1 });
    expect(error.message).toContain('Cannot use import statement outside a module');
    expect(error.hint).toContain(`"type": "module" in ${fixture('code-commonjs')}/package.json`);
  });

  it("a plugin inside a CommonJS host app: a package.json in the plugin, not the host's", async () => {
    const host = path.join(scratch, 'cjs-host');
    execFileSync('mkdir', ['-p', host]);
    writeFileSync(path.join(host, 'package.json'), '{ "type": "commonjs" }\n');
    const dir = path.join(host, 'plugins', 'hello');
    execFileSync('mkdir', ['-p', dir]);
    writeFileSync(
      path.join(dir, 'plugin.yaml'),
      'name: cjs-host-hello\nversion: 1.0.0\nendpoints:\n  - { method: GET, path: /hello }\n',
    );
    writeFileSync(
      path.join(dir, 'index.js'),
      `${SDK}export default definePlugin({ routes: { 'GET /hello': () => ({ statusCode: 200 }) } });\n`,
    );
    const error = await loadError(dir);
    expect(error.location).toMatchObject({ file: path.join(dir, 'index.js'), line: 1 });
    expect(error.hint).toContain(`add a package.json holding {"type": "module"} to ${dir}`);
    expect(error.hint).toContain(`${host}/package.json, is outside the plugin`);
    expect(error.hint).not.toContain(`set "type": "module" in ${host}`);
  });

  it('a route in the code that plugin.yaml does not declare: a warning at start(), at its line', async () => {
    const dir = pluginDir('code-extra-route', {
      'index.js': `${SDK}export default definePlugin({\n  routes: {\n    'GET /code-extra-route': () => ({ statusCode: 200 }),\n    'GET /bye/{name}': () => ({ statusCode: 200 }),\n  },\n});\n`,
    });
    const logger = memoryLogger();
    gateway = new PluginGateway({ logger, warm: false });
    await gateway.load(dir);
    await gateway.start();
    expect(gateway.get('code-extra-route')!.reason).toBeUndefined();
    expect(gateway.get('code-extra-route')!.status).toBe('active');
    const warning = logger.lines.find((l) => l.level === 'warn' && /not declare/.test(l.msg ?? ''));
    expect(warning?.msg).toBe(
      `${path.join(dir, 'index.js')}:2:29: routes that plugin.yaml does not declare are not served: GET /bye/{name} — add them under endpoints in plugin.yaml`,
    );
  });

  it("an endpoint whose handler the code names differently: the hint points at the code's route", async () => {
    const dir = pluginDir('code-renamed-route', {
      'index.js': `${SDK}export default definePlugin({ routes: { 'GET /hello/{id}': () => ({ statusCode: 200 }) } });\n`,
      'plugin.yaml':
        'name: code-renamed-route\nversion: 1.0.0\nendpoints:\n  - method: GET\n    path: /hello/{name}\n',
    });
    const error = await loadError(dir);
    expect(error.message).toContain('endpoint "GET /hello/{name}" has no handler in index.js');
    expect(error.hint).toBe("the code defines 'GET /hello/{id}' instead: make the two the same");
  });

  it('no default export, a route that is not a function, an endpoint no route handles', async () => {
    expect((await loadError(fixture('code-no-default'))).location).toMatchObject({
      line: 3,
      column: 1,
    });
    await gateway!.stop();
    const bad = await loadError(fixture('bad-definition'));
    expect(bad.message).toContain('route "GET /bad-definition" must be a function, got object');
    expect(bad.location).toMatchObject({ line: 4, column: 13 });
    await gateway!.stop();
    const missing = await loadError(fixture('missing-route'));
    expect(missing.location).toMatchObject({
      file: path.join(fixture('missing-route'), 'plugin.yaml'),
      line: 6,
    });
    expect(missing.message).toContain('endpoint "DELETE /lacks/{id}" has no handler in index.js');
  });

  it('follows the plugin own imports: a syntax error two files down, at its line', async () => {
    const dir = pluginDir('deep-syntax', {
      'index.js': `${SDK}import { answer } from './lib/answer.js';\nexport default definePlugin({ routes: { 'GET /deep-syntax': () => ({ statusCode: 200, body: answer }) } });\n`,
      'lib/answer.js': "export { answer } from './value.mjs';\n",
      'lib/value.mjs': 'export const answer = 42;\nexport const broken = [1, 2;\n',
    });
    const error = await loadError(dir);
    expect(error.location).toEqual({
      file: path.join(dir, 'lib', 'value.mjs'),
      line: 2,
      column: 28,
    });
  });

  it('reads the default export through a const, a re-export and a plain object', async () => {
    const viaConst = pluginDir('via-const', {
      'index.js': `${SDK}const plugin = definePlugin({ routes: {} });\nexport default plugin;\n`,
    });
    const missing = await loadError(viaConst);
    expect(missing.message).toContain('endpoint "GET /via-const" has no handler');
    await gateway!.stop();
    const reexport = pluginDir('via-reexport', {
      'index.js': "export { default } from './impl.js';\n",
      'impl.js': 'export default function plugin() {}\n',
    });
    const fn = await loadError(reexport);
    expect(fn.message).toContain('is a function, not a plugin');
    expect(fn.location).toMatchObject({ file: path.join(reexport, 'impl.js'), line: 1 });
  });

  it('passes what it cannot know (a computed default export), and the plugin serves on first request', async () => {
    const dir = pluginDir('computed', {
      'index.js': `${SDK}const make = () => definePlugin({ routes: { 'GET /computed': () => ({ statusCode: 200, body: 'ok' }) } });\nexport default make();\n`,
    });
    const { info, boots } = await started(dir);
    expect(info.status).toBe('active');
    expect(boots).toBe(0);
    const res = await gateway!.handle({ method: 'GET', path: '/computed', headers: {} });
    expect(res).toMatchObject({ statusCode: 200, body: 'ok' });
  });
});
