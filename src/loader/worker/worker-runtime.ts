/**
 * `WorkerRuntime`: one Piscina pool per plugin instance, with the resource limits of its manifest.
 * Threads scale to zero when idle. A request past its deadline is answered at once; the thread still
 * holding it after a short grace is terminated (a blocked event loop cannot be interrupted otherwise).
 * Every result and note from a thread is checked on the host (`note-check.ts`); control goes to one
 * thread at a time on its own parent port.
 * @module
 */
import type { HealthStatus } from '../../shared/types.js';
import type { Piscina } from 'piscina';
import { pluginPool, threadsOf } from './plugin-pool.js';
import type { ControlMessage, Task } from './protocol.js';
import { isTaskFailure, type TaskFailure } from '../../shared/task-failure.js';
import { ContentCheck } from '../content-check.js';
import {
  type PluginRuntime,
  type RuntimeHooks,
  type RuntimeSpec,
  type RuntimeStats,
  type TaskInput,
  type BootReport,
  type TaskResult,
  type ResultThen,
  type HarnessOverride,
  type HeldLiveChannel,
  bootReportOf,
} from '../runtime.js';
import { TaskLedger, type Pending, type TaskTransport } from '../task-ledger.js';
import { grantedFetch } from '../host-fetch.js';
import { threadPermissions, type ThreadPermissions } from './thread-launch.js';
import { checkResult, refusedResult } from './note-check.js';
import { isCloneError, onNote, threadFigures, ThreadHealth } from './thread-notes.js';
import type { NoteTarget, ThreadState } from './thread-notes.js';
import { captureOutput } from './thread-output.js';
import { LiveThread } from './live-thread.js';
import { TaskBatcher } from './task-batcher.js';
import { PortTasks } from './port-tasks.js';
import { ThreadLiveness } from './thread-liveness.js';
import { within } from '../settled-within.js';

/** Of `close()`'s budget, what is kept for ending the threads after the plugin's `stop()`. */
const END_THREADS_MS = 1000;

type Held = Pending<ThreadState>;

/**
 * The threads' transport under the ledger (`task-ledger.ts`): a task's holder is the thread whose id
 * the harness wrote in its slot, a table the plugin's code cannot reach (`entry.ts`).
 */
export class WorkerRuntime implements PluginRuntime {
  /** Made on the first task, so that a plugin that never ran has no threads and no scratch folder. */
  #pool: Piscina | undefined;
  readonly #ledger: TaskLedger<ThreadState>;
  /** Batches a tick's tasks into one message; a wasm thread holds two at most (ADR 0345). */
  readonly #batcher: TaskBatcher | undefined;
  readonly #spec: RuntimeSpec;
  /** Flag names in the order of `#flagCells` (after its version cell). */
  readonly #flagNames: readonly string[];
  readonly #flagCells: Int32Array;
  readonly #threads = new Map<number, ThreadState>();
  readonly #liveness = new ThreadLiveness(
    this.#threads,
    (thread, seq) => this.#control(thread, { ctl: 'ping', seq }),
    (thread) => this.#end(thread),
  );
  readonly #hooks: RuntimeHooks;
  readonly #notes: NoteTarget;
  #violations = 0;
  readonly #label: string;
  readonly #name: string;
  /** The entry file, for locating a load error. */
  readonly #mainPath: string;
  #closing = false;
  /**
   * How the last thread was lost. Piscina rejects a lost thread's tasks from inside the worker's
   * 'error'/'exit' event, and our listeners for those events run before the rejections reach us.
   */
  #lastLoss: TaskFailure | undefined;
  /** Errors threads died of (Piscina rejects their tasks with them): never a failure to send. */
  readonly #threadErrors = new WeakSet<object>();
  /** Made with the pool: a plugin that never ran has no scratch folder. */
  #permissions: ThreadPermissions | undefined;
  readonly #health = new ThreadHealth();
  readonly #harness: HarnessOverride | undefined;
  /** The thread holding the instance's WebSocket connections, made for the first one. */
  #live: HeldLiveChannel | undefined;
  /** The folder's hash, checked before each thread (task or live) imports the plugin. */
  readonly #content: ContentCheck;
  /** Lone tasks by each thread's own port (ADR 0370): the JavaScript harness's, and a harness that takes them. */
  readonly #ports: PortTasks | undefined;

  constructor(spec: RuntimeSpec, hooks: RuntimeHooks, harness?: HarnessOverride) {
    this.#harness = harness;
    this.#spec = spec;
    const { manifest } = spec;
    this.#hooks = hooks;
    this.#label = `${manifest.name}@${manifest.version}`;
    this.#name = manifest.name;
    this.#mainPath = spec.mainPath;
    this.#content = new ContentCheck(
      { name: manifest.name, version: manifest.version, dir: spec.pluginDir },
      spec.contentHash,
    );
    const transport: TaskTransport<ThreadState> = {
      dispatch: (pending) => this.#dispatch(pending),
      holderOf: (pending) => this.#holderOf(pending),
      // The harness marks a slot before it calls the plugin, and never clears the mark.
      seen: (pending) => this.#ledger.slots.threadOf(pending.slot) !== 0,
      abandon: (thread, slot) => this.#control(thread, { ctl: 'abandon', slot }),
      end: (thread) => this.#end(thread),
      terminated: () => this.#terminated(),
      unheld: () => this.#liveness.probe(spec.timeoutGraceMs),
    };
    this.#ledger = new TaskLedger(spec.maxInFlight, spec.timeoutGraceMs, transport);
    const violation = (reason: string) => hooks.onViolation(reason, ++this.#violations);
    const checked = (kind: Task['t'], result: unknown) => this.#checked(kind, result);
    const ledger = this.#ledger;
    const [threads, concurrency] = [this.#threads, spec.threadConcurrency];
    if (!harness || harness.portTasks)
      this.#ports = new PortTasks({ ledger, threads, concurrency, checked, violation });
    const batchTarget = {
      ledger,
      pool: () => this.#pool ?? this.#open(),
      one: (pending: Held) => this.#runOne(pending),
      checked,
      lost: (pending: Held, error: unknown) => this.#onLost(pending, error),
      unsendable: (e: unknown) => isCloneError(e) && !this.#threadErrors.has(e as object),
      violation,
      alone: (pending: Held) => this.#ports?.send(pending) ?? false,
    };
    if (!harness || harness.batches) {
      const perThread = harness?.messagesPerThread ?? Infinity;
      const messages = perThread * threadsOf(spec.manifest);
      this.#batcher = new TaskBatcher(batchTarget, spec.threadConcurrency, messages);
    }
    this.#flagNames = Object.keys(spec.flags);
    this.#flagCells = new Int32Array(new SharedArrayBuffer(4 * (1 + this.#flagNames.length)));
    this.#flagNames.forEach((name, i) => (this.#flagCells[i + 1] = spec.flags[name] ? 1 : 0));
    const memory = manifest.resources.memory;
    this.#notes = {
      hooks,
      memoryBytes: memory * 1024 * 1024,
      kill: (state, reason) => this.#kill(state, reason),
      health: (seq, threadId, status) => this.#health.answer(seq, threadId, status),
      violation,
      fetch: grantedFetch(spec),
    };
  }

  /** The pool, made for the first task. */
  #open(): Piscina {
    const spec = this.#spec;
    const harness = this.#harness;
    const permissions = threadPermissions(spec.pluginDir, spec.manifest.name, harness?.url);
    this.#permissions = permissions;
    const pool = pluginPool(spec, harness, permissions, {
      slots: this.#ledger.slots.shared,
      flagCells: this.#flagCells,
    });
    this.#pool = pool;
    pool.on('workerCreate', () => this.#trackThreads());
    // Errors of threads with no task in flight: crash accounting happens on the thread's exit.
    pool.on('error', () => {});
    return pool;
  }

  run(input: TaskInput, timeoutMs: number): Promise<TaskResult> {
    return this.#ledger.run(input, timeoutMs);
  }

  runThen<T>(input: TaskInput, timeoutMs: number, then: ResultThen<T>): Promise<T> {
    return this.#ledger.runThen(input, timeoutMs, then);
  }

  /** Hands the task to Piscina, alone or with the others of this tick (`task-batcher.ts`). */
  #dispatch(pending: Held): void {
    const changed = this.#content.changed;
    if (changed !== undefined)
      return this.#ledger.settle(pending, { __pgw: 'crash', message: changed });
    if (this.#batcher) this.#batcher.dispatch(pending);
    else this.#runOne(pending);
  }

  #runOne(pending: Held): Promise<unknown> {
    return (this.#pool ?? this.#open()).run(pending.task).then(
      (result: unknown) => {
        this.#ports?.answered(pending);
        this.#ledger.settle(pending, this.#checked(pending.task.t, result));
      },
      (error: unknown) => this.#onLost(pending, error),
    );
  }

  /** The thread whose id the harness wrote in the task's slot. */
  #holderOf(pending: Held): ThreadState | undefined {
    const thread = this.#threads.get(this.#ledger.slots.threadOf(pending.slot));
    return thread && !thread.killed ? thread : undefined;
  }

  /** A thread still holding a timed-out task after the grace is terminated (not a crash). */
  #end(thread: ThreadState): void {
    if (thread.killed) return;
    thread.killed = true;
    void thread.worker.terminate();
  }

  /**
   * A thread's answer as the host accepts it; anything malformed is that request's `bad-response`, a
   * response over `maxResponseBytes` by the host's own measure its `too-large`.
   */
  #checked(kind: Task['t'], result: unknown): TaskResult {
    const checked = checkResult(kind, result);
    const refused = refusedResult(kind, result, checked, this.#spec.maxResponseBytes);
    if (refused === undefined) return checked;
    this.#violations++;
    return refused;
  }

  /**
   * Piscina rejected a task: it could not be sent, or its thread is gone (then the ledger decides
   * whether it runs again: only if no plugin code saw it).
   */
  #onLost(pending: Held, error: unknown): void {
    // A task Piscina could not copy to a thread (no thread lost): sent again, it would loop for ever.
    if (isCloneError(error) && !this.#threadErrors.has(error as object))
      return this.#ledger.settle(pending, { __pgw: 'unsendable', message: `${error}` });
    this.#ledger.lost(pending, this.#threadLoss(error));
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
    for (const thread of this.#liveThreads()) this.#end(thread);
  }

  drain(timeoutMs: number): Promise<void> {
    return this.#ledger.drain(timeoutMs);
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
    this.#ledger.close();
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
      inFlight: this.#ledger.inFlight,
      violations: this.#violations,
      connections: this.#live?.connections ?? 0,
    };
  }

  live(): HeldLiveChannel {
    if (this.#live) return this.#live;
    const violation = (reason: string) => this.#hooks.onViolation(reason, ++this.#violations);
    const flagCells = this.#flagCells;
    const content = this.#content;
    this.#live =
      this.#harness?.live?.({ flagCells, violation, content }) ??
      new LiveThread(this.#spec, this.#hooks, flagCells, violation, content);
    return this.#live;
  }

  setFlags(flags: Readonly<Record<string, boolean>>): void {
    const cells = this.#flagCells;
    this.#flagNames.forEach((name, i) => Atomics.store(cells, i + 1, flags[name] ? 1 : 0));
    Atomics.add(cells, 0, 1);
  }

  async checkHealth(timeoutMs: number): Promise<HealthStatus | undefined> {
    if (this.#closing) return undefined;
    return this.#health.check(
      () => this.#liveThreads(),
      (t, seq) => this.#control(t, { ctl: 'health', seq }),
      timeoutMs,
    );
  }

  #liveThreads(): ThreadState[] {
    return [...this.#threads.values()].filter((t) => !t.killed && t.exitCode === undefined);
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
        id,
        killed: false,
        heapUsed: 0,
        elu: undefined,
        exitNoted: false,
      };
      this.#threads.set(id, state);
      this.#ports?.track(state);
      captureOutput(worker, (stream, line) => this.#hooks.onOutput(stream, line));
      worker.on(
        'message',
        (m: unknown) =>
          this.#harness?.onNote(m) ||
          this.#ports?.take(state, m) ||
          this.#batcher?.take(state, m) ||
          onNote(this.#notes, state, m),
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
        const reason = state.error ?? `the plugin ended its thread with process.exit(${code})`;
        this.#lastLoss = crashed ? { __pgw: 'crash', message: reason } : this.#terminated();
        if (crashed) this.#hooks.onCrash(reason);
        this.#ports?.lost(state, this.#lastLoss);
      });
      // Output is the host's now: the harness may import the plugin, once its folder is as loaded.
      void this.#content.verify().then((changed) => {
        if (changed === undefined) return this.#control(state, { ctl: 'start' });
        if (!state.killed) this.#kill(state, changed);
      });
    }
  }

  /** Ends a thread that broke a limit: a crash with `reason`, restarted by the crash policy. */
  #kill(state: ThreadState, reason: string): void {
    state.error = reason;
    this.#lastLoss = { __pgw: 'crash', message: reason };
    void state.worker.terminate();
  }
}
