/**
 * Exact-size copies of binary bodies. A `Buffer` of a few KiB is usually a view on Node's shared 8 KiB
 * pool, and structured clone sends a view's whole backing store to a worker: another request's bytes
 * with it. What a plugin receives is copied to a buffer of its own length first.
 * @module
 */

/**
 * `view` itself when it owns its whole backing store, else an exact-size copy (a `Buffer` stays one).
 * A view on a `SharedArrayBuffer` is always copied: whoever shares it could change (or grow) the bytes
 * after they were checked.
 */
export function ownBytes<T extends ArrayBufferView>(view: T): T {
  const { buffer, byteOffset, byteLength } = view;
  if (byteOffset === 0 && byteLength === buffer.byteLength && isUnshared(buffer)) return view;
  const source = new Uint8Array(buffer, byteOffset, byteLength);
  if (Buffer.isBuffer(view)) {
    const copy = Buffer.allocUnsafeSlow(byteLength);
    copy.set(source);
    return copy as unknown as T;
  }
  if (view instanceof DataView) {
    return new DataView(source.slice().buffer) as unknown as T;
  }
  const Typed = view.constructor as new (b: ArrayBufferLike) => T;
  return new Typed(source.slice().buffer);
}

function isUnshared(buffer: ArrayBufferLike): boolean {
  return Object.prototype.toString.call(buffer) === '[object ArrayBuffer]';
}

/**
 * A response whose binary body is the host's own (`ownBytes`): a view on memory the plugin's thread
 * shares (a `SharedArrayBuffer`, which `postMessage` shares instead of copying) becomes a copy out of
 * its reach. Other bodies are left as they are.
 */
export function ownReplyBody<T extends { body?: unknown }>(response: T): T {
  const { body } = response;
  if (!ArrayBuffer.isView(body)) return response;
  const owned = ownBytes(body);
  return owned === body ? response : { ...response, body: owned };
}

/** Nesting followed at most; a deeper body is refused rather than walked (or cloned) further. */
export const MAX_BODY_DEPTH = 256;

/**
 * A body whose every typed-array view owns exactly its bytes: the body itself when it has no view that
 * does not, else a copy of the objects and arrays on the way to each such view. Plain JSON values are
 * returned as they are, at the cost of one walk.
 * @param envelope levels of a message around the body allowed on top of {@link MAX_BODY_DEPTH}
 * @throws {RangeError} for a body nested deeper than {@link MAX_BODY_DEPTH} (plus `envelope`).
 */
export function ownBody(body: unknown, envelope = 0): unknown {
  if (body === null || typeof body !== 'object') return body;
  return walk(body, -envelope);
}

function walk(value: object, depth: number): object {
  if (ArrayBuffer.isView(value)) return ownBytes(value);
  if (depth >= MAX_BODY_DEPTH) {
    throw new RangeError(`the body is nested more than ${MAX_BODY_DEPTH} levels deep`);
  }
  if (Array.isArray(value)) {
    let list: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (item === null || typeof item !== 'object') continue;
      const owned = walk(item, depth + 1);
      if (owned !== item) (list ??= value.slice())[i] = owned;
    }
    return list ?? value;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null) {
    // Maps, Sets, Dates, class instances: not walked (their views, if any, are cloned as they are).
    return value;
  }
  let copy: Record<string, unknown> | undefined;
  for (const key in value) {
    const item = (value as Record<string, unknown>)[key];
    if (item === null || typeof item !== 'object') continue;
    const owned = walk(item, depth + 1);
    if (owned !== item) (copy ??= { ...(value as Record<string, unknown>) })[key] = owned;
  }
  return copy ?? value;
}
