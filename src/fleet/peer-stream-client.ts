/**
 * The caller's side of a forwarded stream (docs/peer-protocol.md, "Streams"): one signed `POST` to the
 * owner's `/.veza/peer/v1/stream`, its body the `call` frame and then the upload as the client sends
 * it, its answer read frame by frame as it comes. Backpressure crosses the hop: a frame is read only
 * while the gateway holds fewer than `STREAM_WINDOW` chunks it has not written, so a client that does
 * not read stops this read, then TCP, then the owner's writes, then the owner's credits to its plugin.
 * @module
 */
import { Readable } from 'node:stream';
import { STREAM_WINDOW } from '../loader/worker/live-protocol.js';
import type { LiveData, RequestBodySource, StreamLink, StreamSink } from '../loader/runtime.js';
import { responseProblem } from '../loader/worker/note-check.js';
import type { PluginRequest } from '../shared/types.js';
import { FrameKind, FrameReader, frame } from './peer-frames.js';
import type { Dispatcher } from 'undici';
import {
  PEER_STREAM_CONTENT_TYPE,
  PEER_STREAM_PATH,
  peerCall,
  peerHeaders,
} from './peer-protocol.js';

/** The largest `head` or `end` frame read from an owner: a status, headers, a reason. */
export const MAX_CONTROL_FRAME_BYTES = 256 * 1024;

/** Where a forwarded stream goes: one remote instance. */
export interface StreamHop {
  /** The gateway's `PeerClient`: its node id, the fleet's secret, its kept-alive connections. */
  readonly client: {
    readonly nodeId: string;
    readonly secret: string | undefined;
    request(options: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData>;
  };
  readonly origin: string;
  /** The owner's address path (its listener's prefix), without a trailing `/`. */
  readonly basePath: string;
  readonly service: string;
  readonly version: string;
  readonly instanceId: string;
  /** The owner's node id: the signature names it. */
  readonly nodeId: string;
}

/** What the caller's gateway knows of the stream's endpoint. */
export interface StreamLimits {
  /** `stream.max_chunk_bytes`: a longer frame cuts the stream unread. */
  maxChunkBytes: number;
  /** `stream.total_timeout` in ms, sent as the call's deadline. */
  totalMs: number;
  /** The hop's W3C `traceparent`, while this gateway traces: the owner's span continues it. */
  traceparent?: string;
}

/**
 * Opens a forwarded stream. Every outcome reaches `sink` once (`end`, with the reason when cut), unless
 * the gateway cancelled it first; `cancel()` aborts the hop, which the owner sees as its client gone.
 */
export function forwardStream(
  hop: StreamHop,
  sink: StreamSink,
  key: string,
  request: PluginRequest,
  body: RequestBodySource | undefined,
  limits: StreamLimits,
  onEnd: () => void,
): StreamLink {
  const abort = new AbortController();
  let credit = STREAM_WINDOW;
  let wake: (() => void) | undefined;
  const link: StreamLink = {
    more() {
      credit++;
      wake?.();
    },
    cancel() {
      abort.abort();
      wake?.();
    },
  };
  const call = peerCall(hop, key, { ...request, body: undefined }, limits.totalMs);
  // Inside the call frame, so that it is signed with the rest (a channel's calls carry it the same way).
  if (limits.traceparent !== undefined) call.traceparent = limits.traceparent;
  const envelope = JSON.stringify(call);
  const headers = peerHeaders(hop.client.nodeId, hop.nodeId, envelope, hop.client.secret);
  headers['content-type'] = PEER_STREAM_CONTENT_TYPE;
  async function* upload(): AsyncGenerator<Uint8Array> {
    yield frame(FrameKind.call, envelope);
    if (body === undefined) return;
    for (;;) {
      const step = await body.next();
      if (step.done) return;
      yield step.value;
    }
  }
  const run = async (): Promise<void> => {
    const res = await hop.client.request({
      origin: hop.origin,
      method: 'POST',
      path: hop.basePath + PEER_STREAM_PATH,
      headers,
      body: Readable.from(upload(), { objectMode: false }),
      signal: abort.signal,
      // The stream's own deadlines (first byte, idle, total) are the caller gateway's timers.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
    const reader = new FrameReader(res.body);
    try {
      if (
        res.statusCode !== 200 ||
        !String(res.headers['content-type']).startsWith(PEER_STREAM_CONTENT_TYPE)
      ) {
        throw new Error(`${hop.origin} refused the streamed peer call (${res.statusCode})`);
      }
      const head = await reader.next(MAX_CONTROL_FRAME_BYTES);
      if (head?.kind !== FrameKind.head) throw new Error('the owner did not open with a head');
      const { statusCode, headers: responseHeaders } = parseControl(head.payload) as {
        statusCode: number;
        headers?: Record<string, string>;
      };
      const problem = responseProblem({ statusCode, headers: responseHeaders });
      if (problem) throw new Error(`the owner answered ${problem}`);
      if (abort.signal.aborted) return;
      sink.head(statusCode, responseHeaders ?? {});
      for (;;) {
        while (credit <= 0 && !abort.signal.aborted) {
          await new Promise<void>((resolve) => (wake = resolve));
        }
        if (abort.signal.aborted) return;
        const next = await reader.next(Math.max(limits.maxChunkBytes, MAX_CONTROL_FRAME_BYTES));
        if (abort.signal.aborted) return;
        if (next === undefined) throw new Error('the owner went away before the end of the stream');
        if (next.kind === FrameKind.end) {
          const { error } = parseControl(next.payload) as { error?: unknown };
          return sink.end(typeof error === 'string' ? error.slice(0, 1000) : undefined);
        }
        if (next.kind !== FrameKind.text && next.kind !== FrameKind.bytes) {
          throw new Error(`a frame of kind ${next.kind} inside the stream`);
        }
        if (next.payload.byteLength > limits.maxChunkBytes) {
          throw new Error(`a chunk over max_chunk_bytes (${limits.maxChunkBytes})`);
        }
        credit--;
        const data: LiveData =
          next.kind === FrameKind.text ? Buffer.from(next.payload).toString('utf8') : next.payload;
        sink.chunk(data);
      }
    } finally {
      await reader.close().catch(() => {});
    }
  };
  run()
    .catch((error: Error) => {
      if (!abort.signal.aborted) sink.end(`forwarded stream: ${error.message}`);
    })
    .finally(onEnd);
  return link;
}

/** A `head` or `end` frame's JSON object. @throws {Error} for anything else. */
function parseControl(payload: Uint8Array): Record<string, unknown> {
  const value = JSON.parse(Buffer.from(payload).toString('utf8')) as unknown;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error('a control frame that is not a JSON object');
  }
  return value as Record<string, unknown>;
}
