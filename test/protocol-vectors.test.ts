/**
 * The plugin protocol's conformance vectors (test/protocol-vectors/frames.json) against the host's own
 * frame reader: every good frame decodes to its value, every bad one is refused for its reason. The Go
 * SDK (`go test` in sdk/go) and the Rust crate (`cargo test` in sdk/rust) run the same file.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeFrame, FrameReader } from '../src/loader/process/frames.js';
import { checkProcessNote } from '../src/loader/process/process-notes.js';

interface Good {
  name: string;
  hex: string;
  value?: unknown;
  values?: unknown[];
}
interface Bad {
  name: string;
  hex: string;
  error: 'empty' | 'too-large' | 'malformed' | 'unfinished';
  maxFrameBytes?: number;
}
const vectors = JSON.parse(
  readFileSync(path.join(import.meta.dirname, 'protocol-vectors/frames.json'), 'utf8'),
) as { frames: Good[]; also: Good[]; bad: Bad[] };

/** The vectors' JSON form: byte strings as `{ $bin: hex }`. */
const fromJson = (v: unknown): unknown =>
  Array.isArray(v)
    ? v.map(fromJson)
    : v && typeof v === 'object'
      ? '$bin' in v
        ? new Uint8Array(Buffer.from((v as { $bin: string }).$bin, 'hex'))
        : Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fromJson(x)]))
      : v;

const REASON = {
  empty: 'an empty frame',
  'too-large': 'over the limit of',
  malformed: 'a frame that does not decode',
  unfinished: 'a frame left unfinished',
};

function read(hex: string, maxFrameBytes = 1024 * 1024, stallMs = 0) {
  const values: unknown[] = [];
  const errors: string[] = [];
  const reader = new FrameReader(
    { maxFrameBytes, stallMs },
    (v) => values.push(v),
    (e) => errors.push(e),
  );
  reader.push(Buffer.from(hex, 'hex'));
  return { values, errors, reader };
}

describe('plugin protocol vectors, read by the host', () => {
  it.each([...vectors.frames, ...vectors.also].map((v) => [v.name, v] as const))(
    'decodes %s',
    (_, vector) => {
      const { values, errors } = read(vector.hex);
      expect(errors).toEqual([]);
      expect(values).toEqual((vector.values ?? [vector.value]).map(fromJson));
    },
  );

  it.each(vectors.frames.map((v) => [v.name, v] as const))(
    'encodes %s as the vector says (the host is the reference writer)',
    (_, vector) => {
      expect(encodeFrame(fromJson(vector.value)).toString('hex')).toBe(vector.hex);
    },
  );

  it('takes every plugin-to-host vector as a well-formed note', () => {
    const notes = vectors.frames.filter((v) => 'pgw' in (v.value as object));
    expect(notes.length).toBeGreaterThan(10);
    for (const v of notes) expect(checkProcessNote(fromJson(v.value), 8)).not.toBeTypeOf('string');
  });

  it.each(vectors.bad.map((v) => [v.name, v] as const))('refuses %s', async (_, vector) => {
    const { values, errors, reader } = read(vector.hex, vector.maxFrameBytes, 20);
    if (vector.error === 'unfinished') {
      expect(errors).toEqual([]);
      await expect.poll(() => errors).toHaveLength(1);
    }
    reader.close();
    expect(values).toEqual([]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(REASON[vector.error]);
  });
});
