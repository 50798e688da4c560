/**
 * Suggestions for unknown keys, derived from the zod schema that refused them, so they can never drift
 * from what the schema accepts: the keys known beside the misspelt one, then the same key elsewhere.
 * @module
 */
import type { z } from 'zod';

/** Known keys by location: `''` for the top level, `endpoints.*` for each endpoint, and so on. */
export type KeyMap = ReadonlyMap<string, readonly string[]>;

interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  element?: z.ZodType;
  options?: readonly z.ZodType[];
  shape?: Record<string, z.ZodType>;
}

const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** Walks an object schema (through optional, default, pipes, arrays and unions) and lists its keys. */
export function knownKeys(schema: z.ZodType): KeyMap {
  const keys = new Map<string, string[]>();
  const walk = (node: z.ZodType, at: string): void => {
    const def = defOf(node);
    switch (def.type) {
      case 'object': {
        const names = Object.keys(def.shape ?? {});
        keys.set(at, [...(keys.get(at) ?? []), ...names]);
        for (const name of names) walk(def.shape![name]!, at === '' ? name : `${at}.${name}`);
        return;
      }
      case 'array':
        return walk(def.element!, at === '' ? '*' : `${at}.*`);
      case 'union':
        for (const option of def.options ?? []) walk(option, at);
        return;
      case 'pipe':
        return walk(def.in!, at);
      default:
        if (def.innerType) walk(def.innerType, at);
    }
  };
  walk(schema, '');
  return keys;
}

/**
 * {@link knownKeys} of `schema`, walked at the first call rather than when the calling module loads
 * (its schemas are built at their first use: `lazy-schema.ts`).
 */
export function knownKeysLater(schema: z.ZodType): () => KeyMap {
  let keys: KeyMap | undefined;
  return () => (keys ??= knownKeys(schema));
}

/**
 * ` (did you mean "endpoints"?)` for a key within two edits of one known at the same place, or
 * ` (it belongs under health_check)` for a key known elsewhere; `''` when nothing fits.
 */
export function suggestKey(keys: KeyMap, path: readonly PropertyKey[], key: string): string {
  const at = path.map((p) => (typeof p === 'number' ? '*' : String(p))).join('.');
  let best: string | undefined;
  let bestDistance = 3;
  for (const known of keys.get(at) ?? []) {
    const d = editDistance(key.toLowerCase(), known.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [known, d];
  }
  if (best) return ` (did you mean "${best}"?)`;
  for (const [place, names] of keys) {
    if (place !== at && names.includes(key)) {
      return ` (it belongs under ${place.replaceAll('.*', '[]').replaceAll('*', '[]')})`;
    }
  }
  return '';
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}
