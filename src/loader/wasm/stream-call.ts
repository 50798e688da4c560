/**
 * Inside a wasm plugin's live thread: a streamed response is one call of `handle`, during which the
 * module writes its body with `pgw_stream_write(ptr, len)` (after an optional `pgw_stream_head(ptr,
 * len)`). The call is synchronous, so a write waits for credit on the stream's shared cell
 * (`live-credit.ts`), never longer than the stream's idle and total deadlines; a stream the host
 * cancelled answers every write with {@link STREAM_CLOSED}, and the module is to return.
 * @module
 */
import type { MessagePort } from 'node:worker_threads';
import type { PluginRequest } from '../../shared/types.js';
import { isCancelled, takeCredit, type CreditCell } from '../worker/live-credit.js';
import type { LiveFrame, LiveNote } from '../worker/live-protocol.js';
import { checkReply } from '../worker/reply.js';
import { isTaskFailure } from '../../shared/task-failure.js';

/** The written chunk went to the host (or the head was taken). */
export const STREAM_OK = 0;
/** The stream is over (the client went away, a deadline passed, the host cut it): return. */
export const STREAM_CLOSED = -1;
/** The call being served is not a stream endpoint's. */
export const STREAM_NONE = -2;
/** Refused, and the stream is cut: a chunk over `max_chunk_bytes` or outside memory, a bad head. */
export const STREAM_REFUSED = -3;

/** Longest head (`{"statusCode":..,"headers":{..}}`) a module may write. */
const MAX_HEAD_BYTES = 64 * 1024;

/** A `stream` endpoint's settings as the harness applies them. */
export interface WasmStreamSettings {
  maxChunkBytes: number;
  idleMs: number;
  totalMs: number;
}

interface Active {
  c: number;
  cell: CreditCell;
  settings: WasmStreamSettings;
  deadline: number;
  headed: boolean;
  /** Why the harness cut the stream, once it did. */
  cut?: string;
}

/** The streams of one wasm live thread: one at a time (a call holds the instance). */
export class StreamCalls {
  #active: Active | undefined;
  readonly #port: MessagePort;
  readonly #settings: Readonly<Record<string, WasmStreamSettings>>;
  readonly #memory: () => ArrayBuffer | undefined;
  readonly #maxResponseBytes: number;

  constructor(
    port: MessagePort,
    settings: Readonly<Record<string, WasmStreamSettings>>,
    memory: () => ArrayBuffer | undefined,
    maxResponseBytes: number,
  ) {
    this.#port = port;
    this.#settings = settings;
    this.#memory = memory;
    this.#maxResponseBytes = maxResponseBytes;
  }

  #post(note: LiveNote, transfer?: ArrayBuffer[]): void {
    this.#port.postMessage(note, transfer);
  }

  /**
   * Serves one `req` frame: `call` runs `handle` with the input and deadline given. Never rejects:
   * a failure is the stream's `end` with its error.
   */
  async serve(
    frame: { c: number; key: string; r: PluginRequest; w?: CreditCell },
    call: (input: string, deadline: number) => Promise<string>,
  ): Promise<void> {
    const { c, key, r, w } = frame;
    const settings = Object.hasOwn(this.#settings, key) ? this.#settings[key] : undefined;
    if (!settings || !w) return this.#post({ k: 'end', c, e: `"${key}" is not a stream endpoint` });
    const deadline = Date.now() + settings.totalMs;
    const active: Active = { c, cell: w, settings, deadline, headed: false };
    this.#active = active;
    try {
      const output = await call(JSON.stringify({ key, request: r }), deadline);
      if (!active.headed && active.cut === undefined && !isCancelled(w))
        this.#whole(active, output, key);
      this.#post({ k: 'end', c, e: active.cut });
    } catch (error) {
      this.#post({ k: 'end', c, e: error instanceof Error ? error.message : String(error) });
    } finally {
      this.#active = undefined;
    }
  }

  /** A call that streamed nothing: its output is a whole reply, sent as head and one chunk. */
  #whole(active: Active, output: string, key: string): void {
    const reply = checkReply(JSON.parse(output) as never, key, this.#maxResponseBytes);
    if (isTaskFailure(reply)) throw new Error(reply.message);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(reply.headers ?? {})) headers[name] = String(value);
    this.#post({ k: 'head', c: active.c, s: reply.statusCode, h: headers });
    const body = reply.body;
    if (body === undefined || body === null) return;
    this.#post({
      k: 'chunk',
      c: active.c,
      d: typeof body === 'string' ? body : JSON.stringify(body),
    });
  }

  /** `pgw_stream_head(ptr, len) -> i32`: the response's status and headers, as JSON. */
  head(ptr: bigint, len: bigint): number {
    const active = this.#open();
    if (typeof active === 'number') return active;
    if (active.headed) return this.#cut(active, 'a second head (or one after its first chunk)');
    const bytes = this.#read(active, ptr, len, MAX_HEAD_BYTES, 'a head');
    if (!bytes) return STREAM_REFUSED;
    let head: { statusCode?: unknown; headers?: unknown };
    try {
      head = JSON.parse(Buffer.from(bytes).toString('utf8')) as typeof head;
    } catch {
      return this.#cut(active, 'a head that is not JSON');
    }
    const status = head?.statusCode;
    if (!Number.isInteger(status) || (status as number) < 200 || (status as number) > 599)
      return this.#cut(active, `a head with statusCode ${String(status)}, expected 200-599`);
    const raw = head.headers ?? {};
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
      return this.#cut(active, 'a head whose headers are not an object');
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(raw)) {
      if (typeof value !== 'string') return this.#cut(active, `a head whose "${name}" is not text`);
      headers[name] = value;
    }
    active.headed = true;
    this.#post({ k: 'head', c: active.c, s: status as number, h: headers });
    return STREAM_OK;
  }

  /** `pgw_stream_write(ptr, len) -> i32`: one chunk of the body, once the host gives credit. */
  write(ptr: bigint, len: bigint): number {
    const active = this.#open();
    if (typeof active === 'number') return active;
    // Checked before anything is copied: the length is the module's claim.
    const bytes = this.#read(active, ptr, len, active.settings.maxChunkBytes, 'a chunk');
    if (!bytes) return STREAM_REFUSED;
    if (!active.headed) {
      active.headed = true;
      this.#post({ k: 'head', c: active.c, s: 200, h: {} });
    }
    const until = Math.min(Date.now() + active.settings.idleMs, active.deadline);
    const credit = takeCredit(active.cell, until);
    if (credit === 'cancelled') return STREAM_CLOSED;
    if (credit === 'timeout') {
      active.cut = 'no credit within the stream idle_timeout (the client stopped reading)';
      return STREAM_CLOSED;
    }
    const chunk = bytes.slice();
    this.#post({ k: 'chunk', c: active.c, d: chunk }, [chunk.buffer]);
    return STREAM_OK;
  }

  /** The stream a host function acts on, or the code it answers with. */
  #open(): Active | number {
    const active = this.#active;
    if (!active) return STREAM_NONE;
    if (active.cut !== undefined || isCancelled(active.cell)) return STREAM_CLOSED;
    return active;
  }

  /** A view of `len` bytes at `ptr` of the module's memory, or undefined (the stream cut) when refused. */
  #read(
    active: Active,
    ptr: bigint,
    len: bigint,
    max: number,
    what: string,
  ): Uint8Array | undefined {
    if (len < 0n || len > BigInt(max)) {
      this.#cut(active, `${what} of ${len} bytes, over its limit of ${max} (max_chunk_bytes)`);
      return undefined;
    }
    const buffer = this.#memory();
    if (!buffer || ptr < 0n || ptr + len > BigInt(buffer.byteLength)) {
      this.#cut(active, `${what} outside the module's memory`);
      return undefined;
    }
    return new Uint8Array(buffer, Number(ptr), Number(len));
  }

  #cut(active: Active, why: string): number {
    active.cut ??= `the module wrote ${why}`;
    return STREAM_REFUSED;
  }
}

/** A stream's `req` frame: its request, and its trace and flag values (`tp`, `f`) when the host sent them. */
export type StreamFrame = Extract<LiveFrame, { k: 'req' }>;

/**
 * Serves the `req` frames of the thread's live port (credit and cancels come through each frame's
 * cell, never as frames); `call` runs `handle` for the frame's request `r`, under its `tp` and `f`.
 */
export function serveStreams(
  data: {
    livePort?: MessagePort;
    streams: Record<string, WasmStreamSettings>;
    maxResponseBytes: number;
  },
  memory: () => ArrayBuffer | undefined,
  call: (frame: StreamFrame, input: string, deadline: number) => Promise<string>,
): StreamCalls {
  const port = data.livePort!;
  const calls = new StreamCalls(port, data.streams, memory, data.maxResponseBytes);
  // One stream at a time: the host sends the next only once this one's call returned.
  let queue = Promise.resolve();
  port.on('message', (frame: LiveFrame) => {
    if (frame?.k !== 'req') return;
    queue = queue.then(() => calls.serve(frame, (input, deadline) => call(frame, input, deadline)));
  });
  return calls;
}
