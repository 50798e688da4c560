import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { checkNote, checkResult, responseProblem } from './note-check.js';

describe('checkNote', () => {
  it.each([
    ['a string', 'x'],
    ['null', null],
    ['a number', 42],
    ['an array', []],
    ['a log level of __proto__', { pgw: 'log', level: '__proto__', msg: 'x' }],
    ['a log level of constructor', { pgw: 'log', level: 'constructor', msg: 'x' }],
    ['a log message that is not a string', { pgw: 'log', level: 'info', msg: {} }],
    ['log fields that are an array', { pgw: 'log', level: 'info', msg: 'x', fields: [] }],
    ['a call without a port', { pgw: 'call', service: 's', request: { method: 'GET', path: '/' } }],
    ['a publish without a type', { pgw: 'publish', event: {} }],
    ['a publish without an event', { pgw: 'publish' }],
    ['a publish with an object id', { pgw: 'publish', event: { type: 'a', id: {} } }],
    ['a heap note without figures', { pgw: 'heap', used: 'x', external: 0 }],
    ['a health note with an unknown status', { pgw: 'health', seq: 1, status: { status: 'ok' } }],
    ['an unknown kind', { pgw: 'hello' }],
  ])('refuses %s with a reason', (_, message) => {
    expect(typeof checkNote(message)).toBe('string');
  });

  it('accepts what the harness sends', () => {
    const { port1, port2 } = new MessageChannel();
    const notes = [
      { pgw: 'log', level: 'warn', msg: 'x', fields: { a: 1 }, requestId: 'r' },
      { pgw: 'publish', event: { type: 'a.b', payload: [1], userId: 7 } },
      { pgw: 'call', service: 's', request: { method: 'GET', path: '/x' }, port: port2 },
      { pgw: 'heap', used: 1, external: 2 },
      { pgw: 'stopped' },
      { pgw: 'health', seq: 3, status: { status: 'healthy' } },
      { pgw: 'exiting', code: 0 },
    ];
    for (const note of notes) expect(checkNote(note)).toBe(note);
    port1.close();
  });
});

describe('checkResult', () => {
  it('refuses failures a thread may not report, and malformed ones', () => {
    for (const forged of [
      { __pgw: 'crash', message: 'x' },
      { __pgw: 'terminated', message: 'x' },
      { __pgw: 'overloaded', message: 'x' },
      { __pgw: 'timeout' },
      { __pgw: 'toString', message: 'x' },
    ]) {
      expect(checkResult('req', forged)).toMatchObject({ __pgw: 'bad-response' });
    }
    const thrown = { __pgw: 'threw', message: 'boom' };
    expect(checkResult('req', thrown)).toBe(thrown);
  });

  it('checks each task kind against its own shape', () => {
    expect(checkResult('evt', { statusCode: 200 })).toMatchObject({ __pgw: 'bad-response' });
    expect(checkResult('evt', null)).toBeNull();
    expect(checkResult('health', { status: 'fine' })).toMatchObject({ __pgw: 'bad-response' });
    expect(checkResult('boot', { routes: [1] })).toMatchObject({ __pgw: 'bad-response' });
    const boot = { routes: ['GET /a'], handlesEvents: false, health: { status: 'healthy' } };
    expect(checkResult('boot', boot)).toBe(boot);
  });
});

describe('responseProblem', () => {
  it.each([100, 101, 199, 600, 700, NaN, 200.5, '200', undefined])('refuses status %s', (s) => {
    expect(responseProblem({ statusCode: s })).toMatch(/statusCode/);
  });

  it('accepts header values that are strings or lists of strings, nothing else', () => {
    expect(
      responseProblem({ statusCode: 200, headers: { a: 'b', c: ['d', 'e'] } }),
    ).toBeUndefined();
    expect(responseProblem({ statusCode: 200, headers: { a: 1 } })).toMatch(/header "a"/);
    expect(responseProblem({ statusCode: 200, headers: { a: [1] } })).toMatch(/header "a"/);
    expect(responseProblem({ statusCode: 200, headers: [] })).toMatch(/headers/);
    expect(responseProblem({ statusCode: 200, metadata: 3 })).toMatch(/metadata/);
  });
});
