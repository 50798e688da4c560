import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  isPluginCodeError,
  isPluginLoadError,
  type PluginCodeError,
  type PluginGateway,
} from '../../src/index.js';
import { fixture, gatewayWith, get, memoryLogger } from '../helpers.js';

/** Loads a fixture expecting a PluginCodeError; returns it. */
async function codeError(gateway: PluginGateway, name: string): Promise<PluginCodeError> {
  const error = await gateway.load(fixture(name)).catch((e: unknown) => e);
  expect(isPluginCodeError(error), String(error)).toBe(true);
  expect(isPluginLoadError(error)).toBe(true);
  expect(gateway.list()).toEqual([]);
  return error as PluginCodeError;
}

describe('errors from loading plugin code name the file and line, and what to do', () => {
  let gateway: PluginGateway | undefined;
  afterEach(async () => {
    await gateway?.stop();
    gateway = undefined;
  });

  it('a syntax error in an ES module: file, line, column (Node 20 gives none)', async () => {
    gateway = await gatewayWith([]);
    const error = await codeError(gateway, 'code-syntax');
    const file = path.join(fixture('code-syntax'), 'index.js');
    expect(error.code).toBe('PGW_ERR_PLUGIN_CODE');
    expect(error.location).toMatchObject({ file, line: 5 });
    expect(error.message).toContain(`${file}:5:`);
    expect(error.message).toContain("Unexpected token ')'");
    expect(error.hint).toMatch(/fix the syntax/);
  });

  it('ES module syntax in a "type": "commonjs" package: the package.json to change', async () => {
    gateway = await gatewayWith([]);
    const error = await codeError(gateway, 'code-commonjs');
    expect(error.location).toMatchObject({
      file: path.join(fixture('code-commonjs'), 'index.js'),
      line: 1,
    });
    expect(error.message).toContain('Cannot use import statement outside a module');
    expect(error.hint).toContain(`"type": "module" in ${fixture('code-commonjs')}/package.json`);
  });

  it('a package that is not installed: the import line and the npm command', async () => {
    gateway = await gatewayWith([]);
    const error = await codeError(gateway, 'code-missing-package');
    expect(error.location).toMatchObject({ line: 2, column: 21 });
    expect(error.hint).toBe("install it in the plugin's folder: npm i left-pad-not-installed");
  });

  it('a relative import without its extension: the import line', async () => {
    gateway = await gatewayWith([]);
    const error = await codeError(gateway, 'code-missing-file');
    expect(error.location).toMatchObject({ line: 3 });
    expect(error.message).toContain('cannot find module "helper"');
    expect(error.hint).toContain('"./file.js"');
  });

  it('no default export: the line to change, not "object is not extensible"', async () => {
    gateway = await gatewayWith([]);
    const error = await codeError(gateway, 'code-no-default');
    expect(error.location).toMatchObject({ line: 3, column: 1 });
    expect(error.message).toContain('has no default export');
    expect(error.message).not.toContain('not extensible');
    expect(error.hint).toContain('export default definePlugin(');
  });

  it('a definePlugin() mistake: the line of the call', async () => {
    gateway = await gatewayWith([], { warm: true });
    const error = await codeError(gateway, 'bad-definition');
    expect(error.message).toContain('route "GET /bad-definition" must be a function, got object');
    expect(error.location).toMatchObject({
      file: path.join(fixture('bad-definition'), 'index.js'),
      line: 3,
    });
  });

  it('a SyntaxError the plugin raises while running (JSON.parse in initialize) is located by its stack', async () => {
    gateway = await gatewayWith([], { warm: true });
    const error = await codeError(gateway, 'init-syntax-error');
    expect(error.location).toMatchObject({
      file: path.join(fixture('init-syntax-error'), 'index.js'),
      line: 5,
    });
  });

  it('warns at load about a route the code defines and plugin.yaml does not declare', async () => {
    const logger = memoryLogger();
    gateway = await gatewayWith(['code-undeclared-route'], { warm: true, logger });
    const warning = logger.lines.find((l) => l.level === 'warn' && /does not declare/.test(l.msg!));
    expect(warning).toMatchObject({
      plugin_id: 'code-undeclared-route',
      routes: ['POST /code-undeclared-route/extra'],
    });
  });
});

describe.each(['worker', 'process'] as const)('TypeScript plugins (%s runtime)', (runtime) => {
  let gateway: PluginGateway | undefined;
  afterEach(async () => {
    await gateway?.stop();
    gateway = undefined;
  });

  it('loads main: index.ts, with its .ts imports, and maps stack traces to the .ts line', async () => {
    const logger = memoryLogger();
    const name = runtime === 'process' ? 'proc-ts-hello' : 'ts-hello';
    gateway = await gatewayWith([name], { logger, sandbox: { bwrap: false } });
    const res = await get(gateway, `/${name}?name=ts`);
    expect(res).toMatchObject({ statusCode: 200, body: { message: 'hello ts' } });
    expect((await get(gateway, `/${name}/boom`)).statusCode).toBe(500);
    const logged = JSON.stringify(logger.lines.filter((l) => l.level !== 'debug'));
    expect(logged).toContain('boom from TypeScript');
    expect(logged).toContain(`${path.join(fixture(name), 'index.ts')}:15:13`);
  });

  it('a syntax error in a .ts entry is located in the .ts file', async () => {
    gateway = await gatewayWith([]);
    const error = await codeError(gateway, 'ts-syntax');
    expect(error.location).toEqual({
      file: path.join(fixture('ts-syntax'), 'index.ts'),
      line: 3,
      column: 24,
    });
  });
});
