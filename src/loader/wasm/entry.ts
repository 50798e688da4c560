/**
 * The harness inside each thread of a wasm plugin: it instantiates the plugin's module in this thread
 * with Extism's kernel (`extism-host.ts`), the gateway's WASI and only the host functions its manifest
 * grants, and serves the same tasks as the worker harness. A plugin's code runs synchronously: a loop that does not
 * end holds the thread until the host terminates it past the deadline.
 * @module
 */
import {
  MessageChannel,
  parentPort,
  receiveMessageOnPort,
  threadId,
  workerData,
} from 'node:worker_threads';
import type { DomainEvent, HealthStatus, PluginRequest } from '../../shared/types.js';
import type { TaskFailure } from '../../shared/task-failure.js';
import type { BootReport, TaskResult } from '../runtime.js';
import type { ControlMessage, Task, WorkerNote } from '../worker/protocol.js';
import { checkReply } from '../worker/reply.js';
import { describe, failure, isThenable } from '../harness/task-values.js';
import { threadRunner } from '../worker/thread-batch.js';
import { droppedLines, LineBudget } from '../../shared/line-budget.js';
import { matchesEventPattern } from '../../shared/event-pattern.js';
import { EXTISM_ENV, EXTISM_USER, type Grant } from './abi.js';
import type { HostAnswer, HostNote, HostOp, WasmHarnessData } from './host-protocol.js';
import { WASI_MODULE, wasiImports, WasiExit, type Wasi } from './wasi-preview1.js';
import { serveStreams, STREAM_NONE } from './stream-call.js';
import { flagCellReader } from './flag-cells.js';
import { ExtismHost } from './extism-host.js';

const data = workerData as WasmHarnessData;
const port = parentPort!;
const grants = new Set<Grant>(data.grants);

function note(message: WorkerNote | HostNote): void {
  port.postMessage(message);
}

port.removeAllListeners('message');
let startPlugin: () => void;
const hostReady = new Promise<void>((resolve) => (startPlugin = resolve));
port.on('message', (message: ControlMessage) => {
  switch (message?.ctl) {
    case 'start':
      return startPlugin();
    case 'stop':
      return void stop();
    case 'health':
      return void answerHealth(message.seq);
    case 'ping':
      return note({ pgw: 'pong', seq: message.seq });
    // 'abandon': nothing here awaits; a call that outlives its deadline holds the thread, which the host ends.
    case 'task':
      return runner.port(message.task);
  }
});

/** The request being served: its id and caller go with a `pgw_call` and every log line. */
let current: {
  id?: string;
  userId?: PluginRequest['userId'];
  deadline: number;
  /** The request's own flag values, when a rule targets its user. */
  flags?: Record<string, boolean>;
  /** The `traceparent` of the gateway's hop to this call, while it traces: its log lines carry it. */
  tp?: string;
} = { deadline: Infinity };

const hostFlags = flagCellReader(data.flags, data.flagCells);
/** The flags as the host last set them, or the request's own. */
const flagValues = (): Record<string, boolean> => current.flags ?? hostFlags();

/** Extism's `log_*` lines past `limits.logLinesPerSecond` are dropped here, before they cost the host a message. */
const logBudget = new LineBudget(data.logLinesPerSecond);

function log(level: 'debug' | 'info' | 'warn' | 'error') {
  return (msg: unknown) => {
    const { ok, dropped } = logBudget.take();
    if (dropped > 0) note({ pgw: 'log', level: 'warn', msg: droppedLines(dropped, data) });
    if (ok) note({ pgw: 'log', level, msg: String(msg), requestId: current.id, tp: current.tp });
  };
}
/**
 * A host capability, synchronously: the host answers on a port of this request's own and then wakes
 * this thread, which waits no longer than the task's deadline.
 */
function ask(op: HostOp, args: HostNote['args']): HostAnswer {
  const { port1, port2 } = new MessageChannel();
  const wake = new Int32Array(new SharedArrayBuffer(4));
  port.postMessage(
    {
      pgw: 'host',
      op,
      args,
      requestId: current.id,
      userId: current.userId,
      port: port2,
      wake,
    } satisfies HostNote,
    [port2],
  );
  const waitMs = Math.min(data.hostCallMs, Math.max(0, current.deadline - Date.now()));
  const woke = Atomics.wait(wake, 0, 0, waitMs);
  const answer = receiveMessageOnPort(port1)?.message as HostAnswer | undefined;
  port1.close();
  if (!answer) throw new Error(`host ${op}: no answer within ${waitMs} ms (${woke})`);
  if (answer.error !== undefined) throw new Error(`host ${op}: ${answer.error}`);
  return answer;
}

type HostFunction = (...a: bigint[]) => unknown;

/** The module's imports: Extism's kernel of `host`, the gateway's functions its grants allow, WASI. */
function hostFunctions(host: ExtismHost): Record<string, Record<string, unknown>> {
  const text = (at: bigint) => host.text(at);
  const user: Record<string, HostFunction> = {
    // The plugin's own flags: no grant needed. 1 when on, 0 when off or unknown.
    pgw_flag: (name) =>
      Object.hasOwn(flagValues(), text(name)) && flagValues()[text(name)] ? 1 : 0,
  };
  if (grants.has('publish')) {
    user.pgw_publish = (at) => {
      const event = JSON.parse(text(at)) as Omit<DomainEvent, 'source'>;
      if (!data.publish.some((p) => matchesEventPattern(String(event?.type), p))) {
        throw new Error(`may not publish "${String(event?.type)}" (permissions.events.publish)`);
      }
      note({ pgw: 'publish', event: { ...event, source: data.name } });
    };
  }
  if (grants.has('call')) user.pgw_call = (at) => host.store(ask('call', text(at)).value!);
  if (grants.has('fetch')) user.pgw_fetch = (at) => host.store(ask('fetch', text(at)).value!);
  if (grants.has('stream')) {
    // A task thread serves no stream: its calls are answered STREAM_NONE.
    user.pgw_stream_head = (at, len) => streams?.head(BigInt(at), BigInt(len)) ?? STREAM_NONE;
    user.pgw_stream_write = (at, len) => streams?.write(BigInt(at), BigInt(len)) ?? STREAM_NONE;
  }
  if (grants.has('kv')) {
    user.pgw_kv_get = (key) => {
      const { value } = ask('kv_get', [text(key)]);
      return value === undefined ? 0n : host.store(value);
    };
    user.pgw_kv_set = (key, value) => void ask('kv_set', [text(key), text(value)]);
    user.pgw_kv_delete = (key) => void ask('kv_delete', [text(key)]);
  }
  wasiOutput = wasiImports({
    memory: () => memory,
    log: (level, line) => log(level)(line),
    deadline: () => current.deadline,
    exited: () => void (exited = true),
  });
  return {
    [EXTISM_USER]: user,
    [WASI_MODULE]: wasiOutput.imports[WASI_MODULE]!,
    [EXTISM_ENV]: {
      ...host.env(),
      // Imported by the Go and Rust PDKs: trace lines are dropped in the plugin.
      get_log_level: () => LOG_LEVEL_DEBUG,
      log_trace: (at: bigint) => log('debug')(text(at)),
    },
    env: {
      abort: () => {
        throw new Error('the plugin aborted (AssemblyScript abort())');
      },
    },
  };
}

/** Extism's log levels run trace 0 to error 4: the PDKs skip lines below the level answered. */
const LOG_LEVEL_DEBUG = 1;
/** Set by WASI `proc_exit` (a Go panic ends in it): the instance is replaced before its next call. */
let exited = false;
/** The module is a WASI reactor: a language runtime lives in its memory. */
let reactor = false;

/** The DOM's WebAssembly types are not in this project's lib: the calls used, typed by hand. */
interface WasmEngine {
  compile(bytes: Uint8Array): Promise<object>;
  instantiate(module: object, imports: object): Promise<{ exports: Record<string, unknown> }>;
}
let compiled: object | undefined;
/** The module's stdout and stderr, flushed after each call. */
let wasiOutput: Wasi | undefined;

let host: ExtismHost;
let moduleExports: Record<string, unknown> = {};
let memory: { buffer: ArrayBuffer } | undefined;
const memoryBytes = () => memory?.buffer.byteLength ?? 0;
let exportsOf = new Set<string>();
let booted = false;
let initFailure: TaskFailure | undefined;
const ready: Promise<void> = boot().then(
  () => void (booted = true),
  (error: unknown) => void (initFailure = failure('init', error)),
);

async function boot(): Promise<void> {
  await hostReady;
  await instantiate();
  if (exportsOf.has('init')) await invoke('init', '');
  reportMemory();
  setInterval(reportMemory, data.memoryReportMs).unref();
}

/**
 * A new instance of the module. A WASI reactor (Go's `-buildmode=c-shared`) starts its runtime in
 * `_initialize`, which Extism calls only with its own WASI: the harness calls it, once.
 */
async function instantiate(): Promise<void> {
  exited = false;
  // Compiled once: a module that keeps exiting costs an instantiation per request, not a compilation.
  const engine = (globalThis as unknown as { WebAssembly: WasmEngine }).WebAssembly;
  compiled ??= await engine.compile(data.wasm);
  host = new ExtismHost({
    config: data.config,
    log: (level, line) => log(level)(line),
    capBytes: data.memoryCapBytes,
    blocksCapBytes: data.blocksCapBytes,
    moduleBytes: memoryBytes,
  });
  const instance = await engine.instantiate(compiled, hostFunctions(host));
  moduleExports = instance.exports;
  memory = instance.exports.memory as { buffer: ArrayBuffer } | undefined;
  exportsOf = new Set(Object.keys(instance.exports));
  if (!exportsOf.has('handle') && data.routes.length > 0) {
    throw new Error('the module exports no "handle" function (docs/wasm-plugins.md)');
  }
  // A Haskell module starts its runtime here, as Extism's own hosts do.
  if (typeof moduleExports.hs_init === 'function') (moduleExports.hs_init as () => void)();
  reactor = typeof instance.exports._initialize === 'function';
  if (reactor) (instance.exports._initialize as () => void)();
}

/** After `proc_exit` the module's runtime is gone: a fresh instance, its `init` run again. */
async function restart(): Promise<void> {
  await instantiate();
  if (exportsOf.has('init')) host.call(moduleExports.init as () => unknown, '');
}

/** In a live thread: the streamed responses it serves, one call each (`stream-call.ts`). */
const streams =
  data.livePort &&
  serveStreams(
    data,
    () => memory?.buffer,
    async ({ r, tp, f }, input, deadline) => {
      await ready;
      if (initFailure) throw new Error(initFailure.message);
      // A request handler's: its flag values (`pgw_flag`) and its trace (its log lines name the hop).
      return invoke('handle', input, { id: r.id, userId: r.userId, deadline, flags: f, tp });
    },
  );
delete data.livePort;

/** The instance being replaced (after `proc_exit` or a trap in a language runtime): calls wait for it. */
let restarting: Promise<void> | undefined;

/**
 * Calls an export with `input` for the request or event `on`; its output as text (empty when it set
 * none). Synchronous, as the module's code is, unless the instance is being replaced; calls never
 * overlap (the kernel's call state is the instance's). The kernel's blocks are dropped after each call.
 */
function invoke(
  name: string,
  input: string,
  on: typeof current = current,
): string | Promise<string> {
  if (restarting) return restarting.then(() => invoke(name, input, on));
  current = on;
  try {
    return host.call(moduleExports[name] as () => unknown, input) ?? '';
  } catch (error) {
    // A trap inside a language runtime (Go's) leaves its state unknown: the instance is replaced.
    if (reactor && ((error as Error)?.name === 'RuntimeError' || error instanceof RangeError)) {
      exited = true;
    }
    throw error instanceof WasiExit ? new Error(error.message) : error;
  } finally {
    wasiOutput?.flush();
    current = { deadline: Infinity };
    if (exited) {
      log('warn')('the module called proc_exit: starting it afresh');
      restarting = restart().then(
        () => void (restarting = undefined),
        (error: unknown) => {
          restarting = undefined;
          log('error')(`the module could not be started afresh: ${describe(error)}`);
        },
      );
    }
  }
}

async function answerHealth(seq: number): Promise<void> {
  await ready;
  const status: HealthStatus = initFailure
    ? { status: 'unhealthy', details: { error: initFailure.message } }
    : await health();
  note({ pgw: 'health', seq, status });
}

function reportMemory(): void {
  const { heapUsed, external } = process.memoryUsage();
  note({ pgw: 'heap', used: heapUsed, external });
}

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  try {
    await ready;
    if (booted && exportsOf.has('stop')) await invoke('stop', '');
    note({ pgw: 'stopped' });
  } catch (error) {
    note({ pgw: 'stopped', error: describe(error) });
  }
}

/**
 * One task; one at a time reaches the module (its calls are synchronous). A request to a booted
 * instance is answered synchronously: no promise, so its answer leaves in this turn of the loop.
 */
function run(task: Task): TaskResult | Promise<TaskResult> {
  if (!booted) return ready.then(() => initFailure ?? run(task));
  if (task.d <= Date.now()) return { __pgw: 'timeout', message: 'deadline passed' };
  Atomics.store(data.slots, task.s, threadId);
  const done = () => Atomics.store(data.slots, task.s, -threadId);
  let result: TaskResult | Promise<TaskResult>;
  try {
    result = perform(task);
  } catch (error) {
    done();
    return failure('threw', error);
  }
  if (!isThenable<TaskResult>(result)) {
    done();
    return result;
  }
  return Promise.resolve(result)
    .catch((error: unknown) => failure('threw', error))
    .finally(done);
}

const runner = threadRunner(run, data.concurrency, note);

/** Piscina calls this for every task: one request, or the requests of one tick of the host (ADR 0300). */
export default runner.piscina;

/** The module's answer to a request, as the host takes it. */
const replyOf = (key: string) => (body: string) =>
  checkReply(JSON.parse(body) as never, key, data.maxResponseBytes);

function perform(task: Task): TaskResult | Promise<TaskResult> {
  switch (task.t) {
    case 'req': {
      const req = task.r;
      req.params ??= {};
      req.query ??= {};
      const on = { id: req.id, userId: req.userId, deadline: task.d, flags: task.f, tp: task.tp };
      const body = invoke('handle', JSON.stringify({ key: task.k, request: req }), on);
      return typeof body === 'string' ? replyOf(task.k)(body) : body.then(replyOf(task.k));
    }
    case 'evt': {
      if (!exportsOf.has('handle_event')) return null;
      const on = { id: task.e.id, userId: task.e.userId, deadline: task.d };
      const done = invoke('handle_event', JSON.stringify(task.e), on);
      return typeof done === 'string' ? null : done.then(() => null);
    }
    case 'health':
      return health();
    case 'boot':
      return health().then((status): BootReport => ({
        routes: data.routes,
        handlesEvents: exportsOf.has('handle_event'),
        health: status,
      }));
  }
}

async function health(): Promise<HealthStatus> {
  if (!exportsOf.has('health_check')) return { status: 'healthy' };
  try {
    const status = JSON.parse(await invoke('health_check', '')) as HealthStatus;
    return ['healthy', 'degraded', 'unhealthy'].includes(status?.status)
      ? status
      : {
          status: 'unhealthy',
          details: { error: `health_check returned ${JSON.stringify(status)}` },
        };
  } catch (error) {
    return { status: 'unhealthy', details: { error: describe(error) } };
  }
}
