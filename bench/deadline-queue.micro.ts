/**
 * Per-request cost of the deadline structure: start a deadline, then answer it, with `inFlight` requests
 * outstanding and answered roughly in order (as the worker runtime sees them). Compares the heap
 * (`src/shared/deadline-queue.ts`) with the queue-per-timeout it replaced, given as a file path in
 * OLD_DEADLINE_QUEUE (e.g. `git show 6c66e36:src/shared/deadline-queue.ts > /tmp/old-dq.ts`).
 *
 *   OLD_DEADLINE_QUEUE=/tmp/old-dq.ts npx tsx bench/deadline-queue.micro.ts
 */
import { DeadlineQueue } from '../src/shared/deadline-queue.js';

interface Item {
  answered: boolean;
  deadlineAt: number;
  deadlineIndex: number;
  deadlines?: { trim(): void };
}
const N = 2_000_000;
const ROUNDS = 7;

/**
 * A ring of `inFlight` outstanding requests: the new one takes the oldest one's place, which is answered
 * (one in eight times the one after it instead: answers come mostly, not strictly, in order).
 */
function answerOne(ring: Item[], item: Item, n: number, inFlight: number): Item | undefined {
  if (ring.length < inFlight) {
    ring.push(item);
    return undefined;
  }
  let k = n % inFlight;
  if (n % 8 === 0) k = (k + 1) % inFlight;
  const done = ring[k]!;
  ring[k] = item;
  return done;
}

function runHeap(inFlight: number, timeouts: (n: number) => number): number {
  const q = new DeadlineQueue<Item>(() => {});
  const ring: Item[] = [];
  const t0 = performance.now();
  for (let n = 0; n < N; n++) {
    const item: Item = { answered: false, deadlineAt: 0, deadlineIndex: -1 };
    q.add(item, timeouts(n));
    const done = answerOne(ring, item, n, inFlight);
    if (done) {
      done.answered = true;
      q.remove(done);
    }
  }
  const ns = ((performance.now() - t0) * 1e6) / N;
  q.close();
  return ns;
}

async function runOld(inFlight: number, timeouts: (n: number) => number): Promise<number> {
  const { DeadlineQueue: Old } = (await import(process.env.OLD_DEADLINE_QUEUE!)) as {
    DeadlineQueue: new (
      ms: number,
      f: (i: Item) => void,
    ) => { add(i: Item): void; trim(): void; close(): void };
  };
  const map = new Map<number, InstanceType<typeof Old>>();
  const ring: Item[] = [];
  const t0 = performance.now();
  for (let n = 0; n < N; n++) {
    const item: Item = { answered: false, deadlineAt: 0, deadlineIndex: -1 };
    const ms = timeouts(n);
    let q = map.get(ms);
    if (!q) map.set(ms, (q = new Old(ms, () => {})));
    item.deadlines = q;
    q.add(item);
    const done = answerOne(ring, item, n, inFlight);
    if (done) {
      done.answered = true;
      done.deadlines!.trim();
    }
  }
  const ns = ((performance.now() - t0) * 1e6) / N;
  for (const q of map.values()) q.close();
  return ns;
}

const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1]!;
const constant = () => 30_000;
const fourEndpoints = (n: number) => [30_000, 5000, 10_000, 2000][n % 4]!;

for (const [label, inFlight, timeouts] of [
  ['constant timeout, 64 in flight', 64, constant],
  ['constant timeout, 1024 in flight', 1024, constant],
  ['4 endpoint timeouts, 64 in flight', 64, fourEndpoints],
] as const) {
  const heap: number[] = [];
  const old: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    heap.push(runHeap(inFlight, timeouts));
    if (process.env.OLD_DEADLINE_QUEUE) old.push(await runOld(inFlight, timeouts));
  }
  console.log(
    `${label}: heap ${median(heap).toFixed(1)} ns/request` +
      (old.length ? `, queue per timeout ${median(old).toFixed(1)} ns/request` : ''),
  );
}
