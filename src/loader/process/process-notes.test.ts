import { describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from './frames.js';
import {
  checkProcessNote,
  handshakeBreach,
  negotiatedVersion,
  SOCKETS_CAPABILITY,
  socketsRefusal,
} from './process-notes.js';
import type { ProcessNote } from './protocol.js';

// What a plugin process sends the host is untrusted: every note is checked before the host acts on it.
const SLOTS = 4;
const call = (extra: Record<string, unknown> = {}, request: Record<string, unknown> = {}) => ({
  pgw: 'call',
  seq: 1,
  service: 'profiles',
  request: { method: 'GET', path: '/p', ...request },
  ...extra,
});

describe('checkProcessNote', () => {
  it('accepts what the process harness sends, as it is', () => {
    const notes = [
      { pgw: 'hello', v: 1 },
      { pgw: 'started', s: 0 },
      { pgw: 'started', s: SLOTS - 1 },
      { pgw: 'result', s: 2, r: { statusCode: 200 } },
      { pgw: 'fetch', seq: 3, request: { url: 'http://127.0.0.1/' } },
      call(),
      call({ userId: 'ada', requestId: 'r-1' }, { headers: { a: 'b' }, userId: 7 }),
      call({ userId: null }, { userId: null }),
      { pgw: 'stopped' },
    ];
    for (const note of notes) expect(checkProcessNote(note, SLOTS)).toBe(note);
  });

  it.each([
    ['a string', 'ready', 'a message that is "ready", not a note'],
    ['null', null, 'a message that is null, not a note'],
    ['an array', [{ pgw: 'ready' }], 'a message that is an array, not a note'],
    [
      'a start note for a slot past the table',
      { pgw: 'started', s: SLOTS },
      'a start note for slot 4',
    ],
    ['a start note for slot -1', { pgw: 'started', s: -1 }, 'a start note for slot -1'],
    ['a start note for slot 1.5', { pgw: 'started', s: 1.5 }, 'a start note for slot 1.5'],
    ['a start note for slot "1"', { pgw: 'started', s: '1' }, 'a start note for slot'],
    ['a result for a slot past the table', { pgw: 'result', s: SLOTS }, 'a result for slot 4'],
    ['a result for no slot', { pgw: 'result' }, 'a result for slot'],
    [
      'a fetch without a sequence number',
      { pgw: 'fetch', request: { url: 'x' } },
      'fetch without a sequence number',
    ],
    ['a fetch without a URL', { pgw: 'fetch', seq: 1, request: {} }, 'fetch without a URL'],
    ['a call without a sequence number', call({ seq: 'one' }), 'call without a sequence number'],
    ['a call without a service', call({ service: 7 }), 'call without a service or request'],
    ['a call without a request', call({ request: 'GET /' }), 'call without a service or request'],
    [
      'a call with a list for a request',
      call({ request: [] }),
      'call without a service or request',
    ],
    [
      'a call without a method',
      call({}, { method: 1 }),
      'call to "profiles" without a method and path',
    ],
    [
      'a call without a path',
      call({}, { path: null }),
      'call to "profiles" without a method and path',
    ],
    [
      'a call with headers not an object',
      call({}, { headers: 'a: b' }),
      'call with headers not an object',
    ],
    ['a call with a list of headers', call({}, { headers: [] }), 'call with headers not an object'],
    [
      'a call for an object user',
      call({}, { userId: {} }),
      'call to "profiles" with a userId of the wrong type',
    ],
    [
      'a call from a boolean user',
      call({ userId: true }),
      'call to "profiles" with a userId of the wrong type',
    ],
    [
      'a call with an object requestId',
      call({ requestId: {} }),
      'call to "profiles" with a requestId of the wrong type',
    ],
    ['a note of the worker kind that is malformed', { pgw: 'heap', used: 'x' }, ''],
    ['an unknown kind', { pgw: 'hello' }, ''],
  ])('refuses %s, saying why', (_, message, reason) => {
    const checked = checkProcessNote(message, SLOTS);
    expect(typeof checked).toBe('string');
    expect(checked).toContain(reason);
  });
});

describe('the handshake of the plugin protocol', () => {
  const hello = (v: number) => ({ pgw: 'hello', v }) as ProcessNote;

  it('takes a hello in this version first, then every note', () => {
    expect(handshakeBreach(hello(PROTOCOL_VERSION), false)).toBeUndefined();
    expect(handshakeBreach({ pgw: 'started', s: 0 }, true)).toBeUndefined();
    expect(handshakeBreach(hello(PROTOCOL_VERSION + 1), true)).toBeUndefined();
  });

  it('refuses a note before the hello, and a hello in another version', () => {
    expect(handshakeBreach({ pgw: 'started', s: 0 }, false)).toBe(
      'a "started" note before its hello',
    );
    expect(handshakeBreach(hello(2), false)).toBe('protocol version 2; this host speaks 1');
  });

  it('refuses a hello without an integer version', () => {
    expect(checkProcessNote({ pgw: 'hello', v: '1' }, 4)).toBe('a hello without a version');
    expect(checkProcessNote({ pgw: 'hello', v: 1 }, 4)).toEqual({ pgw: 'hello', v: 1 });
  });
});

describe('version negotiation', () => {
  it('picks the highest version both speak: a plugin speaking 1 to 3 gets 1 here', () => {
    expect(negotiatedVersion({ v: 3, min: 1 })).toBe(PROTOCOL_VERSION);
    expect(handshakeBreach({ pgw: 'hello', v: 3, min: 1 }, false)).toBeUndefined();
    expect(negotiatedVersion({ v: 1 })).toBe(1);
  });

  it('ends a plugin whose range misses the host, naming both', () => {
    expect(handshakeBreach({ pgw: 'hello', v: 4, min: 2 }, false)).toBe(
      'protocol version 2 to 4; this host speaks 1',
    );
    expect(handshakeBreach({ pgw: 'hello', v: 0 }, false)).toBe(
      'protocol version 0; this host speaks 1',
    );
  });

  it('refuses a hello whose lowest version is above its highest', () => {
    expect(checkProcessNote({ pgw: 'hello', v: 1, min: 2 }, 4)).toContain('a hello with a lowest');
    expect(checkProcessNote({ pgw: 'hello', v: 1, min: 'x' }, 4)).toContain(
      'a hello with a lowest',
    );
  });
});

describe('capabilities in the hello', () => {
  it('takes a list of short names, and refuses anything else', () => {
    const caps = { pgw: 'hello', v: 1, caps: ['ws', 'x'.repeat(64)] };
    expect(checkProcessNote(caps, 4)).toBe(caps);
    for (const bad of ['ws', [1], [''], ['x'.repeat(65)], Array(33).fill('ws'), { ws: true }])
      expect(checkProcessNote({ pgw: 'hello', v: 1, caps: bad }, 4)).toContain(
        'a hello whose caps are not a list',
      );
  });

  it('asks the ws capability of a native program with WebSocket endpoints only', () => {
    const plugin = { name: 'p', native: true, socketKeys: ['GET /ws'] };
    expect(socketsRefusal({ caps: [SOCKETS_CAPABILITY] }, plugin)).toBeUndefined();
    expect(socketsRefusal({ caps: ['other'] }, plugin)).toContain('"ws" capability');
    expect(socketsRefusal({}, { ...plugin, socketKeys: [] })).toBeUndefined();
    expect(socketsRefusal({}, { ...plugin, native: false })).toBeUndefined();
  });
});
