import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Pending } from './task-ledger.js';
import { TaskLedger, TIMEOUT, type TaskTransport } from './task-ledger.js';
import type { TaskResult } from './runtime.js';

const OK = { statusCode: 200 };
const request = () => ({
  t: 'req' as const,
  k: 'GET /x',
  r: { id: 'r', method: 'GET', path: '/x', headers: {}, params: {}, query: {} },
});

/** A transport that keeps what it is handed; the test answers through the ledger. */
function transport(dispatch?: (p: Pending<string>) => void) {
  const sent: Pending<string>[] = [];
  const t: TaskTransport<string> = {
    dispatch: dispatch ?? ((p) => void sent.push(p)),
    holderOf: () => undefined,
    seen: () => false,
    abandon: () => {},
    end: () => {},
    terminated: () => ({ __pgw: 'terminated', message: 'closing' }),
  };
  return { t, sent };
}

describe('TaskLedger.runThen: the caller settled in the step that settles the task', () => {
  beforeEach(() => vi.useFakeTimers({ now: 0 }));
  afterEach(() => vi.useRealTimers());

  it('hands the reply to `then` inside settle(), before any microtask', async () => {
    const { t, sent } = transport();
    const ledger = new TaskLedger(4, 100, t);
    const seen: TaskResult[] = [];
    const answer = ledger.runThen(request(), 1000, (r) => (seen.push(r), 'made'));
    ledger.settle(sent[0]!, OK);
    expect(seen).toEqual([OK]);
    expect(ledger.inFlight).toBe(0);
    await expect(answer).resolves.toBe('made');
  });

  it('hands a deadline, a full table and a closing ledger to `then` as what they are', async () => {
    const { t } = transport();
    const ledger = new TaskLedger(1, 100, t);
    const late = ledger.runThen(request(), 50, (r) => r);
    const full = ledger.runThen(request(), 50, (r) => r);
    await expect(full).resolves.toMatchObject({ __pgw: 'overloaded' });
    vi.advanceTimersByTime(60);
    await expect(late).resolves.toBe(TIMEOUT);
    ledger.close();
    await expect(ledger.runThen(request(), 50, (r) => r)).resolves.toMatchObject({
      __pgw: 'terminated',
    });
  });

  it('rejects when `then` throws, and frees the slot all the same', async () => {
    const { t, sent } = transport();
    const ledger = new TaskLedger(1, 100, t);
    const answer = ledger.runThen(request(), 1000, () => {
      throw new Error('observer');
    });
    ledger.settle(sent[0]!, OK);
    await expect(answer).rejects.toThrow('observer');
    expect(ledger.inFlight).toBe(0);
  });

  it('answers a transport that throws at dispatch as unsendable to `then`, a rejection to run()', async () => {
    const { t } = transport(() => {
      throw new Error('no pool');
    });
    const ledger = new TaskLedger(2, 100, t);
    await expect(ledger.runThen(request(), 1000, (r) => r)).resolves.toMatchObject({
      __pgw: 'unsendable',
      message: 'Error: no pool',
    });
    await expect(ledger.run(request(), 1000)).rejects.toThrow('no pool');
    // Neither left a slot taken, nor a deadline that answers them again.
    expect(ledger.inFlight).toBe(0);
    vi.advanceTimersByTime(2000);
    expect(ledger.inFlight).toBe(0);
  });

  it('starts a deadline only for a task still unanswered once the transport has it', async () => {
    // A transport that answers during dispatch (a plugin whose code changed on disk): no deadline.
    const ledger: TaskLedger<string> = new TaskLedger(
      2,
      100,
      transport((p) => ledger.settle(p, OK)).t,
    );
    await expect(ledger.runThen(request(), 1000, (r) => r)).resolves.toBe(OK);
    expect(vi.getTimerCount()).toBe(0);
    // One the transport keeps: its deadline, started after dispatch, still answers it.
    const kept = transport();
    const waiting = new TaskLedger(2, 100, kept.t);
    const late = waiting.runThen(request(), 50, (r) => r);
    expect(kept.sent).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(60);
    await expect(late).resolves.toBe(TIMEOUT);
  });
});
