/**
 * The host's check of what a plugin process sends: the notes both harnesses send (`note-check.ts`),
 * and the process's own — `hello`, `started`, `result` and `call` by sequence number instead of a port.
 * Anything else is refused with a reason and never reaches the rest of the gateway.
 * @module
 */
import { checkFetchRequest } from '../host-fetch.js';
import { checkNote, describe } from '../worker/note-check.js';
import type { ProcessNote } from './protocol.js';
import { MIN_PROTOCOL_VERSION, PROTOCOL_VERSION } from './frames.js';
import { checkLiveNote } from '../worker/live-protocol.js';
import { checkKvNote } from './process-kv.js';

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isUser = (v: unknown) =>
  v === undefined || v === null || typeof v === 'string' || typeof v === 'number';

/** Most capabilities a `hello` may name, each at most 64 characters. */
const MAX_CAPS = 32;
const isCapabilities = (v: unknown): v is string[] =>
  Array.isArray(v) &&
  v.length <= MAX_CAPS &&
  v.every((c) => typeof c === 'string' && c.length > 0 && c.length <= 64);

/** The capability a native program names in its `hello` when its SDK serves WebSocket connections. */
export const SOCKETS_CAPABILITY = 'ws';

/**
 * Why a native program may not serve the plugin's WebSocket endpoints, if it may not: its `hello` did
 * not name `SOCKETS_CAPABILITY` (an SDK from before the socket frames would ignore them, and its
 * clients would hang). The Node harness ships with the host and always serves them.
 */
export function socketsRefusal(
  hello: { caps?: string[] },
  plugin: { name: string; native: boolean; socketKeys: readonly string[] },
): string | undefined {
  if (!plugin.native || plugin.socketKeys.length === 0) return undefined;
  if (hello.caps?.includes(SOCKETS_CAPABILITY)) return undefined;
  return `plugin "${plugin.name}" declares WebSocket endpoints (${plugin.socketKeys.join(', ')}), but its program's hello does not name the "${SOCKETS_CAPABILITY}" capability: it was built with an SDK that does not serve WebSockets; rebuild it with sdk/go or sdk/rust of this gateway, or drop websocket from plugin.yaml`;
}

/** The note, or why it is refused; `slots` bounds the slot numbers a task note may name. */
export function checkProcessNote(message: unknown, slots: number): ProcessNote | string {
  if (!isObject(message)) return `a message that is ${describe(message)}, not a note`;
  const m = message;
  const isSlot = (s: unknown) => Number.isInteger(s) && (s as number) >= 0 && (s as number) < slots;
  switch (m.pgw) {
    case 'hello':
      if (!Number.isInteger(m.v)) return `a hello without a version`;
      if (
        m.min !== undefined &&
        !(Number.isInteger(m.min) && (m.min as number) <= (m.v as number))
      ) {
        return `a hello with a lowest version ${describe(m.min)} above its version ${describe(m.v)}`;
      }
      if (m.caps !== undefined && !isCapabilities(m.caps)) {
        return `a hello whose caps are not a list of at most ${MAX_CAPS} short strings`;
      }
      return m as ProcessNote;
    case 'started':
      return isSlot(m.s) ? (m as ProcessNote) : `a start note for slot ${describe(m.s)}`;
    case 'result':
      return isSlot(m.s) ? (m as ProcessNote) : `a result for slot ${describe(m.s)}`;
    case 'live': {
      const n = checkLiveNote(m.n);
      return typeof n === 'string' ? n : (m as ProcessNote);
    }
    case 'fetch': {
      if (!Number.isInteger(m.seq)) return 'fetch without a sequence number';
      const request = checkFetchRequest(m.request);
      return typeof request === 'string' ? request : (m as ProcessNote);
    }
    case 'kv':
      return checkKvNote(m);
    case 'call': {
      const r = m.request;
      if (!Number.isInteger(m.seq)) return 'call without a sequence number';
      if (typeof m.service !== 'string' || !isObject(r)) return 'call without a service or request';
      if (typeof r.method !== 'string' || typeof r.path !== 'string') {
        return `call to "${m.service}" without a method and path`;
      }
      if (r.headers !== undefined && !isObject(r.headers)) return 'call with headers not an object';
      if (!isUser(r.userId) || !isUser(m.userId)) {
        return `call to "${m.service}" with a userId of the wrong type`;
      }
      if (m.requestId !== undefined && typeof m.requestId !== 'string') {
        return `call to "${m.service}" with a requestId of the wrong type`;
      }
      return m as ProcessNote;
    }
    default:
      return checkNote(message) as ProcessNote | string;
  }
}

/**
 * How a note breaks the handshake, if it does: before the process said `hello` in this host's protocol
 * version, no other note is taken (`docs/plugin-protocol.md`). A `hello` once ready changes nothing.
 */
export function handshakeBreach(note: ProcessNote, ready: boolean): string | undefined {
  if (ready) return undefined;
  if (note.pgw !== 'hello') return `a "${note.pgw}" note before its hello`;
  if (typeof negotiatedVersion(note) === 'string') {
    const spoken = note.min === undefined ? `${note.v}` : `${note.min} to ${note.v}`;
    return `protocol version ${spoken}; this host speaks ${PROTOCOL_VERSION}`;
  }
  return undefined;
}

/**
 * The version both sides speak: the highest of the host's that is within the `hello`'s `min`..`v`
 * (a plugin naming no `min` speaks `v` alone). The host's `start` names it.
 */
export function negotiatedVersion(hello: { v: number; min?: number }): number | string {
  const lowest = hello.min ?? hello.v;
  const chosen = Math.min(hello.v, PROTOCOL_VERSION);
  return chosen >= Math.max(lowest, MIN_PROTOCOL_VERSION) ? chosen : 'no common version';
}
