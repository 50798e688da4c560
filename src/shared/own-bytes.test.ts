import { describe, expect, it } from 'vitest';
import { MAX_BODY_DEPTH, ownBody, ownBytes } from './own-bytes.js';

/** A view on a larger store, as Node's pooled Buffers are. */
const pooled = () => {
  const store = new ArrayBuffer(64);
  new Uint8Array(store).fill(0xee);
  const view = new Uint8Array(store, 8, 4);
  view.set([1, 2, 3, 4]);
  return view;
};

const owns = (view: ArrayBufferView, bytes: number[]) => {
  expect(view.byteOffset).toBe(0);
  expect(view.buffer.byteLength).toBe(view.byteLength);
  expect([...new Uint8Array(view.buffer)]).toEqual(bytes);
};

describe('ownBytes', () => {
  it('returns a view that owns its whole store as it is', () => {
    const own = new Uint8Array([1, 2]);
    expect(ownBytes(own)).toBe(own);
  });

  it('copies a view at an offset, or shorter than its store, to exactly its bytes', () => {
    const atOffset = pooled();
    const copy = ownBytes(atOffset);
    expect(copy).toBeInstanceOf(Uint8Array);
    owns(copy, [1, 2, 3, 4]);
    const head = new Uint8Array(new ArrayBuffer(16), 0, 2);
    head.set([9, 8]);
    owns(ownBytes(head), [9, 8]);
  });

  it('keeps the kind of view: a Buffer stays a Buffer, a DataView a DataView, a typed array its type', () => {
    const buffer = Buffer.from('x'); // on Node's pool
    const copy = ownBytes(buffer);
    expect(Buffer.isBuffer(copy)).toBe(true);
    owns(copy, [0x78]);
    const store = new ArrayBuffer(32);
    const data = new DataView(store, 4, 8);
    data.setUint8(0, 7);
    const dataCopy = ownBytes(data);
    expect(dataCopy).toBeInstanceOf(DataView);
    owns(dataCopy, [7, 0, 0, 0, 0, 0, 0, 0]);
    const words = new Uint16Array(store, 8, 2);
    words.set([0x0102, 0x0304]);
    const wordsCopy = ownBytes(words);
    expect(wordsCopy).toBeInstanceOf(Uint16Array);
    expect([...wordsCopy]).toEqual([0x0102, 0x0304]);
    expect(wordsCopy.buffer.byteLength).toBe(4);
  });
});

describe('ownBody', () => {
  it('returns plain values and bodies without views as they are', () => {
    for (const value of [null, undefined, 1, 'text', true]) expect(ownBody(value)).toBe(value);
    const json = { a: [1, { b: 'c' }], d: null };
    expect(ownBody(json)).toBe(json);
  });

  it('copies the objects and arrays on the way to a pooled view, and nothing else', () => {
    const shared = { untouched: true };
    const body = { file: pooled(), list: [1, pooled(), shared], shared };
    const owned = ownBody(body) as typeof body;
    expect(owned).not.toBe(body);
    expect(owned.list).not.toBe(body.list);
    expect(owned.shared).toBe(shared);
    owns(owned.file, [1, 2, 3, 4]);
    owns(owned.list[1] as Uint8Array, [1, 2, 3, 4]);
    expect(owned.list[0]).toBe(1);
    // The caller's body is left as it was.
    expect(body.file.byteOffset).toBe(8);
    const list = [pooled()];
    owns((ownBody(list) as Uint8Array[])[0]!, [1, 2, 3, 4]);
  });

  it('leaves Maps, Dates and class instances unwalked, and a null-prototype object walked', () => {
    const map = new Map([['k', pooled()]]);
    expect(ownBody({ map }) as object).toEqual({ map });
    class Upload {
      file = pooled();
    }
    const upload = new Upload();
    expect((ownBody({ upload }) as { upload: Upload }).upload).toBe(upload);
    const bare = Object.assign(Object.create(null) as object, { file: pooled() });
    owns((ownBody(bare) as { file: Uint8Array }).file, [1, 2, 3, 4]);
  });

  it(`refuses a body nested more than ${MAX_BODY_DEPTH} levels deep`, () => {
    let deep: unknown = {};
    for (let i = 0; i < MAX_BODY_DEPTH; i++) deep = { deep };
    expect(() => ownBody(deep)).toThrow(
      new RangeError(`the body is nested more than ${MAX_BODY_DEPTH} levels deep`),
    );
    let ok: unknown = 'leaf';
    for (let i = 0; i < MAX_BODY_DEPTH; i++) ok = { ok };
    expect(() => ownBody(ok)).not.toThrow();
    // Nulls and primitives in lists are leaves, however deep.
    expect(ownBody([null, 'a', 1])).toEqual([null, 'a', 1]);
    let leafList: unknown = 'leaf';
    for (let i = 0; i < MAX_BODY_DEPTH; i++) leafList = [leafList];
    expect(() => ownBody(leafList)).not.toThrow();
    let list: unknown = {};
    for (let i = 0; i < MAX_BODY_DEPTH; i++) list = [list];
    expect(() => ownBody(list)).toThrow(RangeError);
  });
});
