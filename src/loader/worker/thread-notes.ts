/**
 * The host's side of one plugin thread: what it knows of the thread, and what it does with each note the
 * thread sends — after `note-check.ts` has refused anything malformed. Permissions are the host's: a
 * published event goes through `onPublish`, where the gateway checks the manifest, and a call through
 * `onCall`, where it checks `dependencies`; nothing a thread claims is taken on trust.
 * @module
 */
import type { FetchReply, FetchRequest } from '../host-fetch.js';
import type { EventLoopUtilization } from 'node:perf_hooks';
import type { Worker } from 'node:worker_threads';
import { ErrorCodes } from '../../errors.js';
import { worstHealth } from '../../shared/health.js';
import type {
  HealthStatus,
  PluginRequest,
  PluginResponse,
  ServiceRequest,
} from '../../shared/types.js';
import { LOG_FLOOD, type RuntimeHooks } from '../runtime.js';
import { checkNote, isPiscinaNote } from './note-check.js';
import type { WorkerNote } from './protocol.js';
import type { PortUsage } from './piscina-usage.js';
import type { Pending } from '../task-ledger.js';

/** What the host knows of one live thread. */
export interface ThreadState {
  worker: Worker;
  /** The thread's id, kept: `worker.threadId` reads -1 once it has exited, when its last notes are settled. */
  readonly id: number;
  killed: boolean;
  error?: string;
  exitCode?: number;
  heapUsed: number;
  /** Event-loop utilisation at the previous `stats()`, so each reading covers the time since. */
  elu: EventLoopUtilization | undefined;
  /** The harness saw `process.exit()`: the plugin ended its own thread. */
  exitNoted: boolean;
  stopped?: () => void;
  /** The sequence number of the last liveness probe it answered (`WorkerRuntime.#probe`). */
  pong?: number;
  /** Its tasks sent on its own port (`port-tasks.ts`); undefined when it takes none. */
  port?: { usage: PortUsage; tasks: Set<Pending<ThreadState>> };
}

/** What a note may act on besides the runtime's hooks. */
export interface NoteTarget {
  hooks: RuntimeHooks;
  /** Bytes of heap and off-heap memory a thread may hold (`resources.memory`). */
  memoryBytes: number;
  /** Ends a thread that broke a limit; it counts as a crash with `reason`. */
  kill(state: ThreadState, reason: string): void;
  health(seq: number, threadId: number, status: HealthStatus): void;
  violation(reason: string): void;
  /** `ctx.fetch()`, made on the host against the plugin's `permissions.network`. */
  fetch(request: FetchRequest): Promise<FetchReply>;
}

/** Acts on one message from a thread; refuses (and reports) anything malformed. */
export function onNote(target: NoteTarget, state: ThreadState, message: unknown): void {
  const checked = checkNote(message);
  if (typeof checked === 'string') {
    if (!isPiscinaNote(message)) target.violation(checked);
    return;
  }
  const { hooks } = target;
  const note: WorkerNote = checked;
  switch (note.pgw) {
    case 'log':
      if (!hooks.onLog(note.level, note.msg, note.fields, note.requestId, note.tp)) {
        target.kill(state, LOG_FLOOD);
      }
      break;
    case 'publish':
      hooks.onPublish(note.event);
      break;
    case 'call':
      answerCall(hooks, note);
      break;
    case 'fetch': {
      const { port } = note;
      void target.fetch(note.request).then((reply) => {
        try {
          port.postMessage(reply);
        } finally {
          port.close();
        }
      });
      break;
    }
    case 'heap': {
      state.heapUsed = note.used;
      const total = note.used + note.external;
      if (total > target.memoryBytes && !state.killed && state.error === undefined) {
        const mib = (n: number) => Math.round(n / 1048576);
        target.kill(
          state,
          `memory: the thread holds ${mib(note.used)} MiB of heap and ${mib(note.external)} MiB outside it, over resources.memory (${mib(target.memoryBytes)} MiB)`,
        );
      }
      break;
    }
    case 'stopped':
      if (note.error) hooks.onLog('error', `stop() failed: ${note.error}`, undefined, undefined);
      state.stopped?.();
      break;
    case 'health':
      target.health(note.seq, state.worker.threadId, note.status);
      break;
    case 'exiting':
      state.exitNoted = true;
      break;
    case 'pong':
      state.pong = note.seq;
      break;
  }
}

/** The plugin's `healthCheck()` asked of each live thread on its own port, one round at a time. */
export class ThreadHealth {
  #seq = 0;
  #answer: ((seq: number, threadId: number, status: HealthStatus) => void) | undefined;

  /** A thread's `health` note. */
  answer(seq: number, threadId: number, status: HealthStatus): void {
    this.#answer?.(seq, threadId, status);
  }

  /** Asks every live thread (`ask`), waits `timeoutMs` at most; undefined when no thread is live. */
  async check(
    live: () => ThreadState[],
    ask: (thread: ThreadState, seq: number) => void,
    timeoutMs: number,
  ): Promise<HealthStatus | undefined> {
    const asked = live();
    if (asked.length === 0) return undefined;
    const seq = ++this.#seq;
    const answers = new Map<number, HealthStatus>();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.#answer = (answered, threadId, status) => {
        if (answered !== seq) return;
        answers.set(threadId, status);
        if (answers.size >= asked.length) {
          clearTimeout(timer);
          resolve();
        }
      };
      for (const t of asked) ask(t, seq);
    });
    this.#answer = undefined;
    const silent = live()
      .filter((t) => asked.includes(t) && !answers.has(t.worker.threadId))
      .map((t) => t.worker.threadId);
    if (answers.size === 0 && silent.length === 0) return undefined;
    return combineHealth([...answers.values()], silent, timeoutMs);
  }
}

/** The worst answer of the plugin's threads; a thread that did not answer in time is unhealthy. */
export function combineHealth(
  answers: HealthStatus[],
  silent: number[],
  timeoutMs: number,
): HealthStatus {
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
  answerServiceCall(hooks, call, (response) => call.port.postMessage(response)).finally(() =>
    call.port.close(),
  );
}

/**
 * A plugin's `ctx.call()` through the host's `onCall` (where `dependencies` are checked); the answer,
 * or a 500 saying why there is none, goes to `reply`.
 */
export function answerServiceCall(
  hooks: RuntimeHooks,
  call: {
    service: string;
    request: ServiceRequest;
    requestId?: string;
    userId?: PluginRequest['userId'];
  },
  reply: (response: PluginResponse) => void,
): Promise<void> {
  const failed = (message: string): PluginResponse => ({
    statusCode: 500,
    body: { error: { code: ErrorCodes.PLUGIN_ERROR, message } },
  });
  return hooks
    .onCall(call.service, call.request, { requestId: call.requestId, userId: call.userId })
    .catch((error: Error) => failed(error.message))
    .then((response) => {
      try {
        reply(response);
      } catch (error) {
        reply(failed(`the answer cannot be cloned: ${(error as Error).message}`));
      }
    });
}

/** What structured clone throws for a value it cannot copy: a function, a symbol, nesting past the stack. */
export function isCloneError(error: unknown): boolean {
  return (
    (error instanceof Error || error instanceof DOMException) &&
    (error.name === 'DataCloneError' || error.name === 'RangeError')
  );
}

/**
 * Live threads, their mean event-loop utilisation since the previous reading (each thread keeps its
 * last reading), and the heap they last reported.
 */
export function threadFigures(states: Iterable<ThreadState>): {
  threads: number;
  utilization: number;
  heapUsedBytes: number;
} {
  let utilization = 0;
  let heapUsedBytes = 0;
  let threads = 0;
  for (const t of states) {
    if (t.exitCode !== undefined) continue;
    threads++;
    heapUsedBytes += t.heapUsed;
    const now = t.worker.performance.eventLoopUtilization();
    const since = t.elu ? t.worker.performance.eventLoopUtilization(now, t.elu) : now;
    // Read across threads, two readings can disagree by a hair: a share stays within 0..1.
    utilization += Math.min(1, Math.max(0, since.utilization));
    t.elu = now;
  }
  return { threads, utilization: threads ? utilization / threads : 0, heapUsedBytes };
}
