// docs/reference/plugin-yaml.md against the manifest schema, both ways: a field added to the schema
// without a row (or its parent's row) fails, and so does a row for a field the schema does not have.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { manifestSchema } from '../src/manifest/schema.js';
import { knownKeys } from '../src/shared/schema-keys.js';

const root = path.resolve(import.meta.dirname, '..');

/** Every field the schema accepts, spelt as the reference spells it (`endpoints[].path`). */
function schemaFields(): Set<string> {
  const fields = new Set<string>();
  for (const [at, keys] of knownKeys(manifestSchema)) {
    const parent = at.replace(/\.\*/g, '[]').replace(/^\*$/, '');
    for (const key of keys) fields.add(parent === '' ? key : `${parent}.${key}`);
  }
  return fields;
}

/** The fields named in the first column of the reference table; `a.b` / `c` names `a.b` and `a.c`. */
function documentedFields(): Set<string> {
  const text = readFileSync(path.join(root, 'docs/reference/plugin-yaml.md'), 'utf8');
  const fields = new Set<string>();
  for (const [, cell] of text.matchAll(/^\| (`[^|]+?) +\|/gm)) {
    const names = [...cell!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    const first = names[0]!;
    const parent = first.includes('.') ? first.slice(0, first.lastIndexOf('.') + 1) : '';
    fields.add(first);
    for (const name of names.slice(1)) fields.add(cell!.includes(' / ') ? parent + name : name);
  }
  return fields;
}

const ancestors = (field: string): string[] =>
  field
    .split('.')
    .map((_, i, parts) => parts.slice(0, i + 1).join('.'))
    .flatMap((p) => (p.endsWith('[]') ? [p, p.slice(0, -2)] : [p]));

describe('the plugin.yaml reference', () => {
  const schema = schemaFields();
  const documented = documentedFields();

  it('reads both sides', () => {
    expect(schema.size).toBeGreaterThan(20);
    expect(documented.size).toBeGreaterThan(15);
  });

  it('documents every field of the schema (in its own row or its parent object’s)', () => {
    const isObject = (f: string) =>
      [...schema].some((g) => g.startsWith(`${f}.`) || g.startsWith(`${f}[].`));
    const missing = [...schema]
      .filter((f) => !isObject(f))
      .filter((f) => !ancestors(f).some((a) => documented.has(a)));
    expect(missing).toEqual([]);
  });

  it('documents no field the schema does not accept', () => {
    const known = new Set([...schema].flatMap((f) => ancestors(f)));
    expect([...documented].filter((f) => !known.has(f))).toEqual([]);
  });
});
