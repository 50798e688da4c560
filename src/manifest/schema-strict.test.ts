import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { z } from 'zod';
import { ManifestInvalidError } from '../errors.js';
import { parseManifest } from './manifest.js';
import { manifestSchema } from './schema.js';

/**
 * Where the schema has a mapping, found by walking the zod schema itself: a section added later is
 * covered here without anyone listing it. `0` stands for "an element of the list".
 */
function objectsOf(schema: z.ZodType): { path: (string | 0)[]; keys: string[] }[] {
  const found: { path: (string | 0)[]; keys: string[] }[] = [];
  const walk = (node: z.ZodType, path: (string | 0)[]): void => {
    const def = (node as unknown as { _zod: { def: Record<string, unknown> } })._zod.def;
    const inner = (key: string) => def[key] as z.ZodType;
    switch (def.type) {
      case 'object': {
        const shape = def.shape as Record<string, z.ZodType>;
        found.push({ path, keys: Object.keys(shape) });
        for (const [key, child] of Object.entries(shape)) walk(child, [...path, key]);
        return;
      }
      case 'array':
        return walk(inner('element'), [...path, 0]);
      case 'union':
        for (const option of def.options as z.ZodType[]) walk(option, path);
        return;
      case 'pipe':
        walk(inner('in'), path);
        return walk(inner('out'), path);
      case 'record':
        // Free keys (metadata): nothing to misspell.
        return;
      default:
        if (def.innerType) walk(inner('innerType'), path);
    }
  };
  walk(schema, []);
  return found;
}

/** A manifest that uses every section, each with every field: valid as it stands. */
const FULL = {
  name: 'strict',
  version: '1.0.0',
  description: 'every field',
  author: 'someone',
  license: 'MIT',
  main: 'index.js',
  runtime: { type: 'worker', version: 1 },
  resources: { cpu: 1, memory: 128, disk: 10, network: 1 },
  endpoints: [
    { path: '/a', method: 'GET', auth: 'none', rate_limit: '10/min', roles: ['x'], timeout: '1s' },
  ],
  dependencies: [{ service: 'other', version: '>=1.0.0', act_as_any_user: false }],
  feature_flags: [{ name: 'flag', default: false, description: 'a flag' }],
  warm: true,
  health_check: { endpoint: '/health', interval: '30s', timeout: '5s' },
  permissions: {
    network: ['example.com'],
    events: { subscribe: ['a.b'], publish: ['a.c'] },
  },
  metadata: { team: 'core' },
};

/** `interval` → `intervla`: a transposition, the commonest slip. */
const misspell = (key: string) => `${key.slice(0, -2)}${key.at(-1)}${key.at(-2)}`;

/** The mapping at `path` in `doc`, made (empty) when the full manifest lacks it. */
function mappingAt(doc: Record<string, unknown>, path: (string | 0)[]): Record<string, unknown> {
  let at: Record<string, unknown> | unknown[] = doc;
  path.forEach((step, i) => {
    const container = at as Record<string | number, unknown>;
    if (container[step] == null) container[step] = path[i + 1] === 0 ? [] : {};
    at = container[step] as Record<string, unknown> | unknown[];
  });
  return at as Record<string, unknown>;
}

function refusal(text: string): ManifestInvalidError {
  try {
    parseManifest(text, { file: 'plugin.yaml' });
  } catch (error) {
    expect(error).toBeInstanceOf(ManifestInvalidError);
    return error as ManifestInvalidError;
  }
  throw new Error(`accepted a manifest with a misspelt key:\n${text}`);
}

const objects = objectsOf(manifestSchema);
const cases = objects.flatMap(({ path, keys }) =>
  keys
    .filter((key) => key.length > 2 && !keys.includes(misspell(key)))
    .map((key) => ({ where: path.length === 0 ? '(top level)' : path.join('.'), path, key })),
);

describe('a misspelt key at every level of the manifest schema', () => {
  it('finds every nested section of the schema', () => {
    const wheres = objects.map((o) => o.path.join('.'));
    for (const section of [
      '',
      'runtime',
      'resources',
      'endpoints.0',
      'dependencies.0',
      'feature_flags.0',
      'health_check',
      'permissions',
      'permissions.events',
    ]) {
      expect(wheres).toContain(section);
    }
    // Every mapping the walk found has a place in the full manifest, so each case is otherwise valid.
    for (const { path } of objects)
      expect(mappingAt(structuredClone(FULL), path)).toBeTypeOf('object');
    expect(() => parseManifest(stringify(FULL))).not.toThrow();
  });

  it.each(cases)(
    '$where: "$key" misspelt is refused with file:line:col and path',
    ({ path, key }) => {
      const doc = structuredClone(FULL) as Record<string, unknown>;
      const mapping = mappingAt(doc, path);
      const typo = misspell(key);
      mapping[typo] = mapping[key] ?? 1;
      const text = stringify(doc);
      const lineIndex = text.split('\n').findIndex((l) => new RegExp(`^\\s*(- )?${typo}:`).test(l));
      expect(lineIndex).toBeGreaterThanOrEqual(0);
      const line = text.split('\n')[lineIndex]!;
      const col = line.indexOf(`${typo}:`) + 1;
      const fieldPath = [...path, typo].join('.');

      const error = refusal(text);
      // The misspelt key is the one problem: the rest of the manifest is valid.
      expect(error.problems).toEqual([
        expect.objectContaining({ file: 'plugin.yaml', line: lineIndex + 1, col, path: fieldPath }),
      ]);
      expect(error.message).toContain(
        `plugin.yaml:${lineIndex + 1}:${col} ${fieldPath}: unknown key "${typo}"`,
      );
    },
  );
});
