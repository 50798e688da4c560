/**
 * Request ids at the edge: a caller's `x-request-id` (or a framework's own id) is echoed and leads the
 * id the gateway logs; a suffix unique to this process keeps every id the gateway sees unique, so a
 * caller can never give its request the id of another one in flight.
 * @module
 */
import { randomBytes } from 'node:crypto';

/** A request id a caller may choose: short, and nothing a log line could trip on. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const ID_PREFIX = randomBytes(4).toString('hex');
let ids = 0;

/** `asked` when it is an id fit to echo, else `undefined`. */
export function acceptedRequestId(asked: unknown): string | undefined {
  return typeof asked === 'string' && REQUEST_ID.test(asked) ? asked : undefined;
}

/** The id the gateway serves a request under: `<echoed>~<unique>`, or `<unique>` alone. */
export function gatewayRequestId(echoed: string | undefined): string {
  const unique = `${ID_PREFIX}-${(++ids).toString(36)}`;
  return echoed === undefined ? unique : `${echoed}~${unique}`;
}
