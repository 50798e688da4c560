import { describe, expect, it } from 'vitest';
import { definePlugin, isPluginDefinition } from './index.js';

describe('definePlugin', () => {
  it('returns the definition, branded', () => {
    const def = { routes: { 'GET /a/{id}': () => ({ statusCode: 200 }) } };
    expect(definePlugin(def)).toBe(def);
    expect(isPluginDefinition(def)).toBe(true);
    expect(isPluginDefinition({})).toBe(false);
  });

  it('names what is wrong', () => {
    expect(() => definePlugin(null as never)).toThrow('definePlugin() expects an object');
    expect(() => definePlugin({ start: 'soon' } as never)).toThrow(
      '"start" must be a function, got string',
    );
    expect(() => definePlugin({ routes: { '/a': () => undefined } })).toThrow(
      'route "/a" must look like "GET /path/{param}"',
    );
    expect(() => definePlugin({ routes: { 'GET /a': 42 } } as never)).toThrow(
      'route "GET /a" must be a function, got number',
    );
    expect(() => definePlugin({ stop: 1 } as never)).toThrow(
      expect.objectContaining({ code: 'PGW_ERR_PLUGIN_DEFINITION', name: 'PluginDefinitionError' }),
    );
  });
});
