/**
 * A stream's credit in a word of shared memory, for a harness whose plugin code blocks while it streams
 * (wasm: a call is synchronous, so the thread cannot read `more`/`cancel` frames until it returns). The
 * host adds one credit per chunk the client took and notifies; a cancel sets the second word and wakes
 * the thread, which then answers the plugin's write with an error (docs/decisions/0180).
 * @module
 */
import { STREAM_WINDOW } from './live-protocol.js';

/** Word 0: chunks the thread may still send; word 1: 1 once the host cancelled the stream. */
export type CreditCell = Int32Array;

const CREDIT = 0;
const CANCELLED = 1;

/** A cell holding the first window of credit. */
export function creditCell(): CreditCell {
  const cell = new Int32Array(new SharedArrayBuffer(8));
  cell[CREDIT] = STREAM_WINDOW;
  return cell;
}

/** The host took one chunk: one more may go. */
export function giveCredit(cell: CreditCell): void {
  Atomics.add(cell, CREDIT, 1);
  Atomics.notify(cell, CREDIT);
}

/** The host is done with the stream: the thread's next (or current) wait ends with "cancelled". */
export function cancelCredit(cell: CreditCell): void {
  Atomics.store(cell, CANCELLED, 1);
  // Changes the word a waiter sleeps on, so that a wait begun after the check above still returns.
  Atomics.add(cell, CREDIT, 1);
  Atomics.notify(cell, CREDIT);
}

/** Whether the host cancelled the stream. */
export function isCancelled(cell: CreditCell): boolean {
  return Atomics.load(cell, CANCELLED) === 1;
}

/**
 * Takes one credit, waiting for it until `deadline` (ms since the epoch): `'ok'`, `'cancelled'` once
 * the host cancelled, or `'timeout'`.
 */
export function takeCredit(cell: CreditCell, deadline: number): 'ok' | 'cancelled' | 'timeout' {
  for (;;) {
    if (isCancelled(cell)) return 'cancelled';
    const credit = Atomics.load(cell, CREDIT);
    if (credit > 0) {
      if (Atomics.compareExchange(cell, CREDIT, credit, credit - 1) === credit) return 'ok';
      continue;
    }
    const waitMs = deadline - Date.now();
    if (waitMs <= 0) return 'timeout';
    Atomics.wait(cell, CREDIT, credit, waitMs);
  }
}
