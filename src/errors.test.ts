import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as api from './index.js';
import { ErrorCodes, GatewayError, ManifestInvalidError, PluginLoadError } from './errors.js';

describe('errors', () => {
  it('documents every code in docs/errors.md, with an anchor each', () => {
    const doc = readFileSync(path.resolve(import.meta.dirname, '../docs/errors.md'), 'utf8');
    for (const code of Object.values(ErrorCodes))
      expect(doc, code).toContain(`<a id="${code}"></a>`);
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
