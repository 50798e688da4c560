/**
 * The gateway's own answers: error bodies `{ error: { code, message, requestId } }`, and the status
 * each failure of a plugin maps to. A plugin's stack trace never goes into a response.
 * @module
 */
import { ErrorCodes, ErrorStatus, type ErrorCode } from '../errors.js';
import type { TaskFailure } from './task-failure.js';
import type { PluginResponse } from './types.js';

/** Body of every error the gateway answers. */
export interface ErrorBody {
  /**
   * `code`: a `PGW_ERR_*` code (docs/errors.md); `message`: safe to show the caller (a plugin's own
   * message and stack go to the logs only); `requestId`: the request's id, to find it in the logs.
   */
  error: { code: ErrorCode; message: string; requestId: string };
}

/**
 * The gateway's error answer for `code`, with the status the error table gives it (`ErrorStatus`
 * in error-base.ts): the only place a status is chosen for a code.
 */
export function errorResponse(
  code: ErrorCode,
  message: string,
  requestId: string,
  headers?: Record<string, string>,
): PluginResponse & { body: ErrorBody } {
  return {
    statusCode: ErrorStatus[code],
    headers: { 'content-type': 'application/json', ...headers },
    body: { error: { code, message, requestId } },
  };
}

/** An error answer as the wire carries it: its status, its headers and the body as JSON text. */
export interface ErrorWire {
  status: number;
  headers: Record<string, string>;
  payload: string;
}

/**
 * {@link errorResponse} serialised, for answers written before a request has reached the gateway
 * (the adapters' refusals) or leaving it as text (a peer call's): `requestId` is left out when there
 * is none yet.
 */
export function errorWire(code: ErrorCode, message: string, requestId?: string): ErrorWire {
  return {
    status: ErrorStatus[code],
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ error: { code, message, requestId } }),
  };
}

/**
 * Marks the gateway's own "no plugin serves this path" answer, which the adapters hand on to the host's
 * routes. A symbol on the host's object: a plugin's reply (structured-cloned from a thread, JSON from a
 * process or a peer) cannot carry it, so a plugin cannot pass a request it has read on to the host by
 * answering in that answer's shape.
 */
export const NO_ROUTE: unique symbol = Symbol.for('@veza/plugin-gateway.no-route') as never;

/** The gateway's own 404 for a path no handler serves, marked with {@link NO_ROUTE}. */
export function noRouteResponse(
  message: string,
  requestId: string,
): PluginResponse & { body: ErrorBody } {
  const response = errorResponse(ErrorCodes.NOT_FOUND, message, requestId);
  Object.defineProperty(response, NO_ROUTE, { value: true });
  return response;
}

/** Code and caller-safe message for each way a task can fail (the code's status is the table's). */
const FAILURES: Record<TaskFailure['__pgw'], { code: ErrorCode; message: string }> = {
  threw: {
    code: ErrorCodes.PLUGIN_ERROR,
    message: 'the plugin failed to handle the request',
  },
  crash: {
    code: ErrorCodes.PLUGIN_CRASHED,
    message: 'the plugin crashed while handling the request',
  },
  'bad-response': {
    code: ErrorCodes.BAD_RESPONSE,
    message: 'the plugin returned an invalid response',
  },
  'too-large': {
    code: ErrorCodes.RESPONSE_TOO_LARGE,
    message: 'the plugin returned a response larger than the gateway accepts',
  },
  'no-route': {
    code: ErrorCodes.BAD_RESPONSE,
    message: 'the plugin has no handler for this endpoint',
  },
  init: {
    code: ErrorCodes.PLUGIN_UNAVAILABLE,
    message: 'the plugin failed to start',
  },
  terminated: {
    code: ErrorCodes.PLUGIN_UNAVAILABLE,
    message: 'the plugin was restarted; try again',
  },
  overloaded: {
    code: ErrorCodes.OVERLOADED,
    message: 'the plugin has too many requests in flight',
  },
  unreachable: {
    code: ErrorCodes.PEER_UNREACHABLE,
    message: 'the gateway running the plugin could not be reached',
  },
  unsendable: {
    code: ErrorCodes.GATEWAY_ERROR,
    message: 'the request could not be handed to the plugin',
  },
  timeout: {
    code: ErrorCodes.TIMEOUT,
    message: 'the plugin did not answer in time',
  },
};

export function failureResponse(
  failure: TaskFailure,
  plugin: string,
  requestId: string,
): PluginResponse {
  const f = FAILURES[failure.__pgw];
  return errorResponse(f.code, `${f.message} (plugin "${plugin}")`, requestId);
}

/** Headers the host writes on an untrusted answer, whatever the plugin set (in any letter case). */
const HOST_WRITTEN = new Set(['content-security-policy', 'x-content-type-options']);

/**
 * `response` as a browser must take it from code the host does not trust: under
 * `content-security-policy: sandbox` (the page is an opaque origin of its own: its script cannot reach
 * the host's origin, its cookies, or a management API served there) and `x-content-type-options:
 * nosniff`. The host writes both: the plugin's own `sandbox` directive is dropped with its tokens (an
 * `allow-same-origin` would put its script back in the host's origin), under any spelling of the
 * header's name; its other directives, which can only restrict further, are kept.
 */
export function sandboxedForBrowsers(response: PluginResponse): PluginResponse {
  const headers: Record<string, string | string[]> = {};
  const directives: string[] = [];
  for (const [name, value] of Object.entries(response.headers ?? {})) {
    const lower = name.toLowerCase();
    if (!HOST_WRITTEN.has(lower)) {
      headers[name] = value as string | string[];
      continue;
    }
    if (lower !== 'content-security-policy') continue;
    for (const part of ([] as unknown[]).concat(value)) {
      if (typeof part !== 'string') continue;
      // `,` separates policies, `;` directives: each is kept but a `sandbox` one.
      for (const directive of part.split(/[;,]/)) {
        const text = directive.trim();
        if (text !== '' && text.split(/\s+/)[0]!.toLowerCase() !== 'sandbox') directives.push(text);
      }
    }
  }
  headers['content-security-policy'] = [...directives, 'sandbox'].join('; ');
  headers['x-content-type-options'] = 'nosniff';
  return { ...response, headers };
}
