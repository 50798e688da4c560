/**
 * `WorkerRuntime`: one Piscina pool per plugin instance, with the resource limits of its manifest.
 * Threads scale to zero when idle. A request past its deadline is answered at once; the thread still
 * holding it after a short grace is terminated (a blocked event loop cannot be interrupted otherwise).
 * Every result and note from a thread is checked on the host (`note-check.ts`); control goes to one
 * thread at a time on its own parent port.
 * @module
 */
import { DrainSignal } from '../drain-signal.js';
import type { HealthStatus } from '../../shared/types.js';
import type { Piscina } from 'piscina';
import { pluginPool } from './plugin-pool.js';
import type { ControlMessage, Task } from './protocol.js';
import { isTaskFailure, type TaskFailure } from '../../shared/task-failure.js';
import {
  type PluginRuntime,
  type RuntimeHooks,
  type RuntimeSpec,
  type RuntimeStats,
  type TaskInput,
  type BootReport,
  type TaskResult,
  type HarnessOverride,
  bootReportOf,
} from '../runtime.js';
import { DeadlineQueue } from '../../shared/deadline-queue.js';
import { SlotTable } from './slots.js';
import { grantedFetch } from '../host-fetch.js';
import { oversizedReply } from '../reply-size.js';
import { threadPermissions, type ThreadPermissions } from './thread-launch.js';
import { checkResult } from './note-check.js';
import { combineHealth, isCloneError, onNote, threadFigures } from './thread-notes.js';
import type { NoteTarget, ThreadState } from './thread-notes.js';
import { captureOutput } from './thread-output.js';
import { LiveThread } from './live-thread.js';

const OVERLOADED: TaskFailure = { __pgw: 'overloaded', message: 'too many requests in flight' };
const TIMEOUT: TaskFailure = { __pgw: 'timeout', message: 'deadline passed' };
/** Of `close()`'s budget, what is kept for ending the threads after the plugin's `stop()`. */
const END_THREADS_MS = 1000;

/** One request between dispatch and answer. */
class Pending {
  answered = false;
  slot = -1;
  task: Task | undefined;
  deadlineAt = 0;
  deadlineIndex = -1;
  constructor(readonly resolve: (result: TaskResult) => void) {}
}

export class WorkerRuntime implements PluginRuntime {
  /** Made on the first task (with the slot table), so that a plugin that never ran holds neither. */
  #pool: Piscina | undefined;
  #slots: SlotTable<Pending> | undefined;
  readonly #spec: RuntimeSpec;
  /** Flag names in the order of `#flagCells` (after its version cell). */
  readonly #flagNames: readonly string[];
  readonly #flagCells: Int32Array;
  readonly #threads = new Map<number, ThreadState>();
  /** Every request's deadline, whatever its timeout: one heap and one timer. */
  readonly #deadlines: DeadlineQueue<Pending>;
  readonly #hooks: RuntimeHooks;
  readonly #notes: NoteTarget;
  #violations = 0;
  readonly #graceMs: number;
  readonly #label: string;
  readonly #name: string;
  /** The entry file, for locating a load error. */
  readonly #mainPath: string;
  readonly #drain = new DrainSignal();
  #closing = false;
  /**
   * How the last thread was lost. Piscina rejects a lost thread's tasks from inside the worker's
   * 'error'/'exit' event, and our listeners for those events run before the rejections reach us.
   */
  #lastLoss: TaskFailure | undefined;
  /** Errors threads died of (Piscina rejects their tasks with them): never a failure to send. */
  readonly #threadErrors = new WeakSet<object>();
  #healthSeq = 0;
  /** Made with the pool: a plugin that never ran has no scratch folder. */
  #permissions: ThreadPermissions | undefined;
  #healthAnswer: ((seq: number, threadId: number, status: HealthStatus) => void) | undefined;
  readonly #harness: HarnessOverride | undefined;
  /** The thread holding the instance's WebSocket connections, made for the first one. */
  #live: LiveThread | undefined;

  constructor(spec: RuntimeSpec, hooks: RuntimeHooks, harness?: HarnessOverride) {
    this.#harness = harness;
    this.#spec = spec;
    const { manifest } = spec;
    this.#hooks = hooks;
    this.#graceMs = spec.timeoutGraceMs;
    this.#label = `${manifest.name}@${manifest.version}`;
    this.#name = manifest.name;
    this.#mainPath = spec.mainPath;
    this.#deadlines = new DeadlineQueue(this.#onDeadline);
    this.#flagNames = Object.keys(spec.flags);
    this.#flagCells = new Int32Array(new SharedArrayBuffer(4 * (1 + this.#flagNames.length)));
    this.#flagNames.forEach((name, i) => (this.#flagCells[i + 1] = spec.flags[name] ? 1 : 0));
    const memory = manifest.resources.memory;
    this.#notes = {
      hooks,
      memoryBytes: memory * 1024 * 1024,
      kill: (state, reason) => this.#kill(state, reason),
      health: (seq, threadId, status) => this.#healthAnswer?.(seq, threadId, status),
      violation: (reason) => hooks.onViolation(reason, ++this.#violations),
      fetch: grantedFetch(spec),
    };
  }

  /** The slot table and the pool, made for the first task. */
  #open(): SlotTable<Pending> {
    const spec = this.#spec;
    const harness = this.#harness;
    this.#slots = new SlotTable(spec.maxInFlight);
    const permissions = threadPermissions(spec.pluginDir, spec.manifest.name, harness?.url);
    this.#permissions = permissions;
    this.#pool = pluginPool(spec, harness, permissions, {
      slots: this.#slots.shared,
      flagCells: this.#flagCells,
    });
    this.#pool.on('workerCreate', () => this.#trackThreads());
    // Errors of threads with no task in flight: crash accounting happens on the thread's exit.
    this.#pool.on('error', () => {});
    return this.#slots;
  }

  run(input: TaskInput, timeoutMs: number): Promise<TaskResult> {
    return new Promise((resolve) => {
      // Closed before it ever ran: no pool to make now (its threads would outlive the plugin).
      if (this.#slots === undefined && this.#closing) return resolve(this.#terminated());
      const pending = new Pending(resolve);
      const slot = (this.#slots ?? this.#open()).acquire(pending);
      if (slot < 0) return resolve(OVERLOADED);
      const task = input as Task;
      task.s = slot;
      task.d = Date.now() + timeoutMs;
      pending.slot = slot;
      pending.task = task;
      this.#deadlines.add(pending, timeoutMs);
      this.#dispatch(pending);
    });
  }

  #dispatch(pending: Pending): void {
    this.#pool!.run(pending.task).then(
      (result: unknown) => this.#settle(pending, this.#checked(pending.task!.t, result)),
      (error: unknown) => this.#onLost(pending, error),
    );
  }

  /**
   * A thread's answer as the host accepts it; anything malformed is that request's `bad-response`, a
   * response over `maxResponseBytes` by the host's own measure its `too-large`.
   */
  #checked(kind: Task['t'], result: unknown): TaskResult {
    const checked = checkResult(kind, result);
    const refused =
      checked !== result
        ? checked
        : kind === 'req'
          ? oversizedReply(checked, this.#spec.maxResponseBytes)
          : undefined;
    if (refused === undefined) return checked;
    this.#violations++;
    return refused;
  }

  /**
   * Piscina rejected a task: its thread is gone. A task that no plugin code saw (its slot still 0: the
   * harness marks it before calling the plugin, and never clears the mark) goes to another thread,
   * whatever its method; one the plugin saw is answered as lost — terminated by us, or crashed — and
   * only the mesh may retry it, for an idempotent method (`mesh/pipeline.ts`).
   */
  #onLost(pending: Pending, error: unknown): void {
    // A task Piscina could not copy to a thread (no thread lost): sent again, it would loop for ever.
    if (isCloneError(error) && !this.#threadErrors.has(error as object))
      return this.#settle(pending, { __pgw: 'unsendable', message: `${error}` });
    if (!this.#closing && !pending.answered && this.#slots!.threadOf(pending.slot) === 0) {
      this.#dispatch(pending);
      return;
    }
    this.#settle(pending, this.#threadLoss(error));
  }

  async boot(timeoutMs: number): Promise<BootReport> {
    const result = await this.run({ t: 'boot' }, timeoutMs);
    // A thread whose initialize() or start() failed answers every task with that failure for good: end
    // it, or a restart after a crash would land on it and fail without running initialize() again.
    if (isTaskFailure(result) && result.__pgw === 'init') this.#endLiveThreads();
    return bootReportOf(result, this.#name, timeoutMs, this.#mainPath);
  }

  /** Ends every live thread as the host's doing (not a crash); the pool starts fresh ones on demand. */
  #endLiveThreads(): void {
    for (const thread of this.#liveThreads()) {
      thread.killed = true;
      void thread.worker.terminate();
    }
  }

  drain(timeoutMs: number): Promise<void> {
    return (this.#slots?.used ?? 0) === 0 ? Promise.resolve() : this.#drain.wait(timeoutMs);
  }

  /**
   * Runs the plugin's `stop()` in every live thread for `timeoutMs` less what is kept to end the
   * threads (`END_THREADS_MS`, at most a quarter), then ends them. A thread that has not ended by
   * `timeoutMs` (blocked in a system call, which Node cannot interrupt) is abandoned: unreferenced so
   * that it does not hold the host's event loop, and reported through `onAbandoned`.
   */
  async close(timeoutMs: number): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    const end = performance.now() + timeoutMs;
    const connections = this.#live?.close(timeoutMs);
    // Let rejections already under way (a crash that led to this close) settle as what they are.
    await new Promise(setImmediate);
    const live = this.#liveThreads();
    if (live.length > 0) {
      const stopped = Promise.all(live.map((t) => new Promise<void>((r) => (t.stopped = r))));
      for (const t of live) this.#control(t, { ctl: 'stop' });
      const keep = Math.min(END_THREADS_MS, timeoutMs / 4);
      await within(stopped, end - keep - performance.now());
    }
    this.#deadlines.close();
    this.#lastLoss = this.#terminated();
    const ended = this.#pool ? await within(this.#pool.destroy(), end - performance.now()) : true;
    this.#permissions?.dispose();
    await connections;
    if (ended) return;
    const stuck = [...this.#threads.values()].filter((t) => t.exitCode === undefined);
    if (stuck.length === 0) return;
    for (const t of stuck) t.worker.unref();
    this.#hooks.onAbandoned(
      stuck.map((t) => t.worker.threadId),
      `did not end within ${Math.round(timeoutMs)} ms (blocked in a system call?)`,
    );
  }

  /** Control for one thread, on its own port; a thread already gone is skipped. */
  #control(state: ThreadState, message: ControlMessage): void {
    try {
      state.worker.postMessage(message);
    } catch {
      // The thread is exiting: its exit handler accounts for it.
    }
  }

  stats(): RuntimeStats {
    return {
      ...threadFigures(this.#threads.values()),
      inFlight: this.#slots?.used ?? 0,
      violations: this.#violations,
      connections: this.#live?.connections ?? 0,
    };
  }

  live(): LiveThread {
    return (this.#live ??= new LiveThread(this.#spec, this.#hooks, this.#flagCells, (reason) =>
      this.#hooks.onViolation(reason, ++this.#violations),
    ));
  }

  setFlags(flags: Readonly<Record<string, boolean>>): void {
    const cells = this.#flagCells;
    this.#flagNames.forEach((name, i) => Atomics.store(cells, i + 1, flags[name] ? 1 : 0));
    Atomics.add(cells, 0, 1);
  }

  async checkHealth(timeoutMs: number): Promise<HealthStatus | undefined> {
    const asked = this.#liveThreads();
    if (asked.length === 0 || this.#closing) return undefined;
    const seq = ++this.#healthSeq;
    const answers = new Map<number, HealthStatus>();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.#healthAnswer = (answered, threadId, status) => {
        if (answered !== seq) return;
        answers.set(threadId, status);
        if (answers.size >= asked.length) {
          clearTimeout(timer);
          resolve();
        }
      };
      for (const t of asked) this.#control(t, { ctl: 'health', seq });
    });
    this.#healthAnswer = undefined;
    const silent = this.#liveThreads()
      .filter((t) => asked.includes(t) && !answers.has(t.worker.threadId))
      .map((t) => t.worker.threadId);
    if (answers.size === 0 && silent.length === 0) return undefined;
    return combineHealth([...answers.values()], silent, timeoutMs);
  }

  #liveThreads(): ThreadState[] {
    return [...this.#threads.values()].filter((t) => !t.killed && t.exitCode === undefined);
  }

  readonly #onDeadline = (pending: Pending): void => {
    pending.answered = true;
    pending.resolve(TIMEOUT);
    const thread = this.#threads.get(this.#slots!.threadOf(pending.slot));
    if (!thread) return;
    // A thread awaiting the plugin lets go at once; one whose event loop is blocked cannot.
    this.#control(thread, { ctl: 'abandon', slot: pending.slot });
    setTimeout(this.#reclaim, this.#graceMs, pending).unref();
  };

  /** A thread still holding a timed-out request after the grace is stuck: end it. */
  readonly #reclaim = (pending: Pending): void => {
    if (this.#slots!.ownerOf(pending.slot) !== pending) return;
    const thread = this.#threads.get(this.#slots!.threadOf(pending.slot));
    if (!thread || thread.killed) return;
    thread.killed = true;
    void thread.worker.terminate();
  };

  #settle(pending: Pending, result: TaskResult): void {
    this.#slots!.release(pending.slot);
    if (!pending.answered) {
      pending.answered = true;
      this.#deadlines.remove(pending);
      pending.resolve(result);
    }
    if (this.#slots!.used === 0) this.#drain.settled();
  }

  /** Piscina rejected a task: its thread is gone. Say whether we ended it or it died. */
  #threadLoss(error: unknown): TaskFailure {
    return (
      this.#lastLoss ?? {
        __pgw: 'crash',
        message: error instanceof Error ? error.message : String(error),
      }
    );
  }

  #terminated(): TaskFailure {
    return { __pgw: 'terminated', message: `a thread of ${this.#label} was terminated` };
  }

  #trackThreads(): void {
    for (const worker of this.#pool!.threads) {
      if (worker.threadId < 0 || this.#threads.has(worker.threadId)) continue;
      const id = worker.threadId;
      const state: ThreadState = {
        worker,
        killed: false,
        heapUsed: 0,
        elu: undefined,
        exitNoted: false,
      };
      this.#threads.set(id, state);
      captureOutput(worker, (stream, line) => this.#hooks.onOutput(stream, line));
      worker.on(
        'message',
        (m: unknown) => this.#harness?.onNote(m) || onNote(this.#notes, state, m),
      );
      worker.on('error', (error: Error) => {
        if (typeof error === 'object' && error !== null) this.#threadErrors.add(error);
        state.error = `${(error as Error & { code?: string }).code ?? error.name}: ${error.message}`;
        this.#lastLoss = { __pgw: 'crash', message: state.error };
      });
      worker.once('exit', (code) => {
        state.exitCode = code;
        this.#threads.delete(id);
        state.stopped?.();
        // Exits we caused (timeout kill, close) or Piscina did (idle) carry no error and no exit note.
        const crashed =
          !state.killed && !this.#closing && (state.error !== undefined || state.exitNoted);
        if (!crashed) {
          this.#lastLoss = this.#terminated();
          return;
        }
        const reason = state.error ?? `the plugin ended its thread with process.exit(${code})`;
        this.#lastLoss = { __pgw: 'crash', message: reason };
        this.#hooks.onCrash(reason);
      });
      // Output is the host's now: the harness may import the plugin.
      this.#control(state, { ctl: 'start' });
    }
  }

  /** Ends a thread that broke a limit: a crash with `reason`, restarted by the crash policy. */
  #kill(state: ThreadState, reason: string): void {
    state.error = reason;
    this.#lastLoss = { __pgw: 'crash', message: reason };
    void state.worker.terminate();
  }
}

/** Whether `work` settled (either way) within `ms`. */
async function within(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((r) => (timer = setTimeout(r, Math.max(0, ms), false)));
  const settled = work.then(
    () => true as const,
    () => true as const,
  );
  try {
    return await Promise.race([settled, late]);
  } finally {
    clearTimeout(timer);
  }
}
