import { describe, expect, it } from 'vitest';
import { replyBytesAtLeast } from './reply-size.js';

describe('replyBytesAtLeast', () => {
  it('counts strings, keys, bytes and array slots (holes too)', () => {
    expect(replyBytesAtLeast('abc', 100)).toBe(3);
    expect(replyBytesAtLeast(7, 100)).toBe(1);
    expect(replyBytesAtLeast({ ab: 'cde' }, 100)).toBe(5);
    expect(replyBytesAtLeast(new Uint8Array(10), 100)).toBe(10);
    // A view brings its whole backing buffer with it.
    expect(replyBytesAtLeast({ b: new Uint8Array(new ArrayBuffer(100), 0, 1) }, 1000)).toBe(101);
    expect(replyBytesAtLeast(new Array(50), 1000)).toBe(50);
    expect(replyBytesAtLeast(new Map([['k', 'vv']]), 100)).toBe(3);
  });

  it('walks an object reached twice once, however many objects the reply holds', () => {
    const shared = { s: 'x'.repeat(10) };
    // Below and beyond the short list the walk keeps before it makes a Set.
    for (const n of [3, 40]) {
      const distinct = Array.from({ length: n }, (_, i) => ({ i }));
      const reply = { list: [...distinct, shared, shared], again: shared };
      const indexes = Array.from({ length: n + 2 }, (_, i) => String(i).length);
      const listKeys = indexes.reduce((a, b) => a + b, 0);
      // keys and slots of the list, `i` and its number per object, `shared` (s + 10) counted once
      const expected = 'list'.length + (n + 2) + listKeys + n * 2 + 'again'.length + 11;
      expect(replyBytesAtLeast(reply, 1e6), `${n} objects`).toBe(expected);
    }
  });

  it('ends on a cycle, short or past the list', () => {
    const a: Record<string, unknown> = {};
    a[''] = a;
    expect(replyBytesAtLeast(a, 100)).toBe(0);
    const ring: Record<string, unknown>[] = Array.from({ length: 40 }, () => ({}));
    ring.forEach((o, i) => (o.n = ring[(i + 1) % ring.length]));
    expect(replyBytesAtLeast(ring[0], 1e6)).toBe(40);
  });

  it('stops just past the limit', () => {
    const big = Array.from({ length: 1e5 }, () => 'xxxxxxxxxx');
    const size = replyBytesAtLeast(big, 1000);
    expect(size).toBeGreaterThan(1000);
    expect(size).toBeLessThan(1000 + 1e5 + 20);
  });
});
