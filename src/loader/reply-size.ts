/**
 * The host's own measure of a reply that arrived from a plugin's thread. The thread's harness checks
 * `maxResponseBytes` before the reply leaves, but the thread runs the plugin's code, which can change
 * the message after that check (wrap `postMessage`): the host measures again before it takes the reply
 * any further. The walk counts what the serialised copy holds at least — a character per string
 * character, a byte per byte of a typed array's whole backing buffer (which the copy carries, however
 * few bytes the view shows: a 1-byte view on 1 GiB brought the host 1 GiB), a byte per array slot (a hole too: JSON writes it `null`) —
 * and stops as soon as the count passes the limit, so a reply costs the host at most the limit's worth of walking beyond the copy it already received.
 * @module
 */
import type { TaskFailure } from '../shared/task-failure.js';

/** Objects a walk remembers in a list before it moves them to a `Set` (a reply is most often a few). */
const FEW_OBJECTS = 16;

/** At least how many bytes `value` serialises to, counting up to just past `limit` (then stopping). */
export function replyBytesAtLeast(value: unknown, limit: number): number {
  if (typeof value !== 'object' || value === null) {
    return typeof value === 'string' ? value.length : 1;
  }
  let size = 0;
  // Each object is walked once. A list for the first few: a Set made for every reply of a request
  // was the largest part of this walk's cost on the request path.
  const few: object[] = [];
  let seen: Set<object> | undefined;
  const stack: unknown[] = [value];
  while (stack.length > 0 && size <= limit) {
    const v = stack.pop();
    if (typeof v === 'string') size += v.length;
    else if (typeof v !== 'object' || v === null) size += 1;
    else if (seen !== undefined ? seen.has(v) : few.includes(v)) continue;
    else {
      if (seen !== undefined) seen.add(v);
      else if (few.length < FEW_OBJECTS) few.push(v);
      else (seen = new Set(few)).add(v);
      // Structured clone copies a view's whole backing buffer, not the bytes the view shows.
      if (ArrayBuffer.isView(v)) stack.push(v.buffer);
      else if (v instanceof ArrayBuffer || v instanceof SharedArrayBuffer) size += v.byteLength;
      else {
        // A sparse array's holes have no keys, but JSON.stringify writes every one of them.
        if (Array.isArray(v)) size += v.length;
        if (size > limit) break;
        if (v instanceof Map) for (const [k, item] of v) stack.push(k, item);
        else if (v instanceof Set) for (const item of v) stack.push(item);
        for (const k of Object.keys(v)) {
          size += k.length;
          stack.push((v as Record<string, unknown>)[k]);
        }
      }
    }
  }
  return size;
}

/**
 * The failure that replaces a reply larger than `maxBytes` (by the host's measure), or undefined when
 * it is within it.
 */
export function oversizedReply(reply: unknown, maxBytes: number): TaskFailure | undefined {
  // A small tree of plain data, the usual reply, is within the limit by a bound no smaller than the
  // full walk's count: that walk's list, stack and key arrays are not needed for it.
  const bound = plainBytesAtMost(reply, maxBytes);
  if (bound >= 0 && bound <= maxBytes) return undefined;
  const size = replyBytesAtLeast(reply, maxBytes);
  if (size <= maxBytes) return undefined;
  return {
    __pgw: 'too-large',
    message: `the plugin's thread handed the host a response of more than maxResponseBytes (${maxBytes}), past its own check`,
  };
}

/** Objects and nesting the bound walks at most before it leaves the reply to the full walk. */
const BOUND_OBJECTS = 64;
const BOUND_DEPTH = 16;

/**
 * Objects met by the bound in progress: a module-level counter rather than a closure made per reply
 * (the walk is synchronous, and a structured-cloned reply has no getters to re-enter it).
 */
let boundObjects = 0;

/**
 * A count no smaller than {@link replyBytesAtLeast}'s for `value`, when it is a small tree of plain
 * data (strings, numbers, booleans, `null`, arrays, objects of `Object.prototype` or none); -1 for
 * anything else (a view, a buffer, a `Map`, a `Set`, a class instance, too many objects or too deep,
 * more than `limit`), which the full walk then measures. An object reached twice is counted twice,
 * which only makes the bound larger.
 */
export function plainBytesAtMost(value: unknown, limit: number): number {
  boundObjects = 0;
  return boundWalk(value, 0, limit);
}

function boundWalk(v: unknown, depth: number, limit: number): number {
  if (typeof v === 'string') return v.length;
  if (typeof v !== 'object' || v === null) return 1;
  if (++boundObjects > BOUND_OBJECTS || depth > BOUND_DEPTH) return -1;
  if (Array.isArray(v)) return arrayBound(v, depth, limit);
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto !== Object.prototype && proto !== null) return -1;
  let size = 0;
  for (const k in v) {
    const item = boundWalk((v as Record<string, unknown>)[k], depth + 1, limit);
    if (item < 0) return -1;
    size += k.length + item;
    if (size > limit) return -1;
  }
  return size;
}

/**
 * An array's slots, holes too, then its own keys and values, named ones included (a clone keeps
 * them). `Object.keys` rather than `for…in`, which walks the array's prototype too and cost the bench
 * echo's reply ~0.12 µs more (365 against 245 ns of CPU for the whole bound, medians of ten
 * alternated windows in one process).
 */
function arrayBound(v: unknown[], depth: number, limit: number): number {
  let size = v.length;
  if (size > limit) return -1;
  const keys = Object.keys(v);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const item = boundWalk((v as unknown as Record<string, unknown>)[k], depth + 1, limit);
    if (item < 0) return -1;
    size += k.length + item;
    if (size > limit) return -1;
  }
  return size;
}

/** `value` as JSON for a message, measured before it is written: past `maxBytes`, a note saying so. */
export function boundedJson(value: unknown, maxBytes: number): string {
  if (replyBytesAtLeast(value, maxBytes) > maxBytes) return `(larger than ${maxBytes} bytes)`;
  return JSON.stringify(value);
}
