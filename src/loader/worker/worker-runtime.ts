/**
 * `WorkerRuntime`: one Piscina pool per plugin instance, with the resource limits of its manifest.
 * Threads scale to zero when idle. A request past its deadline is answered at once; the thread still
 * holding it after a short grace is terminated (a blocked event loop cannot be interrupted otherwise).
 * @module
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type { EventLoopUtilization } from 'node:perf_hooks';
import type { HealthStatus } from '../../shared/types.js';
import { BroadcastChannel, type Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { ControlMessage, HarnessData, Task, WorkerNote } from './protocol.js';
import { worstHealth } from '../../shared/health.js';
import { isTaskFailure, type TaskFailure } from '../../shared/task-failure.js';
import { ErrorCodes } from '../../errors.js';
import {
  type PluginRuntime,
  type RuntimeHooks,
  type RuntimeSpec,
  type RuntimeStats,
  type TaskInput,
  type BootReport,
  type TaskResult,
} from '../runtime.js';
import { DeadlineQueue } from '../../shared/deadline-queue.js';
import { SlotTable } from './slots.js';

/** The harness each thread runs: beside this file in the sources, `dist/worker-entry.js` when built. */
const HARNESS = import.meta.url.endsWith('.ts')
  ? new URL('./entry.ts', import.meta.url)
  : new URL('./worker-entry.js', import.meta.url);
/** Running from TypeScript sources (this repository's tests and demo): threads load them through tsx. */
const SOURCE_EXEC_ARGV = HARNESS.pathname.endsWith('.ts')
  ? ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href]
  : [];

const OVERLOADED: TaskFailure = { __pgw: 'overloaded', message: 'too many requests in flight' };
const TIMEOUT: TaskFailure = { __pgw: 'timeout', message: 'deadline passed' };

/** One request between dispatch and answer. */
class Pending {
  answered = false;
  slot = -1;
  task: Task | undefined;
  deadlineAt = 0;
  deadlineIndex = -1;
  constructor(readonly resolve: (result: TaskResult) => void) {}
}

/** What the host knows of one live thread. */
interface ThreadState {
  worker: Worker;
  killed: boolean;
  error?: string;
  exitCode?: number;
  heapUsed: number;
  /** Event-loop utilisation at the previous `stats()`, so each reading covers the time since. */
  elu: EventLoopUtilization | undefined;
  /** The harness saw `process.exit()`: the plugin ended its own thread. */
  exitNoted: boolean;
  stopped?: () => void;
}

export class WorkerRuntime implements PluginRuntime {
  readonly #pool: Piscina;
  readonly #slots: SlotTable<Pending>;
  readonly #threads = new Map<number, ThreadState>();
  /** Every request's deadline, whatever its timeout: one heap and one timer. */
  readonly #deadlines: DeadlineQueue<Pending>;
  readonly #channel: BroadcastChannel;
  readonly #hooks: RuntimeHooks;
  readonly #graceMs: number;
  readonly #label: string;
  #drained: (() => void) | undefined;
  #closing = false;
  /**
   * How the last thread was lost. Piscina rejects a lost thread's tasks from inside the worker's
   * 'error'/'exit' event, and our listeners for those events run before the rejections reach us.
   */
  #lastLoss: TaskFailure | undefined;
  #healthSeq = 0;
  #healthAnswer: ((seq: number, threadId: number, status: HealthStatus) => void) | undefined;

  constructor(spec: RuntimeSpec, hooks: RuntimeHooks) {
    const { manifest } = spec;
    this.#hooks = hooks;
    this.#graceMs = spec.timeoutGraceMs;
    this.#label = `${manifest.name}@${manifest.version}`;
    this.#slots = new SlotTable(spec.maxInFlight);
    this.#deadlines = new DeadlineQueue(this.#onDeadline);
    const channel = `plugin-gateway:${spec.instanceId}`;
    this.#channel = new BroadcastChannel(channel);
    this.#channel.unref();
    const workerData: HarnessData = {
      main: pathToFileURL(spec.mainPath).href,
      name: manifest.name,
      version: manifest.version,
      flags: spec.flags,
      settings: spec.settings,
      publish: [...manifest.permissions.events.publish],
      slots: this.#slots.shared,
      channel,
    };
    const memory = manifest.resources.memory;
    this.#pool = new Piscina({
      filename: HARNESS.href,
      name: 'default',
      minThreads: 0,
      maxThreads: Math.max(1, Math.ceil(manifest.resources.cpu)),
      idleTimeout: spec.idleTimeoutMs,
      concurrentTasksPerWorker: spec.threadConcurrency,
      // Sync atomics would block an idle thread's event loop: the plugin's timers and our control channel.
      atomics: 'disabled',
      // The gateway keeps its own latency histogram; Piscina's would time every task a second time.
      recordTiming: false,
      resourceLimits: {
        maxOldGenerationSizeMb: memory,
        maxYoungGenerationSizeMb: Math.max(1, Math.min(16, Math.floor(memory / 8))),
        stackSizeMb: 4,
      },
      env: {},
      execArgv: SOURCE_EXEC_ARGV,
      workerData,
      trackUnmanagedFds: true,
    });
    this.#pool.on('workerCreate', () => this.#trackThreads());
    // Errors of threads with no task in flight: crash accounting happens on the thread's exit.
    this.#pool.on('error', () => {});
  }

  run(input: TaskInput, timeoutMs: number): Promise<TaskResult> {
    return new Promise((resolve) => {
      const pending = new Pending(resolve);
      const slot = this.#slots.acquire(pending);
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
    this.#pool.run(pending.task).then(
      (result: TaskResult) => this.#settle(pending, result),
      (error: unknown) => this.#onLost(pending, error),
    );
  }

  /**
   * Piscina rejected a task: its thread is gone. A task that had not started (its slot was never
   * claimed, so no plugin code ran for it) goes to another thread, whatever its method; one that had
   * started is answered as lost: terminated by us, or crashed.
   */
  #onLost(pending: Pending, error: unknown): void {
    if (!this.#closing && !pending.answered && this.#slots.threadOf(pending.slot) === 0) {
      this.#dispatch(pending);
      return;
    }
    this.#settle(pending, this.#threadLoss(error));
  }

  async boot(timeoutMs: number): Promise<BootReport> {
    const result = await this.run({ t: 'boot' }, timeoutMs);
    if (isTaskFailure(result)) {
      const error = new Error(result.message);
      if (result.stack) error.stack = result.stack;
      (error as Error & { kind: string }).kind = result.__pgw;
      throw error;
    }
    return result as BootReport;
  }

  async drain(timeoutMs: number): Promise<void> {
    if (this.#slots.used === 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.#drained = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.#drained = undefined;
  }

  async close(timeoutMs: number): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    // Let rejections already under way (a crash that led to this close) settle as what they are.
    await new Promise(setImmediate);
    const live = this.#liveThreads();
    if (live.length > 0) {
      const stopped = Promise.all(live.map((t) => new Promise<void>((r) => (t.stopped = r))));
      this.#channel.postMessage({ type: 'stop' });
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([stopped, new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
      clearTimeout(timer);
    }
    this.#channel.close();
    this.#deadlines.close();
    this.#lastLoss = this.#terminated();
    await this.#pool.destroy();
  }

  stats(): RuntimeStats {
    let utilization = 0;
    let heapUsedBytes = 0;
    let threads = 0;
    for (const t of this.#threads.values()) {
      if (t.exitCode !== undefined) continue;
      threads++;
      heapUsedBytes += t.heapUsed;
      const now = t.worker.performance.eventLoopUtilization();
      utilization += (t.elu ? t.worker.performance.eventLoopUtilization(now, t.elu) : now)
        .utilization;
      t.elu = now;
    }
    return {
      threads,
      utilization: threads ? utilization / threads : 0,
      heapUsedBytes,
      inFlight: this.#slots.used,
    };
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
      this.#channel.postMessage({ type: 'health', seq } satisfies ControlMessage);
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
    if (this.#slots.threadOf(pending.slot) === 0) return;
    // A thread awaiting the plugin lets go at once; one whose event loop is blocked cannot.
    this.#channel.postMessage({ type: 'abandon', slot: pending.slot } satisfies ControlMessage);
    setTimeout(this.#reclaim, this.#graceMs, pending).unref();
  };

  /** A thread still holding a timed-out request after the grace is stuck: end it. */
  readonly #reclaim = (pending: Pending): void => {
    if (this.#slots.ownerOf(pending.slot) !== pending) return;
    const thread = this.#threads.get(this.#slots.threadOf(pending.slot));
    if (!thread || thread.killed) return;
    thread.killed = true;
    void thread.worker.terminate();
  };

  #settle(pending: Pending, result: TaskResult): void {
    this.#slots.release(pending.slot);
    if (!pending.answered) {
      pending.answered = true;
      this.#deadlines.remove(pending);
      pending.resolve(result);
    }
    if (this.#drained && this.#slots.used === 0) this.#drained();
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
    for (const worker of this.#pool.threads) {
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
      worker.on('message', (message: WorkerNote) => this.#onNote(state, message));
      worker.on('error', (error: Error) => {
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
    }
  }

  #onNote(state: ThreadState, message: WorkerNote): void {
    switch (message?.pgw) {
      case 'log':
        this.#hooks.onLog(message.level, message.msg, message.fields, message.requestId);
        break;
      case 'publish':
        this.#hooks.onPublish(message.event);
        break;
      case 'call':
        answerCall(this.#hooks, message);
        break;
      case 'heap':
        state.heapUsed = message.used;
        break;
      case 'stopped':
        if (message.error)
          this.#hooks.onLog('error', `stop() failed: ${message.error}`, undefined, undefined);
        state.stopped?.();
        break;
      case 'health':
        this.#healthAnswer?.(message.seq, state.worker.threadId, message.status);
        break;
      case 'exiting':
        state.exitNoted = true;
        break;
    }
  }
}

/** The worst answer of the plugin's threads; a thread that did not answer in time is unhealthy. */
function combineHealth(answers: HealthStatus[], silent: number[], timeoutMs: number): HealthStatus {
  if (silent.length > 0) {
    return {
      status: 'unhealthy',
      details: {
        error: `thread ${silent.join(', ')} did not answer healthCheck() within ${timeoutMs} ms`,
      },
    };
  }
  return worstHealth(answers);
}

/** A plugin's `ctx.call()`: the host's answer goes back on the port the call brought. */
export function answerCall(hooks: RuntimeHooks, call: Extract<WorkerNote, { pgw: 'call' }>): void {
  const failed = (message: string) => ({
    statusCode: 500,
    body: { error: { code: ErrorCodes.PLUGIN_ERROR, message } },
  });
  hooks
    .onCall(call.service, call.request, { requestId: call.requestId, userId: call.userId })
    .catch((error: Error) => failed(error.message))
    .then((response) => {
      try {
        call.port.postMessage(response);
      } catch (error) {
        call.port.postMessage(failed(`the answer cannot be cloned: ${(error as Error).message}`));
      }
    })
    .finally(() => call.port.close());
}
