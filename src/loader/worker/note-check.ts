/**
 * The host's check of everything that crosses from a plugin's thread: its notes (logs, publish, calls,
 * memory, stop, health) and its task results. A thread runs code the host does not trust, so nothing it
 * sends is assumed to have the shape the harness would give it: anything else is the plugin's fault,
 * refused here with a reason, and never reaches the rest of the gateway. Checks are plain type tests,
 * a few per message (see notes/H2.md for their cost).
 * @module
 */
import { checkFetchRequest } from '../host-fetch.js';
import { MessagePort } from 'node:worker_threads';
import { isTaskFailure, type TaskFailure } from '../../shared/task-failure.js';
import { oversizedReply } from '../reply-size.js';
import type { TaskInput, TaskResult } from '../runtime.js';
import type { WorkerNote } from './protocol.js';
import { parseTraceparent } from '../../shared/trace-context.js';
import { ownReplyBody } from '../../shared/own-bytes.js';
import type { PluginResponse } from '../../shared/types.js';

/** The failures a thread may report; the others (`crash`, `terminated`, …) are the host's own to say. */
const THREAD_FAILURES: ReadonlySet<string> = new Set([
  'threw',
  'timeout',
  'init',
  'bad-response',
  'no-route',
  'too-large',
]);
const LEVELS: ReadonlySet<string> = new Set(['debug', 'info', 'warn', 'error']);
const HEALTH: ReadonlySet<string> = new Set(['healthy', 'degraded', 'unhealthy']);
/** Piscina's own "thread ready" message, on the same port. */
const PISCINA_READY = '_WORKER_READY';

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const optional = (v: unknown, type: 'string' | 'number') => v === undefined || typeof v === type;
const isUser = (v: unknown) =>
  v === undefined || v === null || typeof v === 'string' || typeof v === 'number';
const isCount = (v: unknown) => typeof v === 'number' && v >= 0 && Number.isFinite(v);

/** Piscina's ready message: not the plugin's, not a violation. */
export function isPiscinaNote(message: unknown): boolean {
  return isObject(message) && message[PISCINA_READY] === true;
}

/** The note, or why it is refused. */
export function checkNote(message: unknown): WorkerNote | string {
  if (!isObject(message)) return `a message that is ${describe(message)}, not a note`;
  const m = message;
  switch (m.pgw) {
    case 'log':
      if (typeof m.level !== 'string' || !LEVELS.has(m.level))
        return `log level ${describe(m.level)}`;
      if (typeof m.msg !== 'string') return `log message ${describe(m.msg)}`;
      if (m.fields !== undefined && !isObject(m.fields)) return `log fields ${describe(m.fields)}`;
      if (!optional(m.requestId, 'string')) return `log requestId ${describe(m.requestId)}`;
      if (m.tp !== undefined && parseTraceparent(m.tp) === undefined)
        return `log traceparent ${describe(m.tp)}`;
      return m as WorkerNote;
    case 'publish': {
      const e = m.event;
      if (!isObject(e)) return `publish of ${describe(e)}, not an event`;
      if (typeof e.type !== 'string' || e.type === '') return `publish of type ${describe(e.type)}`;
      if (!optional(e.id, 'string') || !optional(e.timestamp, 'number') || !isUser(e.userId)) {
        return `publish of "${e.type}" with an id, timestamp or userId of the wrong type`;
      }
      return m as WorkerNote;
    }
    case 'call': {
      if (!(m.port instanceof MessagePort)) return 'call without a reply port';
      const r = m.request;
      if (typeof m.service !== 'string' || !isObject(r)) return 'call without a service or request';
      if (typeof r.method !== 'string' || typeof r.path !== 'string') {
        return `call to "${m.service}" without a method and path`;
      }
      if (r.headers !== undefined && !isObject(r.headers)) return 'call with headers not an object';
      if (!isUser(r.userId) || !isUser(m.userId) || !optional(m.requestId, 'string')) {
        return `call to "${m.service}" with a userId or requestId of the wrong type`;
      }
      return m as WorkerNote;
    }
    case 'fetch': {
      if (!(m.port instanceof MessagePort)) return 'fetch without a reply port';
      const request = checkFetchRequest(m.request);
      return typeof request === 'string' ? request : (m as WorkerNote);
    }
    case 'heap':
      return isCount(m.used) && isCount(m.external)
        ? (m as WorkerNote)
        : 'memory note without figures';
    case 'stopped':
      return optional(m.error, 'string') ? (m as WorkerNote) : 'stop note with a non-string error';
    case 'health':
      return Number.isInteger(m.seq) && isHealth(m.status)
        ? (m as WorkerNote)
        : 'health note without a sequence number and status';
    case 'exiting':
      return typeof m.code === 'number' ? (m as WorkerNote) : 'exit note without a code';
    case 'pong':
      return Number.isInteger(m.seq) ? (m as WorkerNote) : 'pong note without a sequence number';
    default:
      return `a note of unknown kind ${describe(m.pgw)}`;
  }
}

function isHealth(v: unknown): boolean {
  return (
    isObject(v) &&
    typeof v.status === 'string' &&
    HEALTH.has(v.status) &&
    (v.details === undefined || isObject(v.details))
  );
}

/** The result of a task of kind `kind` as a thread answered it, or a `bad-response` failure saying why not. */
export function checkResult(kind: TaskInput['t'], result: unknown): TaskResult {
  if (typeof result === 'object' && result !== null && '__pgw' in result) {
    const f = result as Partial<TaskFailure>;
    if (
      typeof f.__pgw === 'string' &&
      THREAD_FAILURES.has(f.__pgw) &&
      typeof f.message === 'string'
    ) {
      return result as TaskFailure;
    }
    return badResponse(`a failure of kind ${describe(f.__pgw)} that a thread may not report`);
  }
  const wrong =
    kind === 'req'
      ? responseProblem(result)
      : kind === 'evt'
        ? result === null
          ? undefined
          : 'an event result'
        : kind === 'health'
          ? isHealth(result)
            ? undefined
            : 'a health status of the wrong shape'
          : bootProblem(result);
  if (wrong !== undefined) return badResponse(wrong);
  // Checked bytes stay as checked: a body shared with the plugin's thread is copied out of its reach.
  return kind === 'req' ? ownReplyBody(result as PluginResponse) : (result as TaskResult);
}

/** Why `value` is not a response the gateway may pass on, or undefined when it is one. */
export function responseProblem(value: unknown): string | undefined {
  if (!isObject(value)) return `a response that is ${describe(value)}`;
  const status = value.statusCode;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 200 || status > 599) {
    return `statusCode ${describe(status)}, expected an integer 200-599`;
  }
  const headers = value.headers;
  if (headers !== undefined) {
    if (!isObject(headers)) return 'headers that are not an object';
    for (const name in headers) {
      const v = headers[name];
      if (typeof v !== 'string' && !(Array.isArray(v) && v.every((s) => typeof s === 'string'))) {
        return `header "${name}" that is not a string or a list of strings`;
      }
    }
  }
  if (value.metadata !== undefined && !isObject(value.metadata)) return 'metadata not an object';
  return undefined;
}

function bootProblem(value: unknown): string | undefined {
  if (!isObject(value)) return 'a boot report that is not an object';
  const { routes, handlesEvents, health } = value;
  return Array.isArray(routes) &&
    routes.every((r) => typeof r === 'string') &&
    typeof handlesEvents === 'boolean' &&
    isHealth(health)
    ? undefined
    : 'a boot report of the wrong shape';
}

function badResponse(why: string): TaskFailure {
  return { __pgw: 'bad-response', message: `the thread answered ${why}` };
}

/** A short, safe description of an untrusted value (never calls its methods). */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
    case 'number':
    case 'boolean':
    case 'undefined':
      return String(value);
    default:
      return Array.isArray(value) ? 'an array' : `a ${typeof value}`;
  }
}

/**
 * What the host refuses of a thread's answer, given `checked`, {@link checkResult}'s verdict on it: that
 * `bad-response`, or a response over `maxResponseBytes` by the host's own measure; undefined when the
 * answer stands.
 */
export function refusedResult(
  kind: TaskInput['t'],
  result: unknown,
  checked: TaskResult,
  maxResponseBytes: number,
): TaskFailure | undefined {
  if (isTaskFailure(checked)) return checked !== result ? checked : undefined;
  // Measured as received: a body copied out of the thread's reach (`checked`) may be far smaller than
  // the backing buffer its message carried into the host.
  return kind === 'req' ? oversizedReply(result, maxResponseBytes) : undefined;
}
