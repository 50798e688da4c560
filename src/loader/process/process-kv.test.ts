import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../manifest/manifest.js';
import { checkProcessNote } from './process-notes.js';
import { ProcessKv, type KvNote } from './process-kv.js';

// The store of a process plugin: its notes checked, its answers, its grant and its bounds.
const manifest = (disk?: number) =>
  parseManifest(
    [
      'name: kv',
      'version: 1.0.0',
      'runtime: { type: process }',
      ...(disk === undefined ? [] : [`resources: { disk: ${disk} }`]),
      'endpoints: [{ path: /kv, method: GET }]',
    ].join('\n'),
  );
const limits = { kvKeys: 3, kvBytes: 1024 * 1024 };
const note = (op: KvNote['op'], key: string, value?: string) =>
  ({ pgw: 'kv', seq: 9, op, key, ...(value === undefined ? {} : { value }) }) as KvNote;

describe('kv notes', () => {
  it('takes well-formed notes and refuses the others with a reason', () => {
    for (const ok of [note('get', 'a'), note('set', 'a', ''), note('delete', 'a')])
      expect(checkProcessNote(ok, 1)).toBe(ok);
    for (const [bad, reason] of [
      [{ pgw: 'kv', op: 'get', key: 'a' }, 'without a sequence number'],
      [{ pgw: 'kv', seq: 1.5, op: 'get', key: 'a' }, 'without a sequence number'],
      [{ pgw: 'kv', seq: 1, op: 'list', key: 'a' }, 'unknown operation'],
      [{ pgw: 'kv', seq: 1, op: 'get', key: 5 }, 'without a key'],
      [{ pgw: 'kv', seq: 1, op: 'set', key: 'a' }, 'not text'],
      [{ pgw: 'kv', seq: 1, op: 'set', key: 'a', value: new Uint8Array(1) }, 'not text'],
    ] as const)
      expect(checkProcessNote(bad, 1)).toContain(reason);
  });

  it('answers get, set and delete from the host-side store, by sequence number', () => {
    const kv = new ProcessKv(manifest(1), { limits }, () => {});
    expect(kv.answer(note('get', 'a'))).toEqual({ ctl: 'kv', seq: 9 });
    expect(kv.answer(note('set', 'a', 'één'))).toEqual({ ctl: 'kv', seq: 9 });
    expect(kv.answer(note('get', 'a'))).toEqual({ ctl: 'kv', seq: 9, value: 'één' });
    expect(kv.usage).toEqual({ keys: 1, bytes: 1 + 5 });
    expect(kv.answer(note('delete', 'a'))).toEqual({ ctl: 'kv', seq: 9 });
    expect(kv.usage).toEqual({ keys: 0, bytes: 0 });
  });

  it('refuses a key over 1 KiB for every operation, and a store past its bounds', () => {
    const kv = new ProcessKv(manifest(1), { limits }, () => {});
    const long = 'é'.repeat(513);
    for (const op of ['get', 'set', 'delete'] as const)
      expect(kv.answer(note(op, long, 'x'))).toMatchObject({ error: `kv ${op}: key over 1 KiB` });
    for (const key of ['a', 'b', 'c']) kv.answer(note('set', key, 'x'));
    expect(kv.answer(note('set', 'd', 'x'))).toMatchObject({
      error: expect.stringMatching(/^PGW_ERR_PLUGIN_LIMIT: kv set: .*limits\.kvKeys/),
    });
    expect(kv.answer(note('set', 'a', 'x'.repeat(1024 * 1024)))).toMatchObject({
      error: expect.stringMatching(/resources\.disk/),
    });
    expect(kv.answer(note('get', 'a'))).toMatchObject({ value: 'x' });
  });

  it('refuses every note of a plugin whose manifest declares no resources.disk, counting each', () => {
    const violations: string[] = [];
    const kv = new ProcessKv(manifest(), { limits }, (why) => violations.push(why));
    expect(kv.answer(note('set', 'a', 'x'))).toMatchObject({
      error: expect.stringMatching(/declare resources\.disk/),
    });
    expect(violations).toEqual(['kv set, which the manifest does not grant (resources.disk)']);
    expect(kv.usage).toEqual({ keys: 0, bytes: 0 });
  });
});
