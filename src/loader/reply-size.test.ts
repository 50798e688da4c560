import { describe, expect, it } from 'vitest';
import { oversizedReply, plainBytesAtMost, replyBytesAtLeast } from './reply-size.js';

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

describe('plainBytesAtMost (the fast bound oversizedReply tries first)', () => {
  const echo = {
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    body: { userId: 456, trackIds: [101, 202, 303, 404], context: { device: 'web' } },
  };

  it('equals the full walk on a tree of plain data, holes and named array keys included', () => {
    const list: unknown[] = [1, , 'abc'];
    (list as unknown as Record<string, unknown>).named = 'xyz';
    for (const reply of [echo, { list }, [], {}, 'text', 7, null, Object.create(null)]) {
      expect(plainBytesAtMost(reply, 1e6)).toBe(replyBytesAtLeast(reply, 1e6));
    }
  });

  it('is never below the full walk: an object reached twice counts twice', () => {
    const shared = { s: 'x'.repeat(10) };
    const reply = { a: shared, b: shared };
    expect(plainBytesAtMost(reply, 1e6)).toBeGreaterThan(replyBytesAtLeast(reply, 1e6));
  });

  it('leaves to the full walk what it does not bound: views, maps, cycles, depth, size', () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    let deep: unknown = 'leaf';
    for (let i = 0; i < 20; i++) deep = { deep };
    for (const reply of [
      { body: new Uint8Array(4) },
      new Map([['k', 'v']]),
      { at: new Date(0) },
      cycle,
      deep,
      { body: 'x'.repeat(2000) },
      new Array(5000),
    ]) {
      expect(plainBytesAtMost(reply, 1000)).toBe(-1);
    }
  });

  it('changes no verdict of oversizedReply: a large string on an array key is still refused', () => {
    const list: unknown[] = [];
    (list as unknown as Record<string, unknown>).hidden = 'x'.repeat(5000);
    expect(oversizedReply({ statusCode: 200, body: list }, 1000)?.__pgw).toBe('too-large');
    expect(oversizedReply({ statusCode: 200, body: 'x'.repeat(900) }, 1000)).toBeUndefined();
    expect(oversizedReply({ statusCode: 200, body: 'x'.repeat(1001) }, 1000)?.__pgw).toBe(
      'too-large',
    );
    expect(oversizedReply(echo, 1000)).toBeUndefined();
  });
});
