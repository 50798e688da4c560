// Issue 23, class D: any entry in the fleet's event stream — random fields, a sealed entry with its
// event or seal changed, oversized — is opened without a throw, and delivered only when the fleet
// sealed it for this stream and it fits maxEventBytes.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { entryMac, openEntry } from '../../src/fleet/stream-entry.js';
import { fuzzSettings } from './fuzz-settings.js';

const SECRET = 'fuzz-fleet-secret-0123456789';
const settings = { stream: 'pgw:events', maxEventBytes: 4096, secret: SECRET };
const RAW = JSON.stringify({
  type: 'order.placed',
  id: 'gw-1-e1',
  timestamp: 1_700_000_000_000,
  source: 'checkout',
  userId: 'u1',
  payload: { total: 3 },
});
const SEALED = ['e', RAW, 'mac', entryMac(SECRET, settings.stream, RAW)];

/** The sealed entry with its raw JSON edited (one character changed, added or cut), or its seal. */
const mutated = fc.oneof(
  fc.tuple(fc.nat(RAW.length - 1), fc.string({ minLength: 1, maxLength: 3 })).map(([at, s]) => {
    const raw = RAW.slice(0, at) + s + RAW.slice(at + 1);
    return ['e', raw, 'mac', SEALED[3]!];
  }),
  fc.string({ maxLength: 80 }).map((mac) => ['e', RAW, 'mac', mac]),
  fc.constant(['e', RAW]),
  fc.constant(['mac', SEALED[3]!, 'e', RAW]),
);
const fields = fc.oneof(
  { weight: 4, arbitrary: mutated },
  fc.constant(SEALED),
  fc.array(fc.string({ maxLength: 60 }), { maxLength: 8 }),
  fc.array(fc.oneof(fc.string(), fc.constant('e'), fc.constant('mac')), { maxLength: 6 }),
  fc.jsonValue().map((v) => {
    const raw = JSON.stringify(v) ?? '';
    return ['e', raw, 'mac', entryMac(SECRET, settings.stream, raw)];
  }),
  fc.anything().map((v) => v as string[]),
  fc.constant(null),
);

describe('stream entries as anyone with write access to Redis appends them', () => {
  it('are opened without a throw; only the sealed entry is delivered', () => {
    fc.assert(
      fc.property(fields, (f) => {
        const opened = openEntry(f as string[] | null, settings);
        const same = JSON.stringify(f) === JSON.stringify(SEALED);
        if ('event' in opened) {
          // A sealed entry of the fleet's own making, with a well-formed event.
          const raw = (f as string[])[(f as string[]).indexOf('e') + 1]!;
          expect((f as string[]).includes(entryMac(SECRET, settings.stream, raw))).toBe(true);
          expect(typeof opened.event.type).toBe('string');
          expect(typeof opened.event.id).toBe('string');
        } else expect(same).toBe(false);
        if (same) expect(opened).toHaveProperty('event');
        // Another stream's seal never fits.
        expect(openEntry(f as string[] | null, { ...settings, stream: 'other' })).toHaveProperty(
          'refused',
        );
      }),
      fuzzSettings('stream entries: openEntry', 3000),
    );
  });

  it('refuses an entry over maxEventBytes before anything else, sealed or not', () => {
    fc.assert(
      fc.property(fc.integer({ min: 4097, max: 70_000 }), (size) => {
        const raw = JSON.stringify({ type: 'a', id: 'b', timestamp: 1, payload: 'x'.repeat(size) });
        const opened = openEntry(
          ['e', raw, 'mac', entryMac(SECRET, settings.stream, raw)],
          settings,
        );
        expect(opened).toMatchObject({ refused: expect.stringContaining('over maxEventBytes') });
      }),
      fuzzSettings('stream entries: size', 50),
    );
  });
});
