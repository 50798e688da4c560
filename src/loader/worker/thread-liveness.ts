/**
 * Whether a plugin's threads are alive, asked when a request timed out the grace ago and no thread is
 * known to hold it (`TaskTransport.unheld`). The slot table names the thread running a task, but a
 * thread can be stuck outside any task — plugin code blocking in a timer or an event handler — or its
 * harness can be made to mark slots it was not given: then nothing names the stuck thread, and every
 * request sent to it would time out for good. Each live thread is asked for a `pong`, which its harness
 * answers from its own listener between two turns of plugin code; a thread that has not answered
 * within the grace is ended (not a crash), and the requests it held go to the ledger as any lost
 * thread's do.
 * @module
 */
import type { ThreadState } from './thread-notes.js';

export class ThreadLiveness {
  #seq = 0;
  #probing = false;

  /**
   * @param threads the plugin's threads
   * @param ask sends a thread a `ping` with this probe's sequence number
   * @param end ends a thread that did not answer (not a crash)
   */
  constructor(
    private readonly threads: ReadonlyMap<number, ThreadState>,
    private readonly ask: (thread: ThreadState, seq: number) => void,
    private readonly end: (thread: ThreadState) => void,
  ) {}

  /**
   * Asks every live thread and, `graceMs` later, ends each one asked that is still live and has not
   * answered. One probe at a time: the timeouts of one stuck thread share it.
   */
  probe(graceMs: number): void {
    if (this.#probing) return;
    const asked = this.#live();
    if (asked.length === 0) return;
    this.#probing = true;
    const seq = ++this.#seq;
    for (const thread of asked) this.ask(thread, seq);
    setTimeout(() => {
      this.#probing = false;
      const still = new Set(this.#live());
      for (const thread of asked) if (still.has(thread) && thread.pong !== seq) this.end(thread);
    }, graceMs).unref();
  }

  #live(): ThreadState[] {
    return [...this.threads.values()].filter((t) => !t.killed && t.exitCode === undefined);
  }
}
