/**
 * A budget of lines per second, kept in the thread or process that writes them: a plugin's log lines
 * past it are dropped where they are made, before each would cost a message to the host, and counted.
 * The host keeps its own count too (the plugin's side is never trusted to have done this).
 * @module
 */

/** Lines let through per one-second window; the rest counted. */
export class LineBudget {
  #windowStart = 0;
  #lines = 0;
  #dropped = 0;

  constructor(readonly perSecond: number) {}

  /**
   * Whether one more line may go now. `dropped` is the count of lines dropped in the windows before
   * this one (0 when none): said once, with the first line let through after them.
   */
  take(now = Date.now()): { ok: boolean; dropped: number } {
    let dropped = 0;
    if (now - this.#windowStart >= 1000) {
      this.#windowStart = now;
      this.#lines = 0;
      dropped = this.#dropped;
      this.#dropped = 0;
    }
    // The first line of a window always goes (perSecond >= 1): `dropped` is said with it.
    if (++this.#lines <= this.perSecond) return { ok: true, dropped };
    this.#dropped++;
    return { ok: false, dropped: 0 };
  }
}

/** The line said in place of the lines a plugin's thread or process dropped. */
export function droppedLines(dropped: number, data: { logLinesPerSecond: number }): string {
  return `${dropped} log lines dropped by the plugin's thread: over ${data.logLinesPerSecond}/s (limits.logLinesPerSecond)`;
}
