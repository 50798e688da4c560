import { MessageChannel } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import {
  checkNote,
  checkResult,
  describe as describeValue,
  isPiscinaNote,
  responseProblem,
} from './note-check.js';

// The exact reason for each refusal, and each optional field accepted when well-formed: the host's
// check of an untrusted thread, field by field (the mutation run showed which ones no test pinned).
const { port1, port2: port } = new MessageChannel();
afterAll(() => port1.close());
const TP = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const call = (extra: Record<string, unknown> = {}, request: Record<string, unknown> = {}) => ({
  pgw: 'call',
  port,
  service: 'profiles',
  request: { method: 'GET', path: '/p', ...request },
  ...extra,
});

describe('checkNote: what it accepts', () => {
  it.each([
    [
      'a log with every optional field',
      { pgw: 'log', level: 'debug', msg: 'm', fields: {}, requestId: 'r', tp: TP },
    ],
    ['a log at each level', { pgw: 'log', level: 'error', msg: '' }],
    [
      'a publish with id, timestamp and a string user',
      { pgw: 'publish', event: { type: 'a', id: 'i', timestamp: 1, userId: 'u' } },
    ],
    ['a publish with a null user', { pgw: 'publish', event: { type: 'a', userId: null } }],
    [
      'a call with headers, users and a request id',
      call({ userId: 7, requestId: 'r' }, { headers: {}, userId: null }),
    ],
    ['a call for a string user', call({ userId: 'ada' }, { userId: 'bob' })],
    ['a fetch', { pgw: 'fetch', port, request: { url: 'http://x/' } }],
    ['a heap note at zero', { pgw: 'heap', used: 0, external: 0 }],
    ['a stop note with an error', { pgw: 'stopped', error: 'e' }],
    [
      'a health note with details',
      { pgw: 'health', seq: 0, status: { status: 'degraded', details: {} } },
    ],
    ['an unhealthy health note', { pgw: 'health', seq: 2, status: { status: 'unhealthy' } }],
    ['an exit note', { pgw: 'exiting', code: 1 }],
  ])('%s', (_, note) => {
    expect(checkNote(note)).toBe(note);
  });
});

describe('checkNote: what it refuses, and why', () => {
  it.each([
    ['a string', 'hi', 'a message that is "hi", not a note'],
    ['an unknown kind', { pgw: 7 }, 'a note of unknown kind 7'],
    ['a log level not a string', { pgw: 'log', level: 3, msg: 'm' }, 'log level 3'],
    ['an unknown log level', { pgw: 'log', level: 'fatal', msg: 'm' }, 'log level "fatal"'],
    ['a log message not a string', { pgw: 'log', level: 'info', msg: 1 }, 'log message 1'],
    [
      'log fields not an object',
      { pgw: 'log', level: 'info', msg: 'm', fields: 'f' },
      'log fields "f"',
    ],
    [
      'a log requestId not a string',
      { pgw: 'log', level: 'info', msg: 'm', requestId: 5 },
      'log requestId 5',
    ],
    [
      'a log traceparent malformed',
      { pgw: 'log', level: 'info', msg: 'm', tp: 'x' },
      'log traceparent "x"',
    ],
    ['a publish of a list', { pgw: 'publish', event: [] }, 'publish of an array, not an event'],
    ['a publish of an empty type', { pgw: 'publish', event: { type: '' } }, 'publish of type ""'],
    ['a publish of a numeric type', { pgw: 'publish', event: { type: 1 } }, 'publish of type 1'],
    [
      'a publish with an object id',
      { pgw: 'publish', event: { type: 'a', id: 1 } },
      'publish of "a" with an id, timestamp or userId of the wrong type',
    ],
    [
      'a publish with a string timestamp',
      { pgw: 'publish', event: { type: 'a', timestamp: 'now' } },
      'publish of "a" with an id, timestamp or userId of the wrong type',
    ],
    [
      'a publish with an object user',
      { pgw: 'publish', event: { type: 'a', userId: {} } },
      'publish of "a" with an id, timestamp or userId of the wrong type',
    ],
    ['a call without a port', call({ port: undefined }), 'call without a reply port'],
    ['a call with a numeric service', call({ service: 1 }), 'call without a service or request'],
    ['a call with a list request', call({ request: [] }), 'call without a service or request'],
    [
      'a call without a method',
      call({}, { method: undefined }),
      'call to "profiles" without a method and path',
    ],
    [
      'a call without a path',
      call({}, { path: 1 }),
      'call to "profiles" without a method and path',
    ],
    ['a call with list headers', call({}, { headers: [] }), 'call with headers not an object'],
    [
      'a call for an object user',
      call({}, { userId: {} }),
      'call to "profiles" with a userId or requestId of the wrong type',
    ],
    [
      'a call from a boolean user',
      call({ userId: false }),
      'call to "profiles" with a userId or requestId of the wrong type',
    ],
    [
      'a call with a numeric requestId',
      call({ requestId: 1 }),
      'call to "profiles" with a userId or requestId of the wrong type',
    ],
    [
      'a fetch without a port',
      { pgw: 'fetch', request: { url: 'http://x/' } },
      'fetch without a reply port',
    ],
    ['a fetch without a URL', { pgw: 'fetch', port, request: {} }, 'fetch without a URL'],
    [
      'a heap note with a negative figure',
      { pgw: 'heap', used: -1, external: 0 },
      'memory note without figures',
    ],
    [
      'a heap note with an infinite figure',
      { pgw: 'heap', used: 1, external: Infinity },
      'memory note without figures',
    ],
    [
      'a heap note with a string figure',
      { pgw: 'heap', used: 1, external: '2' },
      'memory note without figures',
    ],
    [
      'a stop note with an object error',
      { pgw: 'stopped', error: {} },
      'stop note with a non-string error',
    ],
    [
      'a health note without a sequence number',
      { pgw: 'health', status: { status: 'healthy' } },
      'health note without a sequence number and status',
    ],
    [
      'a health note with list details',
      { pgw: 'health', seq: 1, status: { status: 'healthy', details: [] } },
      'health note without a sequence number and status',
    ],
    [
      'a health note with a numeric status',
      { pgw: 'health', seq: 1, status: { status: 1 } },
      'health note without a sequence number and status',
    ],
    ['an exit note with a string code', { pgw: 'exiting', code: '0' }, 'exit note without a code'],
  ])('%s', (_, note, reason) => {
    expect(checkNote(note)).toBe(reason);
  });
});

describe('checkResult and responseProblem: the reasons given', () => {
  it('says which failure kind a thread may not report', () => {
    expect(checkResult('req', { __pgw: 'crash', message: 'x' })).toEqual({
      __pgw: 'bad-response',
      message: 'the thread answered a failure of kind "crash" that a thread may not report',
    });
    expect(checkResult('req', { __pgw: 1, message: 'x' })).toMatchObject({
      message: 'the thread answered a failure of kind 1 that a thread may not report',
    });
    for (const kind of ['threw', 'timeout', 'init', 'bad-response', 'no-route', 'too-large']) {
      const failure = { __pgw: kind, message: 'm' };
      expect(checkResult('evt', failure)).toBe(failure);
    }
  });

  it('names what is wrong with each kind of result', () => {
    const bad = (kind: Parameters<typeof checkResult>[0], result: unknown) =>
      (checkResult(kind, result) as { message: string }).message;
    expect(bad('req', 'x')).toBe('the thread answered a response that is "x"');
    expect(bad('evt', 1)).toBe('the thread answered an event result');
    expect(bad('health', { status: 'ok' })).toBe(
      'the thread answered a health status of the wrong shape',
    );
    expect(bad('health', null)).toBe('the thread answered a health status of the wrong shape');
    expect(checkNote({ pgw: 'health', seq: 1, status: null })).toBe(
      'health note without a sequence number and status',
    );
    expect(bad('boot', 1)).toBe('the thread answered a boot report that is not an object');
    const health = { status: 'healthy' };
    for (const report of [
      { routes: 'GET /a', handlesEvents: false, health },
      { routes: ['GET /a'], handlesEvents: 'no', health },
      { routes: ['GET /a'], handlesEvents: false, health: {} },
      { routes: [1], handlesEvents: false, health },
      { routes: ['GET /a', 1], handlesEvents: false, health },
    ]) {
      expect(bad('boot', report)).toBe('the thread answered a boot report of the wrong shape');
    }
    const health2 = { status: 'healthy' };
    expect(checkResult('health', health2)).toBe(health2);
    const response = { statusCode: 204 };
    expect(checkResult('req', response)).toBe(response);
  });

  it('bounds the status, and names the header and the field', () => {
    expect(responseProblem({ statusCode: 200 })).toBeUndefined();
    expect(responseProblem({ statusCode: 599, metadata: {} })).toBeUndefined();
    expect(responseProblem({ statusCode: 600 })).toBe(
      'statusCode 600, expected an integer 200-599',
    );
    expect(responseProblem({ statusCode: 199 })).toBe(
      'statusCode 199, expected an integer 200-599',
    );
    expect(responseProblem(null)).toBe('a response that is null');
    expect(responseProblem({ statusCode: 200, headers: 'h' })).toBe(
      'headers that are not an object',
    );
    expect(responseProblem({ statusCode: 200, headers: { 'x-a': 1 } })).toBe(
      'header "x-a" that is not a string or a list of strings',
    );
    expect(responseProblem({ statusCode: 200, headers: { 'x-b': ['v', 1] } })).toBe(
      'header "x-b" that is not a string or a list of strings',
    );
    expect(responseProblem({ statusCode: 200, metadata: [] })).toBe('metadata not an object');
  });
});

describe('isPiscinaNote and describe', () => {
  it("recognises only Piscina's ready message", () => {
    expect(isPiscinaNote({ _WORKER_READY: true })).toBe(true);
    expect(isPiscinaNote({ _WORKER_READY: 1 })).toBe(false);
    expect(isPiscinaNote({})).toBe(false);
    expect(isPiscinaNote(null)).toBe(false);
    expect(isPiscinaNote([true])).toBe(false);
  });

  it('describes a value briefly', () => {
    expect(describeValue(null)).toBe('null');
    expect(describeValue('a'.repeat(41))).toBe(JSON.stringify(`${'a'.repeat(40)}…`));
    expect(describeValue('a'.repeat(40))).toBe(JSON.stringify('a'.repeat(40)));
    expect(describeValue(true)).toBe('true');
    expect(describeValue(undefined)).toBe('undefined');
    expect(describeValue(2)).toBe('2');
    expect(describeValue({})).toBe('a object');
    expect(describeValue([])).toBe('an array');
  });
});
