// Issue 23 A: the channel from a `process` plugin is decoded by the gateway's own bounded reader. Any
// bytes — mutated real frames, random bytes, truncations — give values or one error, never a throw;
// and from a real process inside bubblewrap, whatever it writes, the host stays up and the plugin
// comes back.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PluginGateway } from '../../src/index.js';
import { encodeFrame, FrameReader } from '../../src/loader/process/frames.js';
import { findBwrap } from '../../src/loader/process/process-launch.js';
import { gatewayWith, get } from '../helpers.js';
import { fuzzSettings } from './fuzz-settings.js';

/** Notes as the harness sends them: the seeds the mutations start from. */
const REAL_NOTES = [
  { pgw: 'hello', v: 1 },
  { pgw: 'started', s: 0 },
  { pgw: 'result', s: 0, r: { statusCode: 200, headers: { 'x-a': 'b' }, body: { ok: true } } },
  { pgw: 'result', s: 0, r: { statusCode: 200, body: new Uint8Array([1, 2, 3, 4]) } },
  { pgw: 'log', level: 'info', msg: 'hello', fields: { n: 1 }, requestId: 'r-1' },
  { pgw: 'heap', used: 1_000_000, external: 2_000 },
  { pgw: 'publish', event: { type: 'x.y', data: { a: [1, 2] } } },
  { pgw: 'call', seq: 1, service: 'other', request: { method: 'GET', path: '/p' } },
  { pgw: 'fetch', seq: 2, request: { url: 'http://127.0.0.1:9/', method: 'GET' } },
  { pgw: 'health', seq: 1, status: { status: 'healthy' } },
];
const realFrames = REAL_NOTES.map((note) => encodeFrame(note));

/** A real frame with bytes overwritten, inserted or removed, or cut short. */
const mutatedFrame = fc
  .tuple(
    fc.constantFrom(...realFrames),
    fc.array(
      fc.tuple(
        fc.constantFrom('set', 'insert', 'delete'),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
      ),
      { minLength: 1, maxLength: 6 },
    ),
    fc.option(fc.nat(), { nil: undefined }),
  )
  .map(([frame, edits, cut]) => {
    const bytes = [...frame];
    for (const [op, at, value] of edits) {
      const i = at % (bytes.length + 1);
      if (op === 'set' && i < bytes.length) bytes[i] = value;
      else if (op === 'insert') bytes.splice(i, 0, value);
      else if (op === 'delete') bytes.splice(i, 1);
    }
    return Buffer.from(cut === undefined ? bytes : bytes.slice(0, cut % (bytes.length + 1)));
  });
const randomBytes = fc.uint8Array({ minLength: 1, maxLength: 512 }).map((b) => Buffer.from(b));
const anyStream = fc
  .array(fc.oneof(mutatedFrame, randomBytes, fc.constantFrom(...realFrames)), {
    minLength: 1,
    maxLength: 4,
  })
  .map((parts) => Buffer.concat(parts));

/** Splits bytes into chunks at the given cut points. */
function chunked(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const p of [...points, bytes.length]) {
    if (p > from) chunks.push(bytes.subarray(from, p));
    from = Math.max(from, p);
  }
  return chunks;
}

describe('the frame reader, in process', () => {
  it('any bytes in any chunks: values or one error, never a throw', () => {
    fc.assert(
      fc.property(anyStream, fc.array(fc.nat(), { maxLength: 8 }), (bytes, cuts) => {
        let errors = 0;
        const reader = new FrameReader(
          { maxFrameBytes: 64 * 1024, stallMs: 0 },
          () => {},
          () => errors++,
        );
        for (const chunk of chunked(bytes, cuts)) reader.push(chunk);
        reader.close();
        expect(errors).toBeLessThanOrEqual(1);
      }),
      fuzzSettings('frame reader: any bytes', 2000),
    );
  });

  it('real frames in any chunks: the same values, every byte string an exact-size copy', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...REAL_NOTES.keys()), { minLength: 1, maxLength: 10 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (picks, cuts) => {
          const got: unknown[] = [];
          const reader = new FrameReader(
            { maxFrameBytes: 64 * 1024, stallMs: 0 },
            (v) => got.push(v),
            (reason) => expect.fail(reason),
          );
          const stream = Buffer.concat(picks.map((i) => realFrames[i]!));
          for (const chunk of chunked(stream, cuts)) reader.push(chunk);
          expect(got).toEqual(picks.map((i) => REAL_NOTES[i]));
          for (const v of got) {
            const body = (v as { r?: { body?: unknown } }).r?.body;
            if (body instanceof Uint8Array) expect(body.buffer.byteLength).toBe(body.byteLength);
          }
        },
      ),
      fuzzSettings('frame reader: real frames', 1000),
    );
  });
});

const bwrap = findBwrap();
if (!bwrap) {
  if (process.env.PGW_REQUIRE_SERVICES) throw new Error('bwrap is required (PGW_REQUIRE_SERVICES)');
  console.log('[skip] plugin channel fuzz from a real process: bwrap is not installed');
}

describe.skipIf(!bwrap)('the channel from a real process in bubblewrap', () => {
  let gateway: PluginGateway;
  beforeAll(async () => {
    gateway = await gatewayWith(['proc-channel-attacker'], {
      restart: { maxCrashes: 1000, backoff: 1, maxBackoff: 10 },
    });
    expect(gateway.get('channel-attacker')?.sandbox).toBe('bwrap');
  });
  afterAll(async () => gateway?.stop());

  it('whatever bytes it writes, the host stays up and the plugin comes back', async () => {
    await fc.assert(
      fc.asyncProperty(anyStream, async (bytes) => {
        const res = await gateway.handle({
          method: 'POST',
          path: '/fuzz',
          headers: { 'content-type': 'application/json' },
          body: { bytes: bytes.toString('base64') },
        });
        expect([200, 500, 502, 503, 504]).toContain(res.statusCode);
        let ok = 0;
        for (let i = 0; i < 100 && ok !== 200; i++) {
          ok = (await get(gateway, '/attack/ok')).statusCode;
          if (ok !== 200) await new Promise((r) => setTimeout(r, 50));
        }
        expect(ok).toBe(200);
      }),
      fuzzSettings('plugin channel from bwrap', 25),
    );
  }, 120_000);
});
