/**
 * A `PluginResponse` on the wire: the status checked, the plugin's headers sanitised
 * ({@link wireHeaders}: lists stay lists, one header line per value), a `content-type` chosen by the
 * body's kind when the plugin gave none, and the length the adapter's own. Shared by every adapter.
 * @module
 */
import type { ServerResponse } from 'node:http';
import { ErrorCodes, type ErrorCode } from '../errors.js';
import { errorWire } from '../shared/responses.js';
import type { PluginResponse } from '../shared/types.js';
import { wireHeaders } from './wire-headers.js';

/** A response ready for the wire: status, headers (without `content-length`) and payload. */
export interface WireResponse {
  /** 200–599. */
  status: number;
  /** Sanitised headers, a `content-type` among them when there is a payload. */
  headers: Record<string, string | string[]>;
  /** The bytes or text to send; `undefined` for none. */
  payload: string | Uint8Array | undefined;
}

/** The response as the wire carries it; an invalid status becomes the gateway's 500. */
export function wireResponse(response: PluginResponse): WireResponse {
  const status = response.statusCode;
  if (!Number.isInteger(status) || status < 200 || status > 599) {
    // The gateway validates statuses already; the wire never carries 1xx or nonsense whatever happens.
    return errorWire(ErrorCodes.BAD_RESPONSE, 'the plugin answered an invalid status');
  }
  const headers = wireHeaders(response.headers);
  const typed = headers['content-type'] !== undefined;
  const body = response.body;
  let payload: string | Uint8Array | undefined;
  if (body === undefined || body === null) payload = undefined;
  else if (body instanceof Uint8Array) {
    payload = body;
    if (!typed) headers['content-type'] = 'application/octet-stream';
  } else if (typeof body === 'string') {
    payload = body;
    if (!typed) headers['content-type'] = 'text/plain; charset=utf-8';
  } else {
    payload = JSON.stringify(body);
    if (!typed) headers['content-type'] = 'application/json';
  }
  return { status, headers, payload };
}

/**
 * Writes `wire` to a `node:http` response, `content-length` computed here: a HEAD answer says what GET
 * would send, length included, without the body.
 */
export function writeWire(res: ServerResponse, wire: WireResponse, head = false): void {
  const { status, headers, payload } = wire;
  // The length is the adapter's to say: the body as it is written, never what the plugin claimed.
  if (status !== 204 && status !== 304) {
    headers['content-length'] = String(
      payload === undefined
        ? 0
        : typeof payload === 'string'
          ? Buffer.byteLength(payload)
          : payload.byteLength,
    );
  }
  res.writeHead(status, headers).end(head ? undefined : payload);
}

/**
 * Writes the adapter's own error answer; `close` ends the connection after it (a body left unread);
 * `requestId`, when the request got one, goes in the body and the `x-request-id` header.
 */
export function writeError(
  res: ServerResponse,
  code: ErrorCode,
  message: string,
  close = false,
  requestId?: string,
): void {
  const wire: WireResponse = errorWire(code, message, requestId);
  if (close) wire.headers.connection = 'close';
  if (requestId !== undefined) wire.headers['x-request-id'] = requestId;
  writeWire(res, wire);
}
