/**
 * The harness's check of what a plugin answers, before it leaves the thread: the shape of a response,
 * and that it can be copied to the host at all and is not too large. The copy is measured with
 * `v8.serialize`, which fails exactly where the thread's `postMessage` would (a function, a promise, a
 * symbol, a proxy, an object nested too deep): caught here, such a reply is that request's 500 and the
 * thread lives on, instead of dying in Piscina after the request was already served. Small plain data
 * (the usual JSON-like reply) is accepted by a walk that costs a fraction of a serialisation.
 * @module
 */
import { types } from 'node:util';
import { serialize } from 'node:v8';
import type { HealthStatus, PluginResponse } from '../../shared/types.js';
import type { TaskFailure } from '../../shared/task-failure.js';
import { ownReplyBody } from '../../shared/own-bytes.js';

/** A handler's return value as a response the host may take, or the failure that replaces it. */
export function checkReply(
  res: PluginResponse | void,
  key: string,
  maxBytes: number,
): PluginResponse | TaskFailure {
  if (res === undefined || res === null) return { statusCode: 204 };
  if (typeof res !== 'object') {
    return bad(`${key} returned ${typeof res}, expected { statusCode, body }`);
  }
  // A reply must never pass for the harness's own failures.
  if ('__pgw' in res) return bad(`${key} returned an object with a "__pgw" key`);
  const status = res.statusCode;
  if (status === undefined) {
    return bad(`${key} returned an object without statusCode: return { statusCode: 200, body }`);
  }
  if (!Number.isInteger(status) || status < 200 || status > 599) {
    return bad(`${key} returned statusCode ${String(status)}, expected an integer 200-599`);
  }
  if (res.headers !== undefined && (typeof res.headers !== 'object' || res.headers === null)) {
    return bad(`${key} returned headers that are not an object`);
  }
  // A view leaves the thread with its whole backing buffer: an exact-size copy carries what it shows.
  res = ownReplyBody(res);
  const body = res.body as unknown;
  // Large text or bytes are refused before paying for a copy to measure them.
  const direct =
    typeof body === 'string' ? body.length : ArrayBuffer.isView(body) ? body.byteLength : 0;
  if (direct > maxBytes) return tooLarge(key, direct, maxBytes);
  const estimate = plainSize(res);
  if (estimate >= 0 && estimate <= maxBytes) return res;
  if (deeperThan(res, MAX_REPLY_DEPTH)) {
    return bad(`${key} returned a response nested more than ${MAX_REPLY_DEPTH} levels deep`);
  }
  let size: number;
  try {
    size = serialize(res).byteLength;
  } catch (error) {
    return bad(`${key} returned a response that cannot leave the thread: ${message(error)}`);
  }
  return size > maxBytes ? tooLarge(key, size, maxBytes) : res;
}

/** A health status that can be copied to the host, or an unhealthy one saying why it cannot. */
export function checkHealth(status: HealthStatus): HealthStatus {
  try {
    serialize(status);
    return status;
  } catch (error) {
    return {
      status: 'unhealthy',
      details: {
        error: `healthCheck() returned a value that cannot leave the thread: ${message(error)}`,
      },
    };
  }
}

/** Plain data the walk accepts: at most this many objects, this deep; anything else is serialised. */
/**
 * Nesting a reply may have. A thread serialises ~12,000 levels, the host's main thread reads back
 * ~1,900 (its stack is smaller): Node drops a deeper message on the host, and the request would wait
 * for its deadline with its slot taken for ever.
 */
export const MAX_REPLY_DEPTH = 1000;

/** Whether objects in `value` nest deeper than `limit` (walked without recursion; cycles cut). */
function deeperThan(value: unknown, limit: number): boolean {
  const seen = new Set<object>();
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null || seen.has(v) || ArrayBuffer.isView(v)) continue;
    if (depth > limit) return true;
    seen.add(v);
    const items = v instanceof Map ? [...v.keys(), ...v.values()] : v instanceof Set ? [...v] : [];
    for (const item of items) stack.push([item, depth + 1]);
    for (const k of Object.keys(v)) stack.push([(v as Record<string, unknown>)[k], depth + 1]);
  }
  return false;
}

const PLAIN_OBJECTS = 256;
const PLAIN_DEPTH = 32;

/**
 * An upper bound of `value`'s serialised size when it is plain data — primitives, arrays, objects whose
 * prototype is `Object.prototype` or null, typed arrays — small enough to walk; -1 otherwise (a function,
 * symbol, proxy, class instance, `Date`, `Map`…, or too many objects), for `v8.serialize` to decide.
 */
export function plainSize(value: unknown): number {
  plainObjects = 0;
  return plainWalk(value, 0);
}

/**
 * Objects met by the walk in progress. A module-level function and counter rather than a closure made
 * per call: the closure cost the plugin's thread ~0.4 µs of its ~0.6 µs per reply (the walk itself is
 * synchronous, and the plugin's getters it runs cannot reach this module).
 */
let plainObjects = 0;

function plainWalk(v: unknown, depth: number): number {
  switch (typeof v) {
    case 'string':
      return 8 + 2 * v.length;
    case 'number':
    case 'boolean':
    case 'undefined':
      return 9;
    case 'object': {
      if (v === null) return 1;
      if (++plainObjects > PLAIN_OBJECTS || depth > PLAIN_DEPTH || types.isProxy(v)) return -1;
      if (ArrayBuffer.isView(v)) return 16 + v.byteLength;
      let size = 8;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) {
          const item = plainWalk(v[i], depth + 1);
          if (item < 0) return -1;
          size += item;
        }
        return size;
      }
      const proto = Object.getPrototypeOf(v) as unknown;
      if (proto !== Object.prototype && proto !== null) return -1;
      for (const k in v) {
        const item = plainWalk((v as Record<string, unknown>)[k], depth + 1);
        if (item < 0) return -1;
        size += 8 + 2 * k.length + item;
      }
      return size;
    }
    default:
      return -1;
  }
}

function bad(text: string): TaskFailure {
  return { __pgw: 'bad-response', message: text };
}

function tooLarge(key: string, bytes: number, maxBytes: number): TaskFailure {
  return {
    __pgw: 'too-large',
    message: `${key} returned a response of ${bytes} bytes, more than maxResponseBytes (${maxBytes})`,
  };
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
