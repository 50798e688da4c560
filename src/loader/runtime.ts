/**
 * The runtime contract: what the gateway needs from whatever runs a plugin instance
 * (worker threads now; WebAssembly and remote gateways implement the same).
 * @module
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { diagnoseLoadFailure } from './load-diagnosis.js';
import type { ContentCheck } from './content-check.js';
import type { Manifest } from '../manifest/manifest.js';
import type {
  DomainEvent,
  HealthStatus,
  PluginRequest,
  PluginResponse,
  ServiceRequest,
  StreamSettings,
  WebSocketSettings,
} from '../shared/types.js';
import type { LogLevel } from '../shared/logger.js';
import type { HostLimits } from '../shared/host-limits.js';
import { PluginBootTimeoutError, PluginLoadError } from '../errors.js';
import { isTaskFailure, type TaskFailure } from '../shared/task-failure.js';
import type { REQUEST_TRACE, RequestTrace } from '../shared/trace-context.js';

/** What a runtime answers to a `boot` task: the routes its code defines, and its first health. */
export interface BootReport {
  routes: string[];
  handlesEvents: boolean;
  health: HealthStatus;
}

/** What a task resolves with. */
export type TaskResult = PluginResponse | BootReport | HealthStatus | null | TaskFailure;

/** Task input without the slot and deadline, which the runtime assigns. */
export type TaskInput =
  | {
      t: 'req';
      k: string;
      r: PluginRequest;
      /** W3C `traceparent` of this attempt, while tracing: the plugin's `ctx.trace`, a peer's header. */
      tp?: string;
      /** The flag values evaluated for this request (rules, OpenFeature); absent when they are the static ones. */
      f?: Record<string, boolean>;
      /** The request's span, host side only (a symbol key: never copied to a thread or a peer). */
      [REQUEST_TRACE]?: RequestTrace;
    }
  | { t: 'evt'; e: DomainEvent }
  | { t: 'boot' }
  | { t: 'health' };

/** Why a thread or process is ended when its `onLog` answers false. */
export const LOG_FLOOD =
  'log flood: more log lines in one second than the gateway accepts (limits.logFloodLinesPerSecond)';

/** What a runtime reports to its owner. */
export interface RuntimeHooks {
  /** A thread died on its own (exit, uncaught error, out of memory). */
  onCrash(reason: string): void;
  /**
   * A log line from the plugin. `false`: the plugin sends more lines than the host accepts at all
   * (`limits.logFloodLinesPerSecond`); the runtime ends the thread or process that sent it, as a crash.
   */
  onLog(
    level: LogLevel,
    msg: string,
    fields: Record<string, unknown> | undefined,
    requestId: string | undefined,
    /** The request's `traceparent` (checked as one), while the host traces. */
    traceparent?: string,
  ): boolean;
  /** The plugin published an event; the host checks `permissions.events.publish` (the thread's check is a courtesy). */
  onPublish(event: DomainEvent): void;
  /** The plugin called a service with `ctx.call()`; its permission is the host's to check. */
  onCall(
    service: string,
    request: ServiceRequest,
    parent: { requestId?: string; userId?: PluginRequest['userId'] },
  ): Promise<PluginResponse>;
  /** A line the plugin wrote to its stdout or stderr (captured, never written to the host's own). */
  onOutput(stream: 'stdout' | 'stderr', line: string): void;
  /** The plugin's side sent something malformed or not permitted; it was refused (`count` so far). */
  onViolation(reason: string, count: number): void;
  /** Threads that did not end within the stop budget: left running, unreferenced. */
  onAbandoned(threadIds: number[], reason: string): void;
}

/** Everything a runtime needs to start a plugin instance. */
export interface RuntimeSpec {
  manifest: Manifest;
  /** Absolute path of the entry module. */
  mainPath: string;
  /** What the threads import, when not `mainPath`'s `file:` URL (a transpiled TypeScript entry). */
  mainUrl?: string;
  /** The plugin's folder: what its threads may read. */
  pluginDir: string;
  /**
   * A native plugin's command line (`runtime.command`, its program resolved to a real path): the
   * process runtime runs it in place of its Node harness.
   */
  command?: readonly string[];
  /** Unique instance id, also used to name its control channel. */
  instanceId: string;
  flags: Record<string, boolean>;
  settings: Record<string, unknown>;
  idleTimeoutMs: number;
  threadConcurrency: number;
  maxInFlight: number;
  timeoutGraceMs: number;
  /** Largest response, serialised, that the plugin may hand the host. */
  maxResponseBytes: number;
  /** The ceilings the host sets on what it does for this instance (fetches, key/value store, logs). */
  limits: Readonly<HostLimits>;
  /**
   * The folder's hash recorded at load (`sha256-…`): every thread or process is held before it imports
   * the plugin until the folder still hashes to it (`content-check.ts`). Absent: not checked.
   */
  contentHash?: string;
  /**
   * State of the instance that outlives one runtime of it (a lazy plugin put to sleep gets a fresh
   * runtime; its key/value store stays): `make` runs at the first ask, the same value comes after.
   * Absent: made with each runtime.
   */
  keep?<T>(what: string, make: () => T): T;
}

/** Live figures of a runtime. */
export interface RuntimeStats {
  threads: number;
  /** Mean event-loop utilisation of live threads, 0..1. */
  utilization: number;
  heapUsedBytes: number;
  inFlight: number;
  /** Messages and results from the plugin's side that were refused as malformed or not permitted. */
  violations: number;
  /** Open live connections (WebSockets) the runtime holds. */
  connections?: number;
}

/** A live message's payload: text, or bytes. */
export type LiveData = string | Uint8Array;

/** The gateway's side of one live connection: what the plugin's code may ask of it. */
export interface LivePeer {
  send(data: LiveData): void;
  close(code: number, reason: string): void;
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
  /** To the plugin's other connections subscribed to `topic`. */
  publish(topic: string, data: LiveData): void;
  /** The plugin's handler of the connection's last open or message settled. */
  handled(): void;
  /**
   * The way to the plugin is full (a process's channel holds too much unread): stop reading the
   * client while `held`, whatever its own credit. The host's pacing, never the client's fault.
   */
  hold(held: boolean): void;
}

/** The runtime's side of one live connection: what the gateway tells the plugin. */
export interface LiveLink {
  message(data: LiveData): void;
  /** The connection ended (`code` as the client or the gateway closed it); the link is spent. */
  closed(code: number, reason: string): void;
}

/** The gateway's side of one streamed response: what the plugin's thread produces. */
export interface StreamSink {
  /** The handler answered: status and headers (before any chunk). */
  head(statusCode: number, headers: Record<string, string>): void;
  chunk(data: LiveData): void;
  /** The body ended; `error` when the plugin failed or the stream was cut. */
  end(error?: string): void;
}

/** The runtime's side of one streamed response. */
export interface StreamLink {
  /**
   * The gateway took one chunk: the plugin may produce one more. `returned`: the buffers of byte
   * chunks the gateway has written to the client and holds no more, given back to the runtime that
   * produced them to fill again (one that does not reuse buffers ignores them).
   */
  more(returned?: ArrayBuffer[]): void;
  /** The client went away or a deadline passed: the plugin's body is returned (closed). */
  cancel(): void;
}

/**
 * A streamed request body as a runtime reads it: one chunk per `next()`, read from the client only
 * then. Never returned by the runtime (the response still goes out on the same socket). Each chunk
 * is the runtime's alone, viewing the whole of its `ArrayBuffer`: it may be transferred, not copied.
 */
export interface RequestBodySource {
  next(): Promise<IteratorResult<Uint8Array, unknown>>;
}

/** What a stream's or a WebSocket's handlers are given besides the request: a `req` task's `tp` and `f`. */
export interface StreamContext {
  /** W3C `traceparent` of the stream's hop, while tracing. */
  tp?: string;
  /** The flag values evaluated for this request; absent when they are the static ones. */
  f?: Record<string, boolean>;
}

/** Where a runtime that serves live connections takes them (`PluginRuntime.live`). */
export interface LiveChannel {
  /**
   * Hands a new connection to the plugin's `websockets[key]` handlers. Absent where the runtime holds
   * no WebSockets; where a runtime cannot serve them (wasm, a native `process` plugin), a manifest
   * declaring one is refused at load.
   */
  open?(
    peer: LivePeer,
    key: string,
    request: PluginRequest,
    /** The endpoint's `websocket` settings, for a runtime that does not hold the plugin (a remote one). */
    settings?: WebSocketSettings,
    /** The upgrade's trace context and flag values, given to the handlers' `ctx`. */
    context?: StreamContext,
  ): LiveLink;
  /**
   * Why `open()` could not carry this request (a remote instance: its envelope would not fit the
   * owner's header limit), asked before the client's upgrade is accepted; `undefined` when it can.
   */
  refuseOpen?(key: string, request: PluginRequest): string | undefined;
  /**
   * Runs the plugin's `routes[key]` for a streamed response; with `body`, its `req.body` is that
   * streamed request body, read as the handler reads it.
   */
  stream(
    sink: StreamSink,
    key: string,
    request: PluginRequest,
    body?: RequestBodySource,
    /** The endpoint's `stream` settings, for a runtime that does not hold the plugin (a remote one). */
    settings?: StreamSettings,
    /** The request's trace context and flag values, as its task would carry them. */
    context?: StreamContext,
  ): StreamLink;
  /**
   * Streams one endpoint may hold open at once on this instance when its `stream.max_connections` is
   * not set; absent: no such bound (the runtime holds every stream at a window of chunks).
   */
  readonly defaultMaxStreams?: number;
  /**
   * Closes every open connection with `code` (their `close` handlers run as for any close) and cuts
   * every stream, leaving the thread up; new connections are still taken.
   */
  closeAll(code: number, reason: string): void;
  /**
   * Starts the live side now rather than with the first connection, and resolves once it serves, with
   * its plugin's `healthCheck()` there (`undefined`: no answer within `timeoutMs`). Absent where the
   * live side is up whenever the runtime is (a process) or starts per stream (wasm).
   */
  warm?(timeoutMs: number): Promise<HealthStatus | undefined>;
}

/** What a caller of {@link PluginRuntime.runThen} makes of a task's result. */
export type ResultThen<T> = (result: TaskResult) => T | PromiseLike<T>;

/** One running plugin instance. */
export interface PluginRuntime {
  /** Runs one task; never rejects: failures resolve as `TaskFailure` values. */
  run(task: TaskInput, timeoutMs: number): Promise<TaskResult>;
  /**
   * {@link run}, its result handed to `then` in the step that settles the task: the promise settles
   * as `then` returns or throws, one promise step fewer than `run(...).then(then)`. Absent where a
   * runtime has no such step of its own (the caller then chains `run`).
   */
  runThen?<T>(task: TaskInput, timeoutMs: number, then: ResultThen<T>): Promise<T>;
  /**
   * Starts one thread and checks that the plugin initialises.
   * @throws {PluginBootTimeoutError} when `initialize()`/`start()` take longer than `timeoutMs`.
   * @throws {PluginLoadError} when they throw (the plugin's own error is the `cause`).
   */
  boot(timeoutMs: number): Promise<BootReport>;
  /** Resolves when no request is in flight, or after `timeoutMs`. */
  drain(timeoutMs: number): Promise<void>;
  /**
   * Asks every live thread to run the plugin's `stop()`, then ends all threads; resolves within
   * `timeoutMs` whatever the threads do (those that would not end are reported through `onAbandoned`).
   */
  close(timeoutMs: number): Promise<void>;
  stats(): RuntimeStats;
  /**
   * Runs the plugin's `healthCheck()` in every live thread; a thread that does not answer within
   * `timeoutMs` counts as unhealthy. `undefined` when no thread is alive (an idle plugin is not woken).
   */
  checkHealth(timeoutMs: number): Promise<HealthStatus | undefined>;
  /**
   * New static flag values (`setFlag()`): every live thread or process, and every one started later,
   * sees them from its next task on, without a restart.
   */
  setFlags(flags: Readonly<Record<string, boolean>>): void;
  /** The runtime's live channel: streams and WebSockets (worker and process), streams (wasm). */
  live?(): LiveChannel;
  /**
   * True when the runtime hashes the plugin's folder itself before plugin code starts in a new
   * process, and `boot` then rejects with `PluginContentChangedError`: the supervisor does not hash
   * it once more before the boot (ADR 0230).
   */
  readonly checksContentAtBoot?: boolean;
}

/**
 * Another harness for the same threads (the wasm runtime's): the host side — pool, slots, deadlines,
 * checks of every note and result — stays this runtime's.
 */
export interface HarnessOverride {
  /** The module each thread runs instead of the worker harness. */
  url: URL;
  /** Added to the threads' `workerData`. */
  data: Record<string, unknown>;
  /** Takes the harness's own notes; returns false for the ones this runtime is to check and act on. */
  onNote(message: unknown): boolean;
  /** The harness answers the worker harness's batches of requests (`thread-batch.ts`, ADR 0300). */
  batches?: boolean;
  /** The harness takes a lone task on its thread's own port (`ThreadRunner.port`, ADR 0370). */
  portTasks?: boolean;
  /** Messages a thread may hold at once; the host keeps the other tasks until one is answered (ADR 0345). */
  messagesPerThread?: number;
  /** The runtime's live channel, made on first use in place of the worker's live thread. */
  live?(parts: LiveParts): HeldLiveChannel;
}

/** What a runtime's live channel is made of: the runtime's own, shared with its task threads. */
export interface LiveParts {
  flagCells: Int32Array;
  violation(reason: string): void;
  content: ContentCheck;
}

/** A live channel as its runtime holds it: counted in its stats, closed with it. */
export interface HeldLiveChannel extends LiveChannel {
  /** Open connections and streams. */
  readonly connections: number;
  /** Closes every connection (1001) and ends the channel's threads within `timeoutMs`. */
  close(timeoutMs: number): Promise<void>;
}

/**
 * What a runtime's `boot()` resolves with, from the answer to its `boot` task.
 * @throws {PluginBootTimeoutError} when the task timed out (`initialize()`/`start()` too slow).
 * @throws {PluginCodeError} when its code would not load (syntax, imports, module type, no plugin
 * exported), located in `mainPath` or the files it imports.
 * @throws {PluginLoadError} when the plugin failed to start; its own error is the `cause`.
 */
export async function bootReportOf(
  result: TaskResult,
  plugin: string,
  timeoutMs: number,
  mainPath: string,
): Promise<BootReport> {
  if (!isTaskFailure(result)) return result as BootReport;
  if (result.__pgw === 'timeout') {
    throw new PluginBootTimeoutError(
      `plugin "${plugin}" did not finish initialize()/start() within ${timeoutMs} ms`,
      { plugin },
    );
  }
  const located = await diagnoseLoadFailure(result, mainPath, plugin);
  if (located) throw located;
  const cause = new Error(result.message);
  if (result.stack) cause.stack = result.stack;
  const at = ownFrame(result.stack, path.dirname(mainPath));
  throw new PluginLoadError(`plugin "${plugin}" failed to start: ${at}${result.message}`, {
    cause,
    plugin,
  });
}

/** `file:line:column: ` of the first frame of `stack` in the plugin's folder, or nothing. */
function ownFrame(stack: string | undefined, dir: string): string {
  for (const line of (stack ?? '').split('\n', 64)) {
    const frame = /^\s+at (?:.*\()?(?:file:\/\/)?(\/[^\s():]+):(\d+):(\d+)\)?$/.exec(line);
    if (!frame) continue;
    const relative = path.relative(dir, frame[1]!);
    if (relative.startsWith('..') || relative.split(path.sep).includes('node_modules')) continue;
    return `${frame[1]}:${frame[2]}:${frame[3]}: `;
  }
  return '';
}

/** What every runtime's harness is told of its plugin at start, drawn from its spec. */
export function specHarnessFields(spec: RuntimeSpec) {
  const { manifest } = spec;
  return {
    main: spec.mainUrl ?? pathToFileURL(spec.mainPath).href,
    name: manifest.name,
    version: manifest.version,
    flags: spec.flags,
    settings: spec.settings,
    publish: [...manifest.permissions.events.publish],
    network: [...manifest.permissions.network],
    maxResponseBytes: spec.maxResponseBytes,
    logLinesPerSecond: spec.limits.logLinesPerSecond,
  };
}
