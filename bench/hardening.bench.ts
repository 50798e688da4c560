/**
 * `npx tsx bench/hardening.bench.ts`: the main-thread cost of the per-request work issue 14 added on
 * the HTTP path and the peer path (items 2, 4, 8, 10, 12), each beside what it replaced.
 */
import { Bench } from 'tinybench';
import { wireHeaders } from '../src/adapters/wire-headers.js';
import { PEER_CLOCK_SKEW_MS, peerHeaders, refusePeer } from '../src/fleet/peer-protocol.js';
import { ReplayGuard } from '../src/fleet/replay-guard.js';
import { ownBody, ownBytes } from '../src/shared/own-bytes.js';

const headers = {
  'content-type': 'application/json',
  'x-request-id': 'gw-1-7f',
  'cache-control': 'no-store',
};
const json = {
  user: { id: 42, name: 'Ada', roles: ['admin', 'dev'] },
  items: [1, 2, 3, 4, 5].map((i) => ({ id: i, title: `item ${i}`, tags: ['a', 'b'] })),
  note: 'hello',
};
const pooled = (n: number) => Buffer.from('x'.repeat(n));
const small = pooled(64);
const kib = pooled(1024);
const four = pooled(4000);
const map = new Map<string, { userId: unknown; count: number }>();
let seq = 0;
const secret = 'fleet-secret-0123456789';
const peerBody = JSON.stringify({
  service: 's',
  version: '1.0.0',
  key: 'GET /x',
  timeoutMs: 1000,
  request: { id: 'r', method: 'GET', path: '/x', headers: {} },
});
const guard = new ReplayGuard();
let now = Date.now();

const bench = new Bench({ time: 400, warmupTime: 100 });
bench
  .add('headers: old (spread + find content-type)', () => {
    const h: Record<string, string | string[]> = { ...headers };
    return Object.keys(h).find((k) => k.toLowerCase() === 'content-type');
  })
  .add('headers: wireHeaders() + content-length', () => {
    const h = wireHeaders(headers);
    h['content-length'] = String(Buffer.byteLength('{"ok":true}'));
    return h;
  })
  .add('body: ownBytes(64 B pooled view) — copy', () => ownBytes(small))
  .add('body: ownBytes(1 KiB pooled view) — copy', () => ownBytes(kib))
  .add('body: ownBytes(4000 B pooled view) — copy', () => ownBytes(four))
  .add('body: Buffer.concat of one 1 KiB chunk (what the listener did)', () => Buffer.concat([kib]))
  .add('body: ownBody(parsed JSON, 30 nodes) — walk, no copy', () => ownBody(json))
  .add('ctx.call identity: Map enter + leave', () => {
    const key = `plugin\ngw-1-${(++seq).toString(36)}`;
    map.set(key, { userId: 42, count: 1 });
    map.delete(key);
  })
  .add('peer: peerHeaders() sign (nonce + HMAC)', () =>
    peerHeaders('gw-a', 'gw-b', peerBody, secret),
  )
  .add('peer: refusePeer() verify + replay guard', () => {
    const h = peerHeaders('gw-a', 'gw-b', peerBody, secret);
    return refusePeer(h, peerBody, secret, '10.0.0.1', guard, 'gw-b');
  })
  .add('peer: ReplayGuard.admit (steady state)', () => {
    now += 0.01;
    guard.admit(`sig-${++seq}`, now + PEER_CLOCK_SKEW_MS, now);
  });
await bench.run();
console.table(
  bench.tasks.map((t) => ({
    task: t.name,
    'ns/op (median)': Math.round(
      ((t.result as { latency?: { p50?: number } } | undefined)?.latency?.p50 ?? 0) * 1e6,
    ),
  })),
);
console.log(`replay guard size at the end: ${guard.size}`);
