/**
 * A binary peer envelope, for `bench/peer-envelope.micro.ts` only (decision 0380): a call's and an
 * answer's fields as length-prefixed bytes in place of the JSON of the peer protocol, built to measure
 * what the owner would save by not parsing and writing JSON for the envelope. Only what is JSON by
 * nature stays JSON: a `{ json }` body, a request's `context`, a response's `metadata`; bytes bodies
 * travel raw. It was measured and not adopted: the wire stays JSON (docs/peer-protocol.md).
 *
 * Every length is checked against the bytes left in the payload before anything is read or made from
 * it, as a receiver's parser would have to; the checks the JSON form's `parseCall` makes beyond types
 * are made too (`checked`), so the two cost the same work.
 */
import type { PeerCall } from '../src/fleet/peer-protocol.js';
import type { TaskFailure } from '../src/shared/task-failure.js';
import type { PluginRequest, PluginResponse } from '../src/shared/types.js';
import { parseTraceparent } from '../src/shared/trace-context.js';

/** A call's payload is malformed: answered `unreachable` with a 400, the channel goes on. */
export class EnvelopeError extends Error {}

const BODY_NONE = 0;
const BODY_JSON = 1;
const BODY_BYTES = 2;
const USER_NONE = 0;
const USER_NULL = 1;
const USER_STRING = 2;
const USER_NUMBER = 3;
const HEADER_ONE = 0;
const HEADER_LIST = 1;

/** A call's envelope, decoded: the route fields of {@link PeerCall} and the request the plugin gets. */
export interface DecodedCall {
  call: Omit<PeerCall, 'request'> & { request: { method: string; path: string } };
  request: Omit<PluginRequest, 'params' | 'query'>;
}

/** An answer, decoded: the response as the plugin made it (its body no longer in wire form). */
export interface DecodedAnswer {
  response: PluginResponse;
  failure?: string;
}

/** Appends fields to a growing buffer. */
class Out {
  #buf = Buffer.allocUnsafe(512);
  #at = 0;

  #room(n: number): void {
    if (this.#at + n <= this.#buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#at + n));
    this.#buf.copy(bigger, 0, 0, this.#at);
    this.#buf = bigger;
  }
  u8(v: number): void {
    this.#room(1);
    this.#buf[this.#at++] = v;
  }
  u16(v: number): void {
    this.#room(2);
    this.#buf.writeUInt16BE(v, this.#at);
    this.#at += 2;
  }
  u32(v: number): void {
    this.#room(4);
    this.#buf.writeUInt32BE(v, this.#at);
    this.#at += 4;
  }
  f64(v: number): void {
    this.#room(8);
    this.#buf.writeDoubleBE(v, this.#at);
    this.#at += 8;
  }
  /** A string behind its UTF-8 length: 2 bytes of it for `short` fields, else 4. */
  str(s: string, short: boolean): void {
    const bytes = Buffer.byteLength(s);
    if (short && bytes > 0xffff)
      throw new EnvelopeError(`a field of ${bytes} bytes (at most 65535)`);
    this.#room(4 + bytes);
    if (short) this.u16(bytes);
    else this.u32(bytes);
    this.#at += this.#buf.write(s, this.#at, bytes, 'utf8');
  }
  bytes(b: Uint8Array): void {
    this.u32(b.byteLength);
    this.#room(b.byteLength);
    this.#buf.set(b, this.#at);
    this.#at += b.byteLength;
  }
  /** An exact-size copy of what was written. */
  done(): Buffer {
    return Buffer.from(this.#buf.subarray(0, this.#at));
  }
}

const NON_ASCII = /[^\x00-\x7f]/;

/** Reads fields off a payload; every length is bounded by the bytes left before it is used. */
class In {
  #at: number;
  /**
   * The whole payload as Latin-1 text, made by one native call: a string field that is ASCII (the
   * usual case) is a slice of it; one that is not is decoded as UTF-8 from the bytes.
   */
  readonly #text: string;
  readonly #base: number;
  constructor(
    readonly buf: Buffer,
    start = 0,
    readonly end = buf.length,
  ) {
    this.#at = start;
    this.#text = (buf as Buffer & { latin1Slice(start: number, end: number): string }).latin1Slice(
      start,
      end,
    );
    this.#base = start;
  }
  #need(n: number, what: string): number {
    const at = this.#at;
    if (n > this.end - at) throw new EnvelopeError(`truncated at ${what}`);
    this.#at = at + n;
    return at;
  }
  u8(what: string): number {
    return this.buf[this.#need(1, what)]!;
  }
  u16(what: string): number {
    return this.buf.readUInt16BE(this.#need(2, what));
  }
  u32(what: string): number {
    return this.buf.readUInt32BE(this.#need(4, what));
  }
  f64(what: string): number {
    return this.buf.readDoubleBE(this.#need(8, what));
  }
  str(short: boolean, what: string): string {
    const length = short ? this.u16(what) : this.u32(what);
    const at = this.#need(length, what);
    const text = this.#text.slice(at - this.#base, at - this.#base + length);
    return NON_ASCII.test(text) ? this.buf.toString('utf8', at, at + length) : text;
  }
  /** An exact-size copy (never a view on the chunk the socket read). */
  bytes(what: string): Buffer {
    const length = this.u32(what);
    const at = this.#need(length, what);
    const copy = Buffer.allocUnsafeSlow(length);
    this.buf.copy(copy, 0, at, at + length);
    return copy;
  }
  json(what: string): unknown {
    const text = this.str(false, what);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new EnvelopeError(`${what} is not JSON`);
    }
  }
  end_(): void {
    if (this.#at !== this.end) throw new EnvelopeError(`${this.end - this.#at} bytes past the end`);
  }
}

function writeBody(out: Out, body: unknown): void {
  if (body === undefined) return out.u8(BODY_NONE);
  if (body instanceof Uint8Array) {
    out.u8(BODY_BYTES);
    return out.bytes(body);
  }
  out.u8(BODY_JSON);
  // JSON.stringify of a value JSON cannot carry (a function) is undefined: `null`, as the JSON form.
  out.str(JSON.stringify(body) ?? 'null', false);
}

function readBody(input: In, what: string): unknown {
  const kind = input.u8(what);
  if (kind === BODY_NONE) return undefined;
  if (kind === BODY_BYTES) return input.bytes(what);
  if (kind === BODY_JSON) return input.json(what);
  throw new EnvelopeError(`${what} of unknown kind ${kind}`);
}

/** A call as a `veza-peer/4` payload. @throws {EnvelopeError} for a field past its length's bound */
export function encodeCall(call: PeerCall, body: unknown, traceparent: string | undefined): Buffer {
  const out = new Out();
  const r = call.request;
  out.u32(call.timeoutMs);
  for (const s of [call.service, call.version, call.instance, call.key, r.id, r.method, r.path]) {
    out.str(s, true);
  }
  out.str(call.search ?? '', true);
  out.str(traceparent ?? '', true);
  const userId = r.userId;
  if (userId === undefined) out.u8(USER_NONE);
  else if (userId === null) out.u8(USER_NULL);
  else if (typeof userId === 'number') {
    out.u8(USER_NUMBER);
    out.f64(userId);
  } else {
    out.u8(USER_STRING);
    out.str(String(userId), true);
  }
  const names = Object.keys(r.headers);
  out.u16(names.length);
  for (const name of names) {
    out.str(name, true);
    out.str(String(r.headers[name]), false);
  }
  out.str(r.context === undefined ? '' : JSON.stringify(r.context), false);
  writeBody(out, body);
  return out.done();
}

/** Sets `name` on `object` as an own property, even `__proto__` (as JSON.parse does). */
function own(object: Record<string, unknown>, name: string, value: unknown): void {
  if (name === '__proto__')
    Object.defineProperty(object, name, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  else object[name] = value;
}

/**
 * A `veza-peer/4` call payload, decoded. What its layout does not make sure of (a deadline in range, a
 * path, the method of the key) is checked by the receiver as for the JSON form. @throws {EnvelopeError}
 */
export function decodeCall(payload: Buffer): DecodedCall {
  const input = new In(payload);
  const timeoutMs = input.u32('timeoutMs');
  const service = input.str(true, 'service');
  const version = input.str(true, 'version');
  const instance = input.str(true, 'instance');
  const key = input.str(true, 'key');
  const id = input.str(true, 'request.id');
  const method = input.str(true, 'request.method');
  const path = input.str(true, 'request.path');
  const search = input.str(true, 'search');
  const traceparent = input.str(true, 'traceparent');
  let userId: string | number | null | undefined;
  const userKind = input.u8('request.userId');
  if (userKind === USER_NULL) userId = null;
  else if (userKind === USER_NUMBER) userId = input.f64('request.userId');
  else if (userKind === USER_STRING) userId = input.str(true, 'request.userId');
  else if (userKind !== USER_NONE)
    throw new EnvelopeError(`request.userId of unknown kind ${userKind}`);
  const headerCount = input.u16('request.headers');
  const headers: Record<string, string> = {};
  for (let i = 0; i < headerCount; i++) {
    const name = input.str(true, 'a header name');
    own(headers, name, input.str(false, `header "${name.slice(0, 40)}"`));
  }
  const contextText = input.str(false, 'request.context');
  let context: unknown;
  if (contextText !== '') {
    try {
      context = JSON.parse(contextText) as unknown;
    } catch {
      throw new EnvelopeError('request.context is not JSON');
    }
  }
  const body = readBody(input, 'request.body');
  input.end_();
  const call: DecodedCall['call'] = {
    service,
    version,
    instance,
    key,
    timeoutMs,
    request: { method, path },
  };
  if (search !== '') call.search = search;
  if (traceparent !== '') call.traceparent = traceparent;
  const request: DecodedCall['request'] = { id, method, path, headers, userId };
  if (context !== undefined) request.context = context as PluginRequest['context'];
  if (body !== undefined) request.body = body;
  return { call, request };
}

/** An answer as a `veza-peer/4` payload. @throws {EnvelopeError} for a field past its bound */
export function encodeAnswer(
  response: PluginResponse,
  failure: TaskFailure['__pgw'] | undefined,
): Buffer {
  const out = new Out();
  out.str(failure ?? '', true);
  out.u16(response.statusCode);
  const headers = response.headers ?? {};
  const names = Object.keys(headers);
  out.u16(names.length);
  for (const name of names) {
    out.str(name, true);
    const value = headers[name]!;
    if (Array.isArray(value)) {
      out.u8(HEADER_LIST);
      out.u16(value.length);
      for (const v of value) out.str(v, false);
    } else {
      out.u8(HEADER_ONE);
      out.str(value, false);
    }
  }
  out.str(response.metadata === undefined ? '' : JSON.stringify(response.metadata), false);
  writeBody(out, response.body);
  return out.done();
}

/** A `veza-peer/4` answer payload, decoded (its shape is judged by the caller). @throws {EnvelopeError} */
export function decodeAnswer(payload: Buffer): DecodedAnswer {
  const input = new In(payload);
  const failure = input.str(true, 'failure');
  const statusCode = input.u16('statusCode');
  const headerCount = input.u16('headers');
  const headers: Record<string, string | string[]> = {};
  for (let i = 0; i < headerCount; i++) {
    const name = input.str(true, 'a header name');
    const kind = input.u8(`header "${name.slice(0, 40)}"`);
    if (kind === HEADER_ONE) own(headers, name, input.str(false, 'a header value'));
    else if (kind === HEADER_LIST) {
      const count = input.u16('a header list');
      const values: string[] = [];
      for (let j = 0; j < count; j++) values.push(input.str(false, 'a header value'));
      own(headers, name, values);
    } else throw new EnvelopeError(`a header of unknown kind ${kind}`);
  }
  const metadataText = input.str(false, 'metadata');
  let metadata: unknown;
  if (metadataText !== '') {
    try {
      metadata = JSON.parse(metadataText) as unknown;
    } catch {
      throw new EnvelopeError('metadata is not JSON');
    }
  }
  const body = readBody(input, 'body');
  input.end_();
  const response: PluginResponse = { statusCode, headers };
  if (body !== undefined) response.body = body;
  if (metadata !== undefined) response.metadata = metadata as Record<string, unknown>;
  const answer: DecodedAnswer = { response };
  if (failure !== '') answer.failure = failure;
  return answer;
}

/** {@link decodeCall} and the checks `parseCall` makes of the JSON form beyond its types. */
export function checked(payload: Buffer): DecodedCall {
  const decoded = decodeCall(payload);
  const { call, request: r } = decoded;
  if (!(call.timeoutMs > 0) || call.timeoutMs > 86_400_000) throw new EnvelopeError('timeoutMs');
  if (r.id === '' || r.id.length > 256) throw new EnvelopeError('request.id');
  if (call.key.slice(0, call.key.indexOf(' ')) !== r.method)
    throw new EnvelopeError('request.method');
  if (r.path[0] !== '/' || r.path.includes('?')) throw new EnvelopeError('request.path');
  if (typeof r.userId === 'number' && !Number.isFinite(r.userId)) throw new EnvelopeError('userId');
  if (
    r.context !== undefined &&
    (typeof r.context !== 'object' || r.context === null || Array.isArray(r.context))
  ) {
    throw new EnvelopeError('request.context');
  }
  if (call.traceparent !== undefined && parseTraceparent(call.traceparent) === undefined) {
    delete call.traceparent;
  }
  return decoded;
}
