/**
 * The soak of test/security/soak-heap.test.ts, in a process of its own run with `--expose-gc`: drives
 * ordinary requests through `gateway.handle()` to a real worker plugin whose 32 endpoints each have their
 * own timeout, with more callers than the bulkhead runs at once (so that waiting requests reach the
 * runtime with deadlines of every fractional value), and prints one JSON line: the old-space bytes in use
 * after forced GCs at the end of each phase, and the requests served by then.
 *
 *   node --expose-gc --import tsx test/security/soak-heap.child.ts [phaseMs] [phases]
 */
import { getHeapSpaceStatistics } from 'node:v8';
import path from 'node:path';
import { PluginGateway } from '../../src/index.js';

const phaseMs = Number(process.argv[2] ?? 3000);
const phases = Number(process.argv[3] ?? 8);
const CALLERS = 48;
const gc = (globalThis as { gc?: () => void }).gc!;

const gateway = new PluginGateway({
  logger: false,
  bulkhead: { maxConcurrent: 6, maxQueued: 4096 },
});
await gateway.load(path.resolve(import.meta.dirname, '../fixtures/soak'));
await gateway.start();

let served = 0;
let failed = 0;
// A deadline reached on a host busy with other work: the leak's path too, but not a failure of the soak.
let timedOut = 0;
let until = 0;
async function caller(id: number): Promise<void> {
  for (let i = id; performance.now() < until; i += CALLERS) {
    const res = await gateway.handle({ method: 'GET', path: `/soak/t${i % 32}`, headers: {} });
    if (res.statusCode === 200) served++;
    else if (res.statusCode === 504) timedOut++;
    else failed++;
  }
}
async function phase(): Promise<void> {
  until = performance.now() + phaseMs;
  await Promise.all(Array.from({ length: CALLERS }, (_, id) => caller(id)));
}
async function oldSpaceAfterGc(): Promise<number> {
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  return getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')!.space_used_size;
}

// Warm-up: JIT, pools and caches reach their size before anything is measured.
await phase();
await phase();
const samples: { requests: number; oldSpace: number }[] = [];
for (let p = 0; p < phases; p++) {
  await phase();
  samples.push({ requests: served + failed + timedOut, oldSpace: await oldSpaceAfterGc() });
}
await gateway.stop();
process.stdout.write(`${JSON.stringify({ served, failed, timedOut, samples })}\n`);
