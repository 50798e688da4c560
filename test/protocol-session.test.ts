/**
 * The plugin protocol's scripted session (test/protocol-vectors/session.json) against the host's own
 * code: every note the plugin must send is one the host takes as it is, the version the host picks is
 * the session's, the store's answers are the host's `ProcessKv`'s, the stream's frames and credit are
 * `ProcessStreams`'s (a ninth chunk before a `more` would be cut), and every host step encodes. The Go
 * SDK (`go test` in sdk/go) and the Rust crate (`cargo test` in sdk/rust) play the same session as the
 * plugin.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseManifest } from '../src/manifest/manifest.js';
import { encodeFrame, FrameReader } from '../src/loader/process/frames.js';
import { checkProcessNote, negotiatedVersion } from '../src/loader/process/process-notes.js';
import { ProcessKv, type KvNote } from '../src/loader/process/process-kv.js';
import { ProcessStreams } from '../src/loader/process/process-streams.js';
import { ProcessSockets, type SocketNote } from '../src/loader/process/process-sockets.js';
import { helloRefusal } from '../src/loader/process/harness-data.js';
import type { RuntimeSpec } from '../src/loader/runtime.js';
import type { LiveFrame, LiveNote } from '../src/loader/worker/live-protocol.js';
import type { StreamContext } from '../src/loader/runtime.js';
import type { PluginRequest } from '../src/shared/types.js';

interface Step {
  from: 'host' | 'plugin';
  value: Record<string, unknown>;
  quiet?: boolean;
}
const session = JSON.parse(
  readFileSync(path.join(import.meta.dirname, 'protocol-vectors/session.json'), 'utf8'),
) as { steps: Step[] };

/** The session's values as the host has them: `$bin` as bytes, each `$seq:NAME` as one integer. */
function resolve(v: unknown, seqs: Map<string, number>): unknown {
  if (typeof v === 'string' && v.startsWith('$seq:')) {
    if (!seqs.has(v)) seqs.set(v, 40 + seqs.size);
    return seqs.get(v);
  }
  if (Array.isArray(v)) return v.map((x) => resolve(x, seqs));
  if (v && typeof v === 'object') {
    if ('$bin' in v) return new Uint8Array(Buffer.from((v as { $bin: string }).$bin, 'hex'));
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolve(x, seqs)]));
  }
  return v;
}
const seqs = new Map<string, number>();
const steps = session.steps.map((s) => ({ ...s, value: resolve(s.value, seqs) as Step['value'] }));
const plugin = steps.filter((s) => s.from === 'plugin').map((s) => s.value);
const host = steps.filter((s) => s.from === 'host').map((s) => s.value);
/** A live step's frame or note. */
const liveOf = (s: Step) => (s.value.f ?? s.value.n) as { k: string; c: number };

describe('the scripted session, against the host', () => {
  it('holds every kind of step: handshake, tasks, log, call, kv, stream with credit, failure, health, stop', () => {
    const kinds = new Set(steps.map((s) => String(s.value.pgw ?? s.value.ctl)));
    for (const kind of ['hello', 'start', 'task', 'log', 'call', 'reply', 'kv', 'live', 'health'])
      expect(kinds).toContain(kind);
    expect(plugin.some((v) => (v.r as { __pgw?: string } | undefined)?.__pgw === 'threw')).toBe(
      true,
    );
  });

  it('takes every plugin note as it is, and picks the session’s version', () => {
    for (const note of plugin) expect(checkProcessNote(note, 8)).toBe(note);
    const hello = plugin[0] as { v: number; min?: number };
    expect(negotiatedVersion(hello)).toBe(host[0]!.v);
  });

  it('encodes every host step as a frame that reads back the same', () => {
    for (const value of host) {
      const values: unknown[] = [];
      const reader = new FrameReader(
        { maxFrameBytes: 1 << 20, stallMs: 0 },
        (v) => values.push(v),
        () => {},
      );
      reader.push(encodeFrame(value));
      reader.close();
      expect(values).toEqual([value]);
    }
  });

  it('answers the kv notes as the host store does', () => {
    const manifest = parseManifest(
      'name: session\nversion: 1.0.0\nruntime: { type: process }\nresources: { disk: 1 }\nendpoints: [{ path: /s, method: GET }]\n',
    );
    const kv = new ProcessKv(manifest, { limits: { kvKeys: 10, kvBytes: 1 << 20 } }, () => {
      throw new Error('no violation expected');
    });
    let answered = 0;
    steps.forEach((step, i) => {
      if (step.value.pgw !== 'kv') return;
      const answer = steps.slice(i + 1).find((s) => s.from === 'host')!.value;
      expect(kv.answer(step.value as KvNote)).toEqual(answer);
      answered++;
    });
    expect(answered).toBeGreaterThan(1);
  });

  it('streams within the host’s credit: the host’s frames are the session’s, nothing is cut', () => {
    const sent: LiveFrame[] = [];
    const got: string[] = [];
    const violations: string[] = [];
    const streams = new ProcessStreams<'child'>({
      child: () => 'child',
      ready: () => true,
      send: (_, f) => sent.push(f),
      deliver: () => false,
      closing: () => false,
      violation: (why) => violations.push(why),
      idle: () => {},
    });
    const live = steps.filter(
      (s) => (s.value.pgw === 'live' || s.value.ctl === 'live') && liveOf(s).c === 1,
    );
    const open = live[0]!.value.f as StreamContext & { key: string; r: PluginRequest };
    const link = streams.stream(
      {
        head: (s) => got.push(`head ${s}`),
        chunk: (d) => got.push(Buffer.from(d as Uint8Array).toString()),
        end: (e) => got.push(`end ${e ?? ''}`),
      },
      open.key,
      open.r,
      undefined,
      undefined,
      { tp: open.tp!, f: open.f! },
    );
    for (const step of live.slice(1)) {
      if (step.from === 'host') link.more();
      else streams.onNote('child', step.value.n as LiveNote);
    }
    expect(violations).toEqual([]);
    expect(sent).toEqual(live.filter((s) => s.from === 'host').map((s) => s.value.f));
    expect(got).toEqual(['head 200', ...'0123456789'.split(''), 'end ']);
    expect(live.filter((s) => s.from === 'host').every((s, i) => i === 0 || s.quiet)).toBe(true);
  });

  it('would cut the stream of a plugin sending a ninth chunk before the host’s more', () => {
    const violations: string[] = [];
    const streams = new ProcessStreams<'child'>({
      child: () => 'child',
      ready: () => true,
      send: () => {},
      deliver: () => false,
      closing: () => false,
      violation: (why) => violations.push(why),
      idle: () => {},
    });
    let ended: string | undefined;
    streams.stream({ head: () => {}, chunk: () => {}, end: (e) => (ended = e) }, 'GET /feed', {
      id: 'r',
      method: 'GET',
      path: '/feed',
      headers: {},
      params: {},
      query: {},
    });
    for (const note of plugin.filter((v) => v.pgw === 'live').map((v) => v.n as LiveNote))
      if (note.c === 1) streams.onNote('child', note);
    expect(violations).toEqual(['a stream sent chunks beyond its credit']);
    expect(ended).toBe('the plugin sent beyond its credit');
  });

  it('serves the WebSocket connection as the host’s sockets do: every note acted on, none refused', () => {
    const posted: LiveFrame[] = [];
    const violations: string[] = [];
    const client: string[] = [];
    const sockets = new ProcessSockets<'child'>({
      post: (_, f) => posted.push(f),
      deliver: (_, f) => (posted.push(f), false),
      violation: (why) => violations.push(why),
      idle: () => client.push('idle'),
    });
    const socketSteps = steps.filter(
      (s) => (s.value.pgw === 'live' || s.value.ctl === 'live') && liveOf(s).c === 2,
    );
    const text = (d: unknown) =>
      typeof d === 'string' ? d : `bin:${Buffer.from(d as Uint8Array).toString('hex')}`;
    const [open, ...rest] = socketSteps;
    const frame = open!.value.f as { key: string; r: PluginRequest };
    const link = sockets.open(
      'child',
      2,
      {
        send: (d) => client.push(`send ${text(d)}`),
        close: (code) => client.push(`close ${code}`),
        subscribe: (t) => client.push(`sub ${t}`),
        unsubscribe: (t) => client.push(`unsub ${t}`),
        publish: (t, d) => client.push(`pub ${t} ${text(d)}`),
        handled: () => client.push('handled'),
        hold: () => {},
      },
      frame.key,
      frame.r,
    );
    for (const step of rest) {
      const f = step.value.f as LiveFrame | undefined;
      if (step.from === 'plugin') sockets.onNote('child', step.value.n as SocketNote);
      else if (f?.k === 'msg') link.message(f.d);
      else if (f?.k === 'closed') link.closed(f.code, f.reason);
    }
    expect(violations).toEqual([]);
    expect(posted).toEqual(socketSteps.filter((s) => s.from === 'host').map((s) => s.value.f));
    expect(client).toEqual([
      'sub blue',
      'send joined blue',
      'handled',
      'pub blue hi',
      'send echo:hi',
      'handled',
      'send bin:010203',
      'handled',
      'idle',
    ]);
    expect(sockets.connections).toBe(0);
  });

  it('lets a native program serve WebSockets only when its hello names the ws capability', () => {
    const spec = {
      manifest: parseManifest(
        'name: session\nversion: 1.0.0\nruntime: { type: process, command: [./bin/session] }\nendpoints: [{ path: "/room/{room}", method: GET, websocket: true }]\n',
      ),
      command: ['/p/bin/session'],
    } as unknown as RuntimeSpec;
    const hello = plugin[0] as { caps?: string[] };
    expect(helloRefusal(spec, hello)).toBeUndefined();
    expect(helloRefusal(spec, { caps: [] })).toMatch(/GET \/room\/\{room\}.*"ws" capability/);
    expect(helloRefusal(spec, {})).toMatch(/built with an SDK that does not serve WebSockets/);
    // The Node harness ships with the host: it is never asked.
    expect(helloRefusal({ ...spec, command: undefined } as RuntimeSpec, {})).toBeUndefined();
  });
});
