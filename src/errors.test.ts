import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as api from './index.js';
import {
  ErrorCodes,
  ErrorStatus,
  GatewayError,
  ManifestInvalidError,
  PluginBootTimeoutError,
  PluginLoadError,
} from './errors.js';

describe('errors', () => {
  const doc = readFileSync(path.resolve(import.meta.dirname, '../docs/errors.md'), 'utf8');

  it('documents every code in docs/errors.md, with an anchor each', () => {
    for (const code of Object.values(ErrorCodes))
      expect(doc, code).toContain(`<a id="${code}"></a>`);
  });

  it('documents no code that does not exist', () => {
    const codes = new Set<string>(Object.values(ErrorCodes));
    const documented = [...doc.matchAll(/PGW_ERR_[A-Z_]+/g)].map((m) => m[0]);
    expect(documented.filter((code) => !codes.has(code))).toEqual([]);
  });

  it("gives every code one status row in docs/errors.md's tables, the status of the error table", () => {
    const rows = [...doc.matchAll(/^\| (\d{3}) +\| `(PGW_ERR_[A-Z_]+)` +\|/gm)];
    const documented = Object.fromEntries(rows.map(([, status, code]) => [code, Number(status)]));
    expect(rows.length).toBe(Object.keys(ErrorStatus).length);
    expect(documented).toEqual(ErrorStatus);
    expect(Object.keys(ErrorStatus).sort()).toEqual(Object.values(ErrorCodes).sort());
  });

  it('gives every error class a code, and exports it with a type guard where a host would catch it', () => {
    const classes = Object.entries(api).filter(
      ([name, value]) =>
        typeof value === 'function' && /^[A-Z]\w*Error$/.test(name) && name !== 'GatewayError',
    );
    for (const [name, cls] of classes) {
      const error = new (cls as new (m: unknown) => { code: string })(
        name === 'ManifestInvalidError' ? [] : 'x',
      );
      expect(Object.values(ErrorCodes), name).toContain(error.code);
    }
    for (const guard of [
      'isGatewayError',
      'isInvalidArgumentError',
      'isManifestInvalidError',
      'isPluginLoadError',
      'isPluginBootTimeoutError',
      'isPluginNotFoundError',
      'isPluginExistsError',
      'isRouteConflictError',
      'isCatalogInvalidError',
      'isRegistryError',
    ]) {
      expect(typeof (api as Record<string, unknown>)[guard], guard).toBe('function');
    }
  });

  it('makes a boot timeout a kind of load failure', () => {
    const error = new PluginBootTimeoutError('slow', { plugin: 'p' });
    expect(error.code).toBe('PGW_ERR_PLUGIN_BOOT_TIMEOUT');
    expect(error).toBeInstanceOf(PluginLoadError);
    expect(api.isPluginLoadError(error)).toBe(true);
    expect(api.isPluginBootTimeoutError(new PluginLoadError('x'))).toBe(false);
  });

  it('exports every error class from the entry point', () => {
    expect(api.PluginLoadError).toBe(PluginLoadError);
    expect(api.ErrorCodes).toBe(ErrorCodes);
  });

  it('keeps instanceof working across copies of the package, by brand', () => {
    const error = new PluginLoadError('x', { plugin: 'p' });
    // What another copy of the package would build: same brand, different class.
    const foreign = Object.assign(Object.create(Error.prototype), { code: 'PGW_ERR_PLUGIN_LOAD' });
    Object.defineProperty(foreign, Symbol.for('plugin-gateway.error.PGW_ERR_PLUGIN_LOAD'), {
      value: true,
    });
    Object.defineProperty(foreign, Symbol.for('plugin-gateway.error'), { value: true });
    expect(error).toBeInstanceOf(GatewayError);
    expect(foreign).toBeInstanceOf(PluginLoadError);
    expect(foreign).toBeInstanceOf(GatewayError);
    expect(error).not.toBeInstanceOf(ManifestInvalidError);
    expect(error).toMatchObject({
      name: 'PluginLoadError',
      code: 'PGW_ERR_PLUGIN_LOAD',
      plugin: 'p',
    });
    expect(api.isPluginLoadError(error)).toBe(true);
    expect(api.isGatewayError(new Error('x'))).toBe(false);
  });
});
