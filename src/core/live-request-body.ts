/**
 * A streamed request body on the host (`stream.request_body`): whatever the adapter or the caller of
 * `handle()` passed — the request stream itself, or a whole body — as a source the live thread reads
 * chunk by chunk, counting bytes: past `max_request_bytes`, the read fails and the gateway answers 413.
 * Every chunk it yields is the host's alone, so a runtime may move its memory to a thread instead of
 * copying it (docs/decisions/0270).
 * @module
 */
import { IncomingMessage } from 'node:http';
import type { RequestBodySource } from '../loader/runtime.js';
import type { Served } from '../mesh/instances.js';
import type { Router } from './router.js';

/** Whether `method path` routes to an endpoint that reads its request body as a stream. */
export function streamsRequestBody(router: Router<Served>, method: string, path: string): boolean {
  const match = router.match(method, path);
  return match.kind === 'found' && match.target.endpoint.stream?.request_body === true;
}

/** Whether a request body is a stream of chunks (what an adapter passes for a `request_body` endpoint). */
export function isBodyStream(body: unknown): body is AsyncIterable<unknown> {
  return (
    typeof body === 'object' &&
    body !== null &&
    !ArrayBuffer.isView(body) &&
    Symbol.asyncIterator in body
  );
}

/** Bytes of one chunk: bytes as they are, text as UTF-8. */
function bytesOf(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (ArrayBuffer.isView(chunk))
    return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  throw new TypeError(`a request body stream yields bytes or strings, got ${typeof chunk}`);
}

/**
 * `bytes` when nothing but this read holds its memory, else an exact-size copy. Node's HTTP parser
 * hands each piece of a body over in a buffer of its own (`Buffer::Copy`); what a caller's stream
 * yields, a text's bytes (often a view on the shared pool) or a chunk someone else also listens to
 * may be held elsewhere, and a moved buffer is emptied under whoever holds it.
 */
function exclusive(bytes: Uint8Array, body: unknown): Uint8Array {
  const { buffer, byteOffset, byteLength } = bytes;
  const ownsWhole =
    byteOffset === 0 && byteLength === buffer.byteLength && buffer instanceof ArrayBuffer;
  const onlyReader = body instanceof IncomingMessage && body.listenerCount('data') === 0;
  return ownsWhole && onlyReader ? bytes : new Uint8Array(bytes);
}

/** The whole body a caller of `handle()` passed, as the bytes a plugin would read. */
function wholeBody(body: unknown): Uint8Array[] {
  if (body === undefined || body === null) return [];
  if (typeof body === 'string' || ArrayBuffer.isView(body)) return [bytesOf(body)];
  return [Buffer.from(JSON.stringify(body), 'utf8')];
}

/**
 * The body as a source of at most `maxBytes`: `tooLarge()` is called (once) and the read fails at the
 * chunk that passes the limit. The request stream is never returned (that would destroy its socket).
 */
export function requestBodySource(
  body: unknown,
  maxBytes: number,
  tooLarge: () => void,
): RequestBodySource {
  const iterator = isBodyStream(body)
    ? body[Symbol.asyncIterator]()
    : wholeBody(body)[Symbol.iterator]();
  let size = 0;
  return {
    async next() {
      const step = await iterator.next();
      if (step.done) return { done: true, value: undefined };
      const bytes = bytesOf(step.value);
      size += bytes.byteLength;
      if (size > maxBytes) {
        tooLarge();
        throw new Error(
          `the request body is larger than ${maxBytes} bytes (stream.max_request_bytes)`,
        );
      }
      return { done: false, value: exclusive(bytes, body) };
    },
  };
}

/** A `content-length` over `maxBytes`: refused before a byte is read. */
export function declaredOver(
  headers: Readonly<Record<string, string | string[] | undefined>> | undefined,
  maxBytes: number,
): boolean {
  const length = headers?.['content-length'];
  return typeof length === 'string' && Number(length) > maxBytes;
}
