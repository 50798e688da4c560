/**
 * Request bodies at the edge: read within a limit that is checked before a byte is read
 * (`content-length`) and while reading (chunked), and decoded as the `content-type` says, charset
 * included. Shared by every adapter.
 * @module
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { ownBytes } from '../shared/own-bytes.js';

/** What {@link readBody} resolves to when the body is over the limit: nothing past it was read. */
export const TOO_LARGE = Symbol('body too large');

/** A body that cannot be decoded as its `content-type` says: 400, or 415 for a charset not known. */
export class BodyDecodeError extends Error {
  /** 400 for a malformed body, 415 for a charset this runtime cannot decode. */
  readonly status: 400 | 415;
  constructor(status: 400 | 415, message: string) {
    super(message);
    this.status = status;
  }
}

/** Whether HTTP/1.1 framing says there is no body at all (no length, not chunked, or length 0). */
export function hasNoBody(headers: IncomingHttpHeaders): boolean {
  const length = headers['content-length'];
  return length === '0' || (length === undefined && headers['transfer-encoding'] === undefined);
}

/** `content-length` over `limit`: answer 413 without reading. */
export function declaredTooLarge(headers: IncomingHttpHeaders, limit: number): boolean {
  const length = headers['content-length'];
  return length !== undefined && Number(length) > limit;
}

/**
 * Reads the body, at most `limit` bytes. Past the limit it stops listening and resolves
 * {@link TOO_LARGE}; the caller answers 413 with `connection: close`, so the rest is never read.
 */
export function readBody(
  req: Readable,
  limit: number,
  headers: IncomingHttpHeaders = (req as IncomingMessage).headers,
): Promise<Buffer | typeof TOO_LARGE> {
  if (declaredTooLarge(headers, limit)) return Promise.resolve(TOO_LARGE);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.pause();
        resolve(TOO_LARGE);
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    req.once('error', reject);
  });
}

const CHARSET = /;\s*charset\s*=\s*"?([^";\s]+)"?/i;

/** The text of `raw` in the charset `contentType` names (UTF-8 when it names none). */
export function decodeText(raw: Uint8Array, contentType: string | undefined): string {
  const charset = contentType === undefined ? undefined : CHARSET.exec(contentType)?.[1];
  if (charset === undefined || /^utf-?8$/i.test(charset)) {
    return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8');
  }
  let decoder: InstanceType<typeof TextDecoder>;
  try {
    decoder = new TextDecoder(charset);
  } catch {
    throw new BodyDecodeError(415, `charset ${JSON.stringify(charset)} is not supported`);
  }
  return decoder.decode(raw);
}

/** The media type of a `content-type`, lower-cased, without parameters. */
export function mediaType(contentType: string | undefined): string {
  if (contentType === undefined) return '';
  const semi = contentType.indexOf(';');
  return (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

/**
 * A raw body as the plugin receives it: JSON (`application/json`, `*+json`) parsed, text (`text/*`,
 * form-encoded) decoded in its charset, anything else an exact-size `Buffer`; `undefined` when empty.
 * @throws {BodyDecodeError} for malformed JSON or an unknown charset.
 */
export function parseBody(raw: Buffer, contentType: string | undefined): unknown {
  if (raw.length === 0) return undefined;
  const type = mediaType(contentType);
  if (type === 'application/json' || type.endsWith('+json')) {
    const text = decodeText(raw, contentType);
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new BodyDecodeError(400, `invalid JSON body: ${(error as Error).message}`);
    }
  }
  if (type.startsWith('text/') || type === 'application/x-www-form-urlencoded') {
    return decodeText(raw, contentType);
  }
  // Small bodies are views on Node's shared pool: the plugin gets its own bytes, nothing around them.
  return ownBytes(raw);
}
