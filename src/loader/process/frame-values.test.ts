import { Encoder } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { overValueBudget } from './frame-values.js';

const encode = (value: unknown) => new Encoder().encode(value);

/** Values as the counter counts them: every scalar, string, array and map, and each map key. */
function valuesOf(value: unknown): number {
  if (Array.isArray(value)) return 1 + value.reduce((n: number, v) => n + valuesOf(v), 0);
  if (value instanceof Uint8Array || value instanceof Date) return 1;
  if (value !== null && typeof value === 'object')
    return 1 + Object.values(value).reduce((n: number, v) => n + 1 + valuesOf(v), 0);
  return 1;
}

describe('values of a MessagePack frame, counted before decoding', () => {
  const samples: unknown[] = [
    null,
    true,
    -1,
    -200,
    70_000,
    2 ** 40,
    -(2 ** 40),
    1.5,
    'short',
    'x'.repeat(40),
    'y'.repeat(300),
    'z'.repeat(70_000),
    new Uint8Array(10),
    new Uint8Array(300),
    new Uint8Array(70_000),
    new Date(1_700_000_000_123),
    new Date(2 ** 40 * 1000),
    Array.from({ length: 20 }, (_, i) => i),
    Array.from({ length: 70_000 }, () => ({})),
    Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, [i, { i }]])),
    { pgw: 'result', s: 3, r: { statusCode: 200, headers: { a: 'b' }, body: new Uint8Array(9) } },
  ];
  it.each(samples.map((s, i) => [i, s]))('sample %i: exactly its values', (_, sample) => {
    const bytes = encode(sample);
    const n = valuesOf(sample);
    expect(overValueBudget(bytes, n)).toBe(false);
    expect(overValueBudget(bytes, n - 1)).toBe(true);
  });

  it('stops at the budget: 8 million empty maps are refused after the budget, not walked', () => {
    const n = 8 * 1024 * 1024;
    const bytes = new Uint8Array(5 + n).fill(0x80);
    bytes[0] = 0xdd;
    new DataView(bytes.buffer).setUint32(1, n);
    expect(overValueBudget(bytes, 262_144)).toBe(true);
  });

  it('malformed or truncated bytes end the count (the decoder refuses them)', () => {
    expect(overValueBudget(Uint8Array.of(0xc1, 0x80, 0x80), 1)).toBe(false);
    expect(overValueBudget(Uint8Array.of(0xdb, 0xff), 1)).toBe(false);
  });
});
