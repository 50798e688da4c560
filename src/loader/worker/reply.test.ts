import { describe, expect, it } from 'vitest';
import { checkReply, plainSize } from './reply.js';

describe('checkReply', () => {
  it('passes plain data through untouched, by the walk or by serialising', () => {
    const small = { statusCode: 200, headers: { a: 'b' }, body: { list: [1, 'x', null, true] } };
    expect(checkReply(small, 'k', 1024)).toBe(small);
    const dated = { statusCode: 200, body: { at: new Date(0), tags: new Set(['a']) } };
    expect(checkReply(dated, 'k', 1024)).toBe(dated);
  });

  it.each([
    ['a function', () => 1],
    ['a promise', Promise.resolve(1)],
    ['a symbol', Symbol('s')],
    ['a proxy', new Proxy({}, {})],
    ['a proxied array', new Proxy([1], {})],
  ])('refuses %s anywhere in the reply', (_, value) => {
    expect(checkReply({ statusCode: 200, body: { nested: [value] } }, 'k', 1024)).toMatchObject({
      __pgw: 'bad-response',
    });
  });

  it('a reply without statusCode says what to return', () => {
    expect(checkReply({ hello: 'ada' } as never, 'GET /hello/{name}', 1024)).toEqual({
      __pgw: 'bad-response',
      message:
        'GET /hello/{name} returned an object without statusCode: return { statusCode: 200, body }',
    });
  });

  it('measures exactly when the walk’s bound is over the limit', () => {
    // 600 one-byte characters: the walk's bound (2 bytes each) is over 1000, the copy is not.
    expect(checkReply({ statusCode: 200, body: { s: 'x'.repeat(600) } }, 'k', 1000)).toMatchObject({
      statusCode: 200,
    });
    expect(checkReply({ statusCode: 200, body: { s: 'x'.repeat(1200) } }, 'k', 1000)).toMatchObject(
      {
        __pgw: 'too-large',
      },
    );
  });

  it('plainSize gives up on what it does not know, so that v8.serialize decides', () => {
    expect(plainSize({ a: new Map() })).toBe(-1);
    expect(plainSize({ a: 1n })).toBe(-1);
    expect(plainSize(Array.from({ length: 300 }, () => ({})))).toBe(-1);
    expect(plainSize({ a: [1, 2], b: new Uint8Array(10) })).toBeGreaterThan(10);
  });

  it('plainSize counts the objects of each reply afresh (its counter outlives no call)', () => {
    const many = Array.from({ length: 200 }, () => ({}));
    // 200 objects each, 400 in all: a count carried over would give up on the second one.
    expect(plainSize(many)).toBeGreaterThan(0);
    expect(plainSize(many)).toBeGreaterThan(0);
    // A getter that throws mid-walk leaves the count where it was: the next reply starts from zero.
    const throwing = Object.defineProperty(
      { ...Object.fromEntries(many.map((o, i) => [i, o])) },
      'z',
      {
        enumerable: true,
        get() {
          throw new Error('no');
        },
      },
    );
    expect(() => plainSize(throwing)).toThrow('no');
    expect(plainSize(many)).toBeGreaterThan(0);
  });
});
