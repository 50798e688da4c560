import { describe, expect, it } from 'vitest';
import { lazySchema } from './lazy-schema.js';
import { z } from './zod.js';

describe('lazySchema', () => {
  it('builds the schema at its first use, once', () => {
    let builds = 0;
    const schema = lazySchema(() => {
      builds++;
      return z.strictObject({ port: z.number().int() });
    });
    expect(builds).toBe(0);
    expect(schema.parse({ port: 80 })).toEqual({ port: 80 });
    expect(schema.safeParse({ port: 'x' }).success).toBe(false);
    expect(builds).toBe(1);
  });

  it('stands in for the schema: nested, wrapped, walked and checked with instanceof', () => {
    const inner = lazySchema(() => z.string().max(3));
    const outer = z.object({ name: inner.optional(), tags: z.array(inner) });
    expect(outer.parse({ tags: ['a'] })).toEqual({ tags: ['a'] });
    const failed = outer.safeParse({ name: 'long', tags: [] });
    expect(failed.success).toBe(false);
    expect(failed.error!.issues[0]!.path).toEqual(['name']);
    expect(inner).toBeInstanceOf(z.ZodString);
    expect('_zod' in inner).toBe(true);
    const shaped = lazySchema(() => z.object({ a: z.string(), b: z.number() }));
    expect(Object.keys(shaped.shape)).toEqual(['a', 'b']);
  });
});
