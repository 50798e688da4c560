/**
 * The host's side of micro-batching the thread hop (docs/decisions/0300-micro-batched-thread-hop.md):
 * the tasks of one plugin instance dispatched in one tick go to Piscina as one task (`TaskBatch`),
 * flushed at the end of the tick (a microtask, never a timer; a tick's lone task, with others in
 * flight, at the end of the loop turn: ADR 0356), at most `threadConcurrency` a batch so
 * that Piscina still spreads them over the instance's threads. A task dispatched while nothing else is
 * in flight goes at once, alone, as before: sequential traffic pays nothing. One instance, one plugin:
 * a batch never mixes plugins. With `maxMessages` (a harness that serves one task at a time, ADR 0345),
 * no more than that many messages are in flight: the tasks dispatched meanwhile wait here and leave
 * together when one is answered, where they would otherwise leave one a tick, each a message.
 * @module
 */
import type { Piscina } from 'piscina';
import type { Pending, TaskLedger } from '../task-ledger.js';
import type { Task, TaskBatch, TaskResult } from './protocol.js';
import type { ThreadState } from './thread-notes.js';

type Held = Pending<ThreadState>;

/** What the batcher needs of its runtime. */
export interface BatchTarget {
  readonly ledger: TaskLedger<ThreadState>;
  /** The instance's pool, made for the first task. */
  pool(): Piscina;
  /** Hands one task to Piscina, answered as today; settles once its thread answered or was lost. */
  one(pending: Held): Promise<unknown>;
  /** The thread's answer to one task as the host accepts it (`WorkerRuntime.#checked`). */
  checked(kind: Task['t'], result: unknown): TaskResult;
  /** Piscina rejected a batch: its thread is gone (`WorkerRuntime.#onLost`). */
  lost(pending: Held, error: unknown): void;
  /** Whether Piscina's rejection says the message could not be copied (no thread lost). */
  unsendable(error: unknown): boolean;
  /** A thread sent a malformed `replies` note. */
  violation(reason: string): void;
  /** Sends a task alone in flight another way than Piscina (`port-tasks.ts`); false if it cannot. */
  alone?(pending: Held): boolean;
}

/** How many {@link dispatchTogether} runs are under way (nested runs count once each). */
let together = 0;

/**
 * Runs `dispatchAll`, whose tasks are known to come several in this tick (the calls of one read of a
 * peer channel): even the first of them waits for the tick's batch, instead of going alone as a task
 * dispatched with nothing else in flight does.
 */
export function dispatchTogether(dispatchAll: () => void): void {
  together++;
  try {
    dispatchAll();
  } finally {
    together--;
  }
}

const BAD_BATCH = (answer: unknown): TaskResult => ({
  __pgw: 'bad-response',
  message: `the thread answered a batch with ${Array.isArray(answer) ? 'a list' : typeof answer}`,
});

export class TaskBatcher {
  readonly #target: BatchTarget;
  readonly #max: number;
  /** The tasks of this tick not sent yet; undefined when no flush is due. */
  #queued: Held[] | undefined;
  #sequence = 0;
  readonly #maxMessages: number;
  /** Messages sent to Piscina and not answered yet. */
  #messages = 0;
  /** Tasks waiting for a message to be answered (`maxMessages` in flight), in order. */
  #waiting: Held[] = [];

  /**
   * @param maxBatch tasks a message at most
   * @param maxMessages messages in flight at most (all the instance's threads together)
   */
  constructor(target: BatchTarget, maxBatch: number, maxMessages = Infinity) {
    this.#target = target;
    this.#max = maxBatch;
    this.#maxMessages = maxMessages;
  }

  dispatch(pending: Held): void {
    if (this.#messages >= this.#maxMessages || this.#waiting.length > 0) {
      this.#waiting.push(pending);
      return;
    }
    const queued = this.#queued;
    if (queued === undefined) {
      // Alone in flight (sequential traffic): no tick to share, no microtask.
      if (together === 0 && this.#target.ledger.inFlight <= 1) {
        if (this.#target.alone?.(pending)) return;
        return this.#sendOne(pending);
      }
      this.#queued = [pending];
      queueMicrotask(this.#flush);
      return;
    }
    if (queued.push(pending) === this.#max) {
      this.#send(queued);
      this.#queued = [];
    }
  }

  readonly #flush = (): void => {
    const queued = this.#queued!;
    if (queued.length === 1 && !this.#waitedTurn && this.#target.ledger.inFlight > 1) {
      // One task in a tick while others are in flight: the answers that come one message each (those
      // of tasks that went alone) would send their callers' next tasks alone too, for good. Waiting
      // for the end of this loop turn lets those of the turn leave together.
      this.#waitedTurn = true;
      setImmediate(this.#flush);
      return;
    }
    this.#waitedTurn = false;
    this.#queued = undefined;
    if (queued.length > 0) this.#send(queued);
  };
  /** The tick's lone task waits for the end of the loop turn (once) for others to join it. */
  #waitedTurn = false;

  #sendOne(pending: Held): void {
    const answered = this.#target.one(pending);
    // Unbounded (the worker harness), nothing waits on a message: no promise more per request.
    if (this.#maxMessages === Infinity) return;
    this.#messages++;
    void answered.finally(this.#messageAnswered);
  }

  /** A message was answered (or its thread lost): the tasks waiting leave, a batch a free message. */
  readonly #messageAnswered = (): void => {
    this.#messages--;
    const waiting = this.#waiting;
    while (waiting.length > 0 && this.#messages < this.#maxMessages) {
      this.#send(waiting.splice(0, this.#max));
    }
  };

  #send(batch: Held[]): void {
    if (batch.length === 1) return this.#sendOne(batch[0]!);
    const tasks = new Array<Task>(batch.length);
    for (let i = 0; i < batch.length; i++) {
      const task = batch[i]!.task;
      task.q = ++this.#sequence;
      tasks[i] = task;
    }
    const message: TaskBatch = { t: 'batch', b: tasks };
    const answered = this.#target
      .pool()
      .run(message)
      .then(
        (answer: unknown) => this.#answered(batch, answer),
        (error: unknown) => this.#failed(batch, error),
      );
    if (this.#maxMessages === Infinity) return;
    this.#messages++;
    void answered.finally(this.#messageAnswered);
  }

  /**
   * The batch's own answer: `null`, none of its tasks still running (their answers came as `replies`
   * notes). Anything else is no answer a thread gives: each task it still holds fails as malformed.
   */
  #answered(batch: Held[], answer: unknown): void {
    if (answer === null) return;
    const { ledger } = this.#target;
    for (const pending of batch)
      if (ledger.slots.ownerOf(pending.slot) === pending) ledger.settle(pending, BAD_BATCH(answer));
  }

  /**
   * Piscina rejected the batch. Not copyable (one task's data): each task no plugin code saw goes again
   * alone, so that only that one fails. Its thread is gone: each task it still held is lost, as a
   * single task would be (`lost` answers one plugin code saw and that could not be copied back as
   * `unsendable`, never running it twice).
   */
  #failed(batch: Held[], error: unknown): void {
    // Answers a lost thread sent before it went count: they are settled before its tasks are failed.
    this.#settleInbox();
    const target = this.#target;
    const { slots } = target.ledger;
    const unsendable = target.unsendable(error);
    for (const pending of batch) {
      if (slots.ownerOf(pending.slot) !== pending) continue;
      if (unsendable && slots.threadOf(pending.slot) === 0) this.#sendOne(pending);
      else target.lost(pending, error);
    }
  }

  /**
   * Takes a thread's message if it is a `replies` note (else the note check gets it). Its answers are
   * settled with those of the other notes of this event-loop turn: a thread sends the answers of a
   * batch one by one (each before its next task starts), and settling them together lets the callers'
   * next requests leave together, as one batch, instead of one message each.
   */
  take(thread: ThreadState, message: unknown): boolean {
    if ((message as { pgw?: unknown } | null)?.pgw !== 'replies') return false;
    if (this.#inbox.push(thread, (message as { r?: unknown }).r) === 2)
      setImmediate(this.#settleInbox);
    return true;
  }

  /** Notes received and not yet settled: thread, answers, two entries a note. */
  #inbox: unknown[] = [];
  readonly #settleInbox = (): void => {
    const inbox = this.#inbox;
    if (inbox.length === 0) return;
    this.#inbox = [];
    for (let i = 0; i < inbox.length; i += 2)
      this.#onReplies(inbox[i] as ThreadState, inbox[i + 1]);
  };

  /**
   * A `replies` note from `thread`: slot, `q`, result, three entries an answer. An answer counts only
   * for the task dispatched with that `q` in that slot, which this thread marked as its own.
   */
  #onReplies(thread: ThreadState, replies: unknown): void {
    const target = this.#target;
    const { slots } = target.ledger;
    const size = slots.shared.length;
    if (!Array.isArray(replies) || replies.length % 3 !== 0 || replies.length > 3 * size)
      return target.violation('a replies note that is not a list of answers');
    const threadId = thread.id;
    for (let i = 0; i < replies.length; i += 3) {
      const slot: unknown = replies[i];
      if (!Number.isInteger(slot) || (slot as number) < 0 || (slot as number) >= size)
        return target.violation(`a reply for slot ${String(slot)}`);
      const pending = slots.ownerOf(slot as number);
      if (
        pending === undefined ||
        pending.task.q !== replies[i + 1] ||
        Math.abs(slots.threadOf(slot as number)) !== threadId
      )
        continue; // an answer for a task since given up (its thread lost), or not this thread's
      target.ledger.settle(pending, target.checked(pending.task.t, replies[i + 2]));
    }
  }
}
