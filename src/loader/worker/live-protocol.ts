/**
 * The frames of a plugin's live thread, on a MessagePort of its own (never the task or control
 * channel): the host tells the thread of connections opened, messages and closes; the thread asks the
 * host to send, close, subscribe and publish. Every frame from the thread is checked here before the
 * host acts on it, and it can only name connections the host opened on that same port.
 * @module
 */
import type { PluginContext, PluginDefinition } from '../../shared/plugin-definition.js';
import type { PluginRequest } from '../../shared/types.js';
import type { LiveData } from '../runtime.js';

export type { LiveData } from '../runtime.js';

/** What a live thread needs of the plugin it serves (`plugin-host.ts` gives it). */
export interface LiveServing {
  websockets: NonNullable<PluginDefinition['websockets']>;
  routes: NonNullable<PluginDefinition['routes']>;
  /**
   * The `ctx` of a connection's handlers: its upgrade request's id and caller; for a stream, the
   * request's traceparent and flag values when the host sent them (`tp`, `f` of its `req` frame).
   */
  context(
    requestId: string,
    userId: PluginRequest['userId'],
    traceparent?: string,
    requestFlags?: Record<string, boolean>,
  ): PluginContext;
}

/** Host to thread. */
export type LiveFrame =
  /** A WebSocket opened; `tp` and `f` as a stream's `req` (its upgrade's trace and flag values). */
  | {
      k: 'open';
      c: number;
      key: string;
      r: PluginRequest;
      tp?: string;
      f?: Record<string, boolean>;
    }
  | { k: 'msg'; c: number; d: LiveData }
  | { k: 'closed'; c: number; code: number; reason: string }
  /**
   * A streamed response: run `routes[key]`; `more` gives one chunk of credit, `cancel` ends it — or,
   * for a harness that blocks while it streams, its credit cell `w` (`live-credit.ts`) does. `tp` and
   * `f` are the request's traceparent and flag values, as a `req` task's (sent to native plugins).
   */
  | {
      k: 'req';
      c: number;
      key: string;
      r: PluginRequest;
      b?: true;
      w?: Int32Array;
      tp?: string;
      f?: Record<string, boolean>;
    }
  /** `b`: buffers of chunks the host has written, given back to be filled again (moved with the frame). */
  | { k: 'more'; c: number; b?: ArrayBuffer[] }
  | { k: 'cancel'; c: number }
  /** A streamed request body (`b` on its `req`): one chunk per `pull`, then its end (`e`: it failed). */
  | { k: 'body'; c: number; d: Uint8Array }
  | { k: 'bodyend'; c: number; e?: string };

/** Thread to host. */
export type LiveNote =
  | { k: 'send'; c: number; d: LiveData }
  | { k: 'close'; c: number; code: number; reason: string }
  | { k: 'sub' | 'unsub'; c: number; t: string }
  | { k: 'pub'; c: number; t: string; d: LiveData }
  /** The handler of connection `c`'s open, message or close settled (the host may hand it the next). */
  | { k: 'done'; c: number }
  | { k: 'head'; c: number; s: number; h: Record<string, string> }
  | { k: 'chunk'; c: number; d: LiveData }
  | { k: 'end'; c: number; e?: string }
  /** The handler reads its streamed request body: one more chunk, please. */
  | { k: 'pull'; c: number };

/** Chunks a thread may send ahead of the host's credit (`more`). */
export const STREAM_WINDOW = 8;
/** Chunks of a streamed request body a thread may ask for ahead of reading them (`pull`). */
export const BODY_WINDOW = 4;

/** Longest topic name. */
export const MAX_TOPIC_CHARS = 256;
/** Longest close reason (RFC 6455: a close frame's payload is at most 125 bytes, 2 of them the code). */
export const MAX_REASON_BYTES = 123;

/** A close code a plugin may send: 1000, or one of the application range 3000–4999. */
export function isPluginCloseCode(code: unknown): code is number {
  return (
    code === 1000 ||
    (Number.isInteger(code) && (code as number) >= 3000 && (code as number) <= 4999)
  );
}

const isData = (d: unknown): d is LiveData => typeof d === 'string' || d instanceof Uint8Array;
const isTopic = (t: unknown): t is string =>
  typeof t === 'string' && t.length > 0 && t.length <= MAX_TOPIC_CHARS;

/** The frame as the host accepts it, or why it is refused. */
export function checkLiveNote(m: unknown): LiveNote | string {
  if (typeof m !== 'object' || m === null) return 'a live frame that is not an object';
  const n = m as Record<string, unknown>;
  if (!Number.isSafeInteger(n.c)) return 'a live frame without a connection number';
  switch (n.k) {
    case 'send':
      return isData(n.d) ? (n as LiveNote) : 'send: a message that is neither text nor bytes';
    case 'close':
      // 1011 is the harness's own, for a handler that threw.
      if (!isPluginCloseCode(n.code) && n.code !== 1011)
        return `close: code ${String(n.code)} is not 1000, 1011 or 3000-4999`;
      if (typeof n.reason !== 'string' || Buffer.byteLength(n.reason) > MAX_REASON_BYTES)
        return `close: a reason that is not a string of at most ${MAX_REASON_BYTES} bytes`;
      return n as LiveNote;
    case 'sub':
    case 'unsub':
      return isTopic(n.t)
        ? (n as LiveNote)
        : `${n.k}: a topic that is not 1-${MAX_TOPIC_CHARS} characters`;
    case 'pub':
      if (!isTopic(n.t)) return `pub: a topic that is not 1-${MAX_TOPIC_CHARS} characters`;
      return isData(n.d) ? (n as LiveNote) : 'pub: a message that is neither text nor bytes';
    case 'done':
    case 'pull':
      return n as LiveNote;
    case 'head':
      if (!Number.isInteger(n.s) || (n.s as number) < 200 || (n.s as number) > 599)
        return 'head: a status outside 200-599';
      if (typeof n.h !== 'object' || n.h === null || Array.isArray(n.h))
        return 'head: headers that are not an object';
      for (const v of Object.values(n.h))
        if (typeof v !== 'string') return 'head: a header that is not a string';
      return n as LiveNote;
    case 'chunk':
      return isData(n.d) ? (n as LiveNote) : 'chunk: neither text nor bytes';
    case 'end':
      if (n.e !== undefined && typeof n.e !== 'string') return 'end: an error that is not a string';
      return n as LiveNote;
    default:
      return `a live frame of unknown kind ${JSON.stringify(String(n.k)).slice(0, 40)}`;
  }
}
