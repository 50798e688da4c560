/**
 * The host side of a live thread's streamed responses (`live-thread.ts` holds the thread and its
 * WebSockets): each stream's credit, the request body pumped to it, its cancel, and the thread's
 * `head`/`chunk`/`end` frames checked against what the host gave. A thread that sends past its credit
 * has its stream ended; a blocking harness's call that ignores its cancel has its thread ended.
 * @module
 */
import type { PluginRequest } from '../../shared/types.js';
import type {
  RequestBodySource,
  RuntimeHooks,
  StreamContext,
  StreamLink,
  StreamSink,
} from '../runtime.js';
import { BodyPump } from './live-body-pump.js';
import { cancelCredit, creditCell, giveCredit } from './live-credit.js';
import { STREAM_WINDOW, type LiveNote } from './live-protocol.js';
import { hostOwnedChunk } from './live-chunk-buffers.js';
import {
  postTo,
  type BlockingLiveHarness,
  type LiveRunning,
  type StreamEntry,
} from './live-thread-launch.js';

/** A frame's `tp` and `f` from `context`, absent when it has none. */
export function contextFields({ tp, f }: StreamContext): StreamContext {
  return { ...(tp && { tp }), ...(f && { f }) };
}

/**
 * A credit for stream `c`, with the written chunks' buffers moved back to the thread when there are
 * any: a buffer that cannot move (already detached, shared) leaves them all to the collector, never
 * the credit unsent.
 */
function postMore(running: LiveRunning, c: number, returned: ArrayBuffer[] | undefined): void {
  if (returned !== undefined && returned.length > 0) {
    try {
      return running.port.postMessage({ k: 'more', c, b: returned }, returned);
    } catch {
      // Not transferable: the credit goes alone.
    }
  }
  postTo(running, { k: 'more', c });
}

/** What the streams need of the thread that holds them. */
export interface LiveStreamParts {
  hooks: RuntimeHooks;
  harness: BlockingLiveHarness | undefined;
  violation(reason: string): void;
  /** A stream ended: the thread may go idle. */
  maybeIdle(running: LiveRunning): void;
}

export class LiveThreadStreams {
  constructor(readonly parts: LiveStreamParts) {}

  /** Hands `request` to the thread's `routes[key]` as stream number `c`. */
  open(
    running: LiveRunning,
    c: number,
    sink: StreamSink,
    key: string,
    request: PluginRequest,
    body: RequestBodySource | undefined,
    context: StreamContext,
  ): StreamLink {
    const pump =
      body && new BodyPump(body, c, (frame, transfer) => postTo(running, frame, transfer));
    const cell = this.parts.harness && creditCell();
    const entry: StreamEntry = { sink, ahead: 0, body: pump, cell };
    running.streams.set(c, entry);
    // The handler's ctx is a request handler's: the stream's hop in the trace, the request's flags.
    const withContext = contextFields(context);
    if (pump) {
      const r = { ...request, body: undefined };
      postTo(running, { k: 'req', c, key, r, b: true, ...withContext });
    } else postTo(running, { k: 'req', c, key, r: request, w: cell, ...withContext });
    return {
      more: (returned) => {
        if (!running.streams.has(c)) return;
        entry.ahead = Math.max(0, entry.ahead - 1);
        if (cell) giveCredit(cell);
        else postMore(running, c, returned);
      },
      cancel: () => {
        pump?.stop();
        if (!running.streams.delete(c)) return;
        this.cancel(running, c, entry);
        this.parts.maybeIdle(running);
      },
    };
  }

  /** Cuts every stream of the thread with `reason`, telling the thread. */
  endAll(running: LiveRunning, reason: string): void {
    const streams = [...running.streams];
    running.streams.clear();
    for (const [c, entry] of streams) {
      entry.body?.stop();
      entry.sink.end(reason);
      this.cancel(running, c, entry);
    }
  }

  /** Tells the thread that stream `c` is over: a frame, or its cell and a grace for the call to return. */
  cancel(running: LiveRunning, c: number, entry: StreamEntry): void {
    if (!entry.cell) return postTo(running, { k: 'cancel', c });
    cancelCredit(entry.cell);
    const { graceMs } = this.parts.harness!;
    // A call that does not see its cancel (a loop that never writes) holds the only instance.
    const grace = setTimeout(() => {
      if (!running.cancelling.delete(c)) return;
      running.state.killed = true;
      running.state.error = `a stream's call did not return within ${graceMs} ms of its cancel: its thread is ended`;
      this.parts.hooks.onLog('warn', running.state.error, undefined, undefined);
      void running.state.worker.terminate();
    }, graceMs).unref();
    running.cancelling.set(c, grace);
  }

  /** A `head`, `chunk` or `end` frame from the thread. */
  onNote(running: LiveRunning, note: Extract<LiveNote, { k: 'head' | 'chunk' | 'end' }>): void {
    const entry = running.streams.get(note.c);
    if (!entry) {
      const grace = running.cancelling.get(note.c);
      // A cancelled stream's call returned: its thread may take the next.
      if (note.k === 'end' && grace !== undefined) {
        clearTimeout(grace);
        running.cancelling.delete(note.c);
        this.parts.maybeIdle(running);
      }
      return;
    }
    if (note.k === 'head') return entry.sink.head(note.s, note.h);
    if (note.k === 'end') {
      running.streams.delete(note.c);
      entry.body?.stop();
      entry.sink.end(note.e);
      return this.parts.maybeIdle(running);
    }
    if (++entry.ahead > STREAM_WINDOW) {
      // Past the credit it was given: the host would buffer without bound. End the stream.
      this.parts.violation('live thread: a stream sent chunks beyond its credit');
      running.streams.delete(note.c);
      entry.body?.stop();
      this.cancel(running, note.c, entry);
      entry.sink.end('the plugin sent beyond its credit');
      return this.parts.maybeIdle(running);
    }
    entry.sink.chunk(typeof note.d === 'string' ? note.d : hostOwnedChunk(note.d));
  }
}
