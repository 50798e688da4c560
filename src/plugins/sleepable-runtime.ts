/**
 * A lazy plugin instance's runtime, which can go back to sleep: its threads (or process) end once the
 * work in flight on them is done, and the next task starts fresh ones from the same spec (each runs the
 * plugin's `initialize()` and `start()` again). The gateway's `maxAwake` puts plugins to sleep.
 * @module
 */
import type {
  BootReport,
  LiveChannel,
  PluginRuntime,
  RuntimeStats,
  TaskInput,
  TaskResult,
  ResultThen,
} from '../loader/runtime.js';
import type { HealthStatus } from '../shared/types.js';

/**
 * The order tasks were handed to lazy runtimes in, process-wide: what `maxAwake` needs to find the least
 * recently used plugin, without a clock read on every request (~150 ns each on this project's VM).
 */
let useSequence = 0;

export class SleepableRuntime implements PluginRuntime {
  #inner: PluginRuntime;
  readonly #make: () => PluginRuntime;
  /** Flag values set since the runtime was made: handed to every runtime made after. */
  #flags: Readonly<Record<string, boolean>> | undefined;
  /** Runtimes put to sleep and still ending. */
  readonly #ending = new Set<Promise<void>>();
  /** When a task was last handed to it, in the order of every lazy runtime's tasks (higher is later). */
  lastUsed = 0;
  /** The live channel of the current runtime (worker and process runtimes have one). */
  readonly live?: () => LiveChannel;

  constructor(make: () => PluginRuntime) {
    this.#make = make;
    this.#inner = make();
    if (this.#inner.live) this.live = () => this.#inner.live!();
  }

  /** Whether the runtime it wraps hashes the plugin's folder itself at boot (ADR 0230). */
  get checksContentAtBoot(): boolean {
    return this.#inner.checksContentAtBoot === true;
  }

  run(task: TaskInput, timeoutMs: number): Promise<TaskResult> {
    this.lastUsed = ++useSequence;
    return this.#inner.run(task, timeoutMs);
  }

  runThen<T>(task: TaskInput, timeoutMs: number, then: ResultThen<T>): Promise<T> {
    this.lastUsed = ++useSequence;
    const inner = this.#inner;
    return inner.runThen
      ? inner.runThen(task, timeoutMs, then)
      : inner.run(task, timeoutMs).then(then);
  }

  boot(timeoutMs: number): Promise<BootReport> {
    this.lastUsed = ++useSequence;
    return this.#inner.boot(timeoutMs);
  }

  drain(timeoutMs: number): Promise<void> {
    return this.#inner.drain(timeoutMs);
  }

  async close(timeoutMs: number): Promise<void> {
    await Promise.all([this.#inner.close(timeoutMs), ...this.#ending]);
  }

  stats(): RuntimeStats {
    return this.#inner.stats();
  }

  checkHealth(timeoutMs: number): Promise<HealthStatus | undefined> {
    return this.#inner.checkHealth(timeoutMs);
  }

  setFlags(flags: Readonly<Record<string, boolean>>): void {
    this.#flags = flags;
    this.#inner.setFlags(flags);
  }

  /**
   * Hands later tasks to a fresh runtime (no thread until one arrives) and ends the current one: its
   * tasks in flight finish first (within half of `budgetMs`), then its `stop()` runs and its threads end.
   */
  sleep(budgetMs: number): Promise<void> {
    const old = this.#inner;
    this.#inner = this.#make();
    if (this.#flags) this.#inner.setFlags(this.#flags);
    const ending = old
      .drain(budgetMs / 2)
      .then(() => old.close(budgetMs / 2))
      .finally(() => this.#ending.delete(ending));
    this.#ending.add(ending);
    return ending;
  }
}
