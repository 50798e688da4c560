// Issue 12: any manifest text → a valid manifest or a typed, located error; never a crash, never a hang.
import fc from 'fast-check';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { isManifestInvalidError, parseManifest } from '../../src/index.js';
import { fuzzSettings } from './fuzz-settings.js';

const VALID = {
  name: 'orders',
  version: '1.2.3',
  runtime: { type: 'worker' },
  resources: { cpu: 1, memory: 64 },
  endpoints: [
    { path: '/orders/{id}', method: 'GET', timeout: '2s', rate_limit: '100/min' },
    { path: '/orders', method: 'POST', roles: ['admin'] },
  ],
  permissions: { events: { subscribe: ['order.*'], publish: ['order.created'] } },
  feature_flags: [{ name: 'beta', default: false }],
};

/** A field of the valid manifest replaced by anything, at any depth. */
const mutated = fc
  .tuple(fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), fc.anything())
  .map(([path, value]) => {
    const copy = structuredClone(VALID) as Record<string, unknown>;
    let node: unknown = copy;
    for (let i = 0; i < path.length; i++) {
      if (typeof node !== 'object' || node === null) break;
      const keys = Object.keys(node);
      if (keys.length === 0) break;
      const key = keys[path[i]! % keys.length]!;
      if (i === path.length - 1 || typeof (node as Record<string, unknown>)[key] !== 'object') {
        (node as Record<string, unknown>)[key] = value;
        break;
      }
      node = (node as Record<string, unknown>)[key];
    }
    return stringify(copy);
  });

/** YAML-looking noise: anchors, aliases, tags, flow and block mixed. */
const yamlish = fc
  .array(
    fc.constantFrom(
      'name: x\n',
      'version: 1.0.0\n',
      'endpoints:\n',
      '  - ',
      '{',
      '}',
      '[',
      ']',
      ': ',
      '&a ',
      '*a ',
      '!!binary ',
      '!!js/function ',
      '<<: *a\n',
      '---\n',
      '...\n',
      '"',
      "'",
      '|\n',
      '>\n',
      '#',
      '\t',
      '    ',
      'path: /x\n',
      'method: GET\n',
      '? ',
      '%YAML 1.2\n',
      '\\u0000',
      '~',
      'null',
      '1e999',
    ),
    { maxLength: 60 },
  )
  .map((parts) => parts.join(''));

const text = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 400 }),
  yamlish,
  mutated,
  fc.anything().map((v) => {
    try {
      return String(stringify(v));
    } catch {
      return String(v);
    }
  }),
);

describe('fuzz: parseManifest', () => {
  it('a collection as a mapping key: refused, and no process warning leaks into the host', async () => {
    const warnings: string[] = [];
    const listener = (w: Error) => warnings.push(w.message);
    process.on('warning', listener);
    try {
      expect(() => parseManifest('? [a, b]\n: 1\nname: x\n')).toThrow(/plugin\.yaml/);
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', listener);
    }
    expect(warnings).toEqual([]);
  });

  it('any text: a manifest or a ManifestInvalidError naming the file, never a crash nor a warning', async () => {
    const warnings: string[] = [];
    const listener = (w: Error) => warnings.push(w.message);
    process.on('warning', listener);
    let slowestMs = 0;
    let slowestInput = '';
    let valid = 0;
    fc.assert(
      fc.property(text, (input) => {
        const started = performance.now();
        try {
          const manifest = parseManifest(input, { file: 'fuzz/plugin.yaml' });
          expect(typeof manifest.name).toBe('string');
          valid++;
        } catch (error) {
          if (!isManifestInvalidError(error)) throw error;
          expect(error.message).toContain('fuzz/plugin.yaml');
        } finally {
          const ms = performance.now() - started;
          if (ms > slowestMs) [slowestMs, slowestInput] = [ms, input];
        }
      }),
      fuzzSettings('parseManifest', 1500),
    );
    // process.emitWarning delivers on the next tick.
    await new Promise((r) => setImmediate(r));
    process.off('warning', listener);
    expect(warnings).toEqual([]);
    // Measured, not asserted (no timing thresholds in tests): the hang guard is that every parse returned.
    console.log(
      `[fuzz] parseManifest: ${valid} valid; slowest parse ${slowestMs.toFixed(2)} ms (${slowestInput.length} chars)`,
    );
  });
});
