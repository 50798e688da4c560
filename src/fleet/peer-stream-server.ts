/**
 * The owner's side of a forwarded stream (docs/peer-protocol.md, "Streams"): reads the `call` frame
 * (bounded), authenticates it exactly as a peer call (signature over the envelope, clock window,
 * replay guard), serves it on a local `stream` endpoint and answers its response as frames — read
 * from the plugin only as the adapter writes them, so a caller that stops reading stops the plugin.
 * @module
 */
import { ErrorCodes } from '../errors.js';
import { errorResponse } from '../shared/responses.js';
import type { PluginRequest, PluginResponse } from '../shared/types.js';
import { FrameKind, FrameReader, frame } from './peer-frames.js';
import { PEER_STREAM_CONTENT_TYPE, type PeerCall } from './peer-protocol.js';
import {
  authenticatePeer,
  parseCall,
  peerRefusal,
  requestOf,
  type PeerServerParts,
} from './peer-server.js';

/** The largest `call` frame read: an envelope carries a request's head, never its body. */
export const MAX_ENVELOPE_BYTES = 1024 * 1024;

/** What a streamed peer call answers: a refusal (`body` a string), or `200` and frames as they come. */
export interface PeerStreamReply {
  statusCode: number;
  headers: Record<string, string>;
  body: string | AsyncIterable<Uint8Array>;
}

/** What serving a streamed peer call needs from the gateway. */
export interface PeerStreamParts<T> extends Omit<PeerServerParts<T>, 'serve'> {
  /** How long the call frame may take to arrive (`node.openTimeout`). */
  openTimeoutMs: number;
  /** The route's `stream` mode: `undefined` when it is not a `stream` endpoint. */
  streamOf(target: T): { requestBody: boolean } | undefined;
  /**
   * Serves the request on that route; the response's body is a stream, or a whole answer.
   * `traceparent` is the caller's hop, from the signed envelope.
   */
  serveStream(
    target: T,
    request: Omit<PluginRequest, 'params' | 'query'>,
    timeoutMs: number,
    traceparent: string | undefined,
  ): Promise<PluginResponse>;
}

/** Serves one streamed peer call; never throws: every outcome is a reply. */
export async function servePeerStream<T>(
  source: AsyncIterable<Uint8Array>,
  headers: Readonly<Record<string, string | string[] | undefined>>,
  remoteAddress: string | undefined,
  parts: PeerStreamParts<T>,
): Promise<PeerStreamReply> {
  if (!String(headers['content-type']).startsWith(PEER_STREAM_CONTENT_TYPE)) {
    return peerRefusal(
      ErrorCodes.BAD_REQUEST,
      `a streamed peer call is ${PEER_STREAM_CONTENT_TYPE}`,
    );
  }
  const reader = new FrameReader(source);
  let envelope: string;
  try {
    const first = await withinOpenTimeout(reader.next(MAX_ENVELOPE_BYTES), parts.openTimeoutMs);
    if (first === LATE) {
      const message = `the call frame did not arrive within ${parts.openTimeoutMs} ms`;
      return peerRefusal(ErrorCodes.PEER_OPEN_TIMEOUT, message);
    }
    if (first?.kind !== FrameKind.call) throw new Error('the body must open with a call frame');
    envelope = Buffer.from(first.payload).toString('utf8');
  } catch (error) {
    return peerRefusal(
      ErrorCodes.BAD_REQUEST,
      `malformed peer stream: ${(error as Error).message}`,
    );
  }
  const why = authenticatePeer(parts, headers, envelope, remoteAddress);
  if (why) return peerRefusal(ErrorCodes.PEER_UNAUTHORIZED, why);
  let call: PeerCall;
  let request: Omit<PluginRequest, 'params' | 'query'>;
  try {
    call = parseCall(envelope);
    if (call.request.body !== undefined) throw new Error('the body follows the call frame');
    request = requestOf(call);
  } catch (error) {
    return peerRefusal(ErrorCodes.BAD_REQUEST, `malformed peer call: ${(error as Error).message}`);
  }
  const target = parts.find(call);
  if (target === undefined) {
    const message = `${parts.nodeId} does not serve ${call.service}@${call.version} ${call.key}`;
    return answer(errorResponse(ErrorCodes.PEER_UNREACHABLE, message, request.id));
  }
  const mode = parts.streamOf(target);
  if (mode === undefined) {
    return peerRefusal(ErrorCodes.BAD_REQUEST, `${call.key} is not a stream endpoint`);
  }
  // The upload as it comes, unframed after the call frame; without `request_body` nothing follows
  // (read to its end, so the connection stays kept alive).
  if (mode.requestBody) request.body = reader.rest();
  else if ((await reader.next(0).catch(() => null)) !== undefined) {
    return peerRefusal(ErrorCodes.BAD_REQUEST, `${call.key} reads no request body`);
  }
  return answer(await parts.serveStream(target, request, call.timeoutMs, call.traceparent));
}

const LATE = Symbol('late');

/**
 * `read`, or {@link LATE} once `ms` passed: a stranger that dribbles its call frame is answered 408 and
 * its connection closed (the adapter's `closeAfterAnswer`), rather than held until Node's
 * `requestTimeout`. The abandoned read settles when that connection ends.
 */
async function withinOpenTimeout<V>(read: Promise<V>, ms: number): Promise<V | typeof LATE> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<typeof LATE>((resolve) => (timer = setTimeout(resolve, ms, LATE)));
  read.catch(() => {});
  try {
    return await Promise.race([read, late]);
  } finally {
    clearTimeout(timer);
  }
}

function answer(response: PluginResponse): PeerStreamReply {
  return {
    statusCode: 200,
    headers: { 'content-type': PEER_STREAM_CONTENT_TYPE },
    body: new AnswerFrames(response),
  };
}

const isStream = (body: unknown): body is AsyncIterable<string | Uint8Array> =>
  typeof body === 'object' && body !== null && Symbol.asyncIterator in body;

/**
 * A response as frames: `head`, its chunks, `end` (with the reason when the stream was cut). Never
 * throws; `return()` (the caller went away) cancels the plugin's body at once, even mid-read.
 */
class AnswerFrames implements AsyncIterable<Uint8Array>, AsyncIterator<Uint8Array> {
  readonly #response: PluginResponse;
  #inner: AsyncIterator<string | Uint8Array> | undefined;
  #whole: Buffer[] | undefined;
  #step: 'head' | 'body' | 'done' = 'head';

  constructor(response: PluginResponse) {
    this.#response = response;
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return this;
  }

  async next(): Promise<IteratorResult<Uint8Array>> {
    if (this.#step === 'done') return { done: true, value: undefined };
    if (this.#step === 'head') {
      this.#step = 'body';
      return { done: false, value: this.#head() };
    }
    if (this.#whole) {
      const value = this.#whole.shift()!;
      if (this.#whole.length === 0) this.#step = 'done';
      return { done: false, value };
    }
    try {
      const step = await this.#inner!.next();
      if (!step.done) {
        const data = step.value;
        return {
          done: false,
          value:
            typeof data === 'string' ? frame(FrameKind.text, data) : frame(FrameKind.bytes, data),
        };
      }
      this.#step = 'done';
      return { done: false, value: frame(FrameKind.end, '{}') };
    } catch (error) {
      this.#step = 'done';
      const reason = String((error as Error)?.message ?? error).slice(0, 1000);
      return { done: false, value: frame(FrameKind.end, JSON.stringify({ error: reason })) };
    }
  }

  async return(): Promise<IteratorResult<Uint8Array>> {
    this.#step = 'done';
    void this.#inner?.return?.();
    return { done: true, value: undefined };
  }

  /** The head frame; a whole answer's body is framed here too, to follow it. */
  #head(): Buffer {
    const { statusCode, body } = this.#response;
    const headers: Record<string, string | string[]> = { ...this.#response.headers };
    const end = frame(FrameKind.end, '{}');
    if (isStream(body)) {
      this.#inner = body[Symbol.asyncIterator]();
    } else if (body === undefined || body === null) {
      this.#whole = [end];
    } else if (body instanceof Uint8Array) {
      this.#whole = [frame(FrameKind.bytes, body), end];
    } else if (typeof body === 'string') {
      this.#whole = [frame(FrameKind.text, body), end];
    } else {
      headers['content-type'] ??= 'application/json';
      this.#whole = [frame(FrameKind.text, JSON.stringify(body)), end];
    }
    return frame(FrameKind.head, JSON.stringify({ statusCode, headers }));
  }
}
