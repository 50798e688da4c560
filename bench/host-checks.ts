/**
 * `node --import tsx bench/host-checks.ts`: the cost of checking what crosses from a plugin's thread.
 * Host side (on the gateway's main thread, per request): `checkResult` of a typical response, and
 * `checkNote` of a log line. Thread side (in the plugin's worker, per response): `checkReply`, which
 * walks plain data and serialises anything else with `v8.serialize`.
 */
import { serialize } from 'node:v8';
import { Bench } from 'tinybench';
import { checkNote, checkResult } from '../src/loader/worker/note-check.js';
import { checkReply } from '../src/loader/worker/reply.js';

const response = {
  statusCode: 200,
  headers: { 'content-type': 'application/json', 'set-cookie': ['a=1', 'b=2'] },
  body: { name: 'ada', query: { q: 'x' }, userId: 42, items: [1, 2, 3] },
};
const log = { pgw: 'log', level: 'info', msg: 'served', fields: { ms: 3 }, requestId: 'r-1' };

const bench = new Bench({ time: 1000 });
bench
  .add('host: checkResult(req, response)', () => void checkResult('req', response))
  .add('host: checkNote(log)', () => void checkNote(log))
  .add('thread: checkReply(response) (plain-data walk)', () => void checkReply(response, 'k', 8e6))
  .add('thread: v8.serialize(response) (the slow path)', () => void serialize(response));
await bench.run();
for (const task of bench.tasks) {
  const r = task.result as { latency?: { p50?: number; mean?: number } } | undefined;
  const ns = (r?.latency?.p50 ?? r?.latency?.mean ?? NaN) * 1e6;
  console.log(`${task.name}: ${ns.toFixed(0)} ns (p50)`);
}
