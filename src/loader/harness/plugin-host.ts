/**
 * Serving a plugin, whatever carries the messages: importing its module, running its lifecycle hooks,
 * running one task (route, event, health, boot), checking its reply, its contexts (`ctx.log`,
 * `ctx.publish`, `ctx.call`) and its stop. Both harnesses use it — the worker thread's
 * (`worker/entry.ts`, Piscina and a parent port) and the child process's (`process/entry.ts`, the
 * plugin protocol's frames on fd 3) — and give it a `HarnessTransport`. Everything the plugin does
 * wrong is caught here and answered as a value; only a dying thread or process reaches the host as a
 * crash.
 * @module
 */
import type { FetchReply, FetchRequest } from '../host-fetch.js';
import { fetchThroughHost } from './fetch-through-host.js';
import type {
  DomainEvent,
  HealthStatus,
  PluginRequest,
  PluginResponse,
  ServiceRequest,
} from '../../shared/types.js';
import { EventNotPermittedError, InvalidArgumentError } from '../../errors.js';
import { fileURLToPath } from 'node:url';
import { mapStacksOf } from './mapped-stacks.js';
import { pluginOf } from './plugin-export.js';
import {
  type PluginContext,
  type PluginDefinition,
  type PluginFetchInit,
  type PluginFetchResponse,
  type PluginLogger,
} from '../../shared/plugin-definition.js';
import { matchesEventPattern } from '../../shared/event-pattern.js';
import { parseTraceparent, type PluginTrace } from '../../shared/trace-context.js';
import type { LogLevel } from '../../shared/logger.js';
import { droppedLines, LineBudget } from '../../shared/line-budget.js';
import type { TaskFailure } from '../../shared/task-failure.js';
import type { BootReport, TaskResult } from '../runtime.js';
import type { Task, WorkerNote } from '../worker/protocol.js';
import { checkHealth, checkReply } from '../worker/reply.js';
import type { LiveServing } from '../worker/live-protocol.js';
import { describe, failure, isThenable } from './task-values.js';

/** What the harness knows of the plugin it serves (a subset of the worker's `HarnessData`). */
export interface PluginHostData {
  /** `file:` URL of the plugin's entry module. */
  main: string;
  name: string;
  version: string;
  flags: Record<string, boolean>;
  settings: Record<string, unknown>;
  /** Event patterns the plugin may publish (checked here for a clear error, and again on the host). */
  publish: string[];
  maxResponseBytes: number;
  /** Milliseconds between two memory notes. */
  memoryReportMs: number;
  /** `ctx.log` lines a second this thread or process sends at most (`limits.logLinesPerSecond`). */
  logLinesPerSecond: number;
}

/** A note to the host that needs no reply. */
export type HostNote = Exclude<WorkerNote, { pgw: 'call' | 'fetch' }>;

/** How the harness reaches the host. */
export interface HarnessTransport {
  note(message: HostNote): void;
  /** `ctx.call()`: the host checks the manifest's `dependencies` and answers. */
  call(
    service: string,
    request: ServiceRequest,
    requestId: string | undefined,
    userId: PluginRequest['userId'],
  ): Promise<PluginResponse>;
  /** `ctx.fetch()`: the host fetches a URL its `permissions.network` grants, and replies. */
  fetch(request: FetchRequest): Promise<FetchReply>;
  /** Plugin code is about to see the task in `slot`: from now on the host must never run it again. */
  enter(slot: number): void;
  /** The task in `slot` is answered (or abandoned). */
  leave(slot: number): void;
}

/** One plugin served by a harness. */
export interface PluginHost {
  /** Runs one task; synchronous work is answered without a promise. */
  run(task: Task): TaskResult | Promise<TaskResult>;
  /** Runs the plugin's `stop()` (once), then notes `stopped`. */
  stop(): Promise<void>;
  /** Gives up on the task in `slot`: it is answered as timed out, whatever the plugin does later. */
  abandon(slot: number): void;
  /** A periodic health check from the host; the answer is a `health` note. */
  answerHealth(seq: number): Promise<void>;
  /** New static flag values (`setFlag()`): `ctx.flags` of every task from now on. */
  setFlags(flags: Record<string, boolean>): void;
  /** The plugin once started, for its live connections; `undefined` when it failed to start. */
  live(): Promise<LiveServing | undefined>;
}

const TIMEOUT: TaskFailure = { __pgw: 'timeout', message: 'deadline passed' };

/**
 * Starts serving: the plugin's module is imported once `hostReady` resolves (the host has taken over
 * the harness's output by then), and its `initialize()` and `start()` run.
 */
export function servePlugin(
  data: PluginHostData,
  transport: HarnessTransport,
  hostReady: Promise<void>,
): PluginHost {
  const note = (message: HostNote) => transport.note(message);
  const logBudget = new LineBudget(data.logLinesPerSecond);

  class Logger implements PluginLogger {
    constructor(
      readonly requestId?: string,
      readonly traceparent?: string,
    ) {}
    debug(msg: string, fields?: Record<string, unknown>) {
      this.#log('debug', msg, fields);
    }
    info(msg: string, fields?: Record<string, unknown>) {
      this.#log('info', msg, fields);
    }
    warn(msg: string, fields?: Record<string, unknown>) {
      this.#log('warn', msg, fields);
    }
    error(msg: string, fields?: Record<string, unknown>) {
      this.#log('error', msg, fields);
    }
    #log(level: LogLevel, msg: string, fields?: Record<string, unknown>) {
      const { ok, dropped } = logBudget.take();
      if (dropped > 0) note({ pgw: 'log', level: 'warn', msg: droppedLines(dropped, data) });
      if (!ok) return;
      const line: HostNote = {
        pgw: 'log',
        level,
        msg: String(msg),
        fields,
        requestId: this.requestId,
      };
      if (this.traceparent !== undefined) line.tp = this.traceparent;
      note(line);
    }
  }

  let flags: Readonly<Record<string, boolean>> = Object.freeze({ ...data.flags });
  const settings = Object.freeze({ ...data.settings });

  function publish(event: Omit<DomainEvent, 'source'>): void {
    if (
      typeof event?.type !== 'string' ||
      !data.publish.some((p) => matchesEventPattern(event.type, p))
    ) {
      throw new EventNotPermittedError(
        `plugin "${data.name}" may not publish "${String(event?.type)}": add it to permissions.events.publish in plugin.yaml`,
        { plugin: data.name },
      );
    }
    note({ pgw: 'publish', event: { ...event, source: data.name } });
  }

  function call(
    service: string,
    request: ServiceRequest,
    requestId: string | undefined,
    userId: PluginRequest['userId'],
  ): Promise<PluginResponse> {
    if (
      typeof service !== 'string' ||
      typeof request?.method !== 'string' ||
      typeof request.path !== 'string'
    ) {
      return Promise.reject(
        new InvalidArgumentError(
          'ctx.call(service, { method, path, headers?, body? }) expects a service name and a request',
        ),
      );
    }
    return transport.call(service, request, requestId, userId);
  }

  /** The `ctx` of one request or event; its logger is made only when the plugin logs. */
  class RequestContext implements PluginContext {
    #log: Logger | undefined;
    constructor(
      readonly requestId?: string,
      readonly userId?: PluginRequest['userId'],
      /** Serving a request: its calls act for its caller. An event's id is its publisher's choice. */
      private readonly serving = false,
      /** The gateway's hop span for the request, while the host traces. */
      private readonly traceparent?: string,
      /** The values evaluated for this request (rollout rules, OpenFeature), when not the static ones. */
      private readonly requestFlags?: Readonly<Record<string, boolean>>,
    ) {}
    #trace: PluginTrace | undefined;
    get trace(): PluginTrace | undefined {
      return this.traceparent === undefined
        ? undefined
        : (this.#trace ??= parseTraceparent(this.traceparent));
    }
    get name() {
      return data.name;
    }
    get version() {
      return data.version;
    }
    get flags() {
      return this.requestFlags ?? flags;
    }
    get config() {
      return settings;
    }
    get log(): PluginLogger {
      return (this.#log ??= new Logger(this.requestId, this.traceparent));
    }
    publish(event: Omit<DomainEvent, 'source'>): void {
      publish(event);
    }
    call(service: string, request: ServiceRequest): Promise<PluginResponse> {
      return call(service, request, this.serving ? this.requestId : undefined, this.userId);
    }
    fetch(url: string, init: PluginFetchInit = {}): Promise<PluginFetchResponse> {
      return fetchThroughHost(transport, url, init);
    }
  }

  const baseContext = new RequestContext();
  let plugin: PluginDefinition = {};
  let booted = false;
  let initFailure: TaskFailure | undefined;

  async function boot(): Promise<void> {
    await hostReady;
    const transpiled = data.main.startsWith('data:');
    if (transpiled) mapStacksOf(data.main);
    const mod = (await import(data.main)) as { default?: unknown };
    plugin = pluginOf(mod, transpiled ? 'the TypeScript entry' : fileURLToPath(data.main));
    await plugin.initialize?.(
      { name: data.name, version: data.version, flags, settings },
      baseContext,
    );
    await plugin.start?.(baseContext);
    reportMemory();
    setInterval(reportMemory, data.memoryReportMs).unref();
  }
  const ready: Promise<void> = boot().then(
    () => void (booted = true),
    (error: unknown) => void (initFailure = failure('init', error)),
  );

  /** Tasks whose work has not settled, by slot; the host abandons one when its deadline passes. */
  const waiting = new Map<number, (result: TaskResult) => void>();

  /** Memory of this thread or process: V8 heap, and what lives outside it (ArrayBuffers, Buffers). */
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
      // A plugin that never started has nothing to stop.
      if (booted) await plugin.stop?.(baseContext);
      note({ pgw: 'stopped' });
    } catch (error) {
      note({ pgw: 'stopped', error: describe(error) });
    }
  }

  async function answerHealth(seq: number): Promise<void> {
    await ready;
    const status: HealthStatus = initFailure
      ? { status: 'unhealthy', details: { error: initFailure.message } }
      : await health();
    note({ pgw: 'health', seq, status });
  }

  function run(task: Task): TaskResult | Promise<TaskResult> {
    if (!booted) return ready.then(() => initFailure ?? run(task));
    if (task.d <= Date.now()) return TIMEOUT;
    const slot = task.s;
    transport.enter(slot);
    let result: TaskResult | PromiseLike<TaskResult>;
    try {
      result = perform(task);
    } catch (error) {
      result = failure('threw', error);
    }
    if (!isThenable<TaskResult>(result)) {
      transport.leave(slot);
      return result;
    }
    const work = result;
    return new Promise<TaskResult>((resolve) => {
      const settle = (value: TaskResult) => {
        if (waiting.get(slot) !== settle) return;
        waiting.delete(slot);
        transport.leave(slot);
        resolve(value);
      };
      waiting.set(slot, settle);
      work.then(settle, (error: unknown) => settle(failure('threw', error)));
    });
  }

  function perform(task: Task): TaskResult | Promise<TaskResult> {
    switch (task.t) {
      case 'req':
        return serve(task.k, task.r, task.tp, task.f);
      case 'evt':
        return deliver(task.e);
      case 'health':
        return health();
      case 'boot':
        return health().then((status): BootReport => ({
          routes: [...Object.keys(plugin.routes ?? {}), ...Object.keys(plugin.websockets ?? {})],
          handlesEvents: typeof plugin.handleEvent === 'function',
          health: status,
        }));
    }
  }

  function serve(
    key: string,
    req: PluginRequest,
    traceparent: string | undefined,
    requestFlags: Record<string, boolean> | undefined,
  ): TaskResult | Promise<TaskResult> {
    const handler = plugin.routes?.[key];
    if (!handler) {
      return { __pgw: 'no-route', message: `plugin "${data.name}" has no handler for "${key}"` };
    }
    // The host leaves empty params and query out of the message; they are cheaper to make here.
    if (req.params === undefined) req.params = {};
    if (req.query === undefined) req.query = {};
    let res: PluginResponse | void | Promise<PluginResponse | void>;
    try {
      res = handler(
        req,
        new RequestContext(
          req.id,
          req.userId,
          true,
          traceparent,
          requestFlags && Object.freeze(requestFlags),
        ),
      );
    } catch (error) {
      return failure('threw', error);
    }
    if (isThenable<PluginResponse | void>(res)) {
      return Promise.resolve(res).then(
        (value) => checkReply(value, key, data.maxResponseBytes),
        (error: unknown) => failure('threw', error),
      );
    }
    return checkReply(res, key, data.maxResponseBytes);
  }

  async function deliver(event: DomainEvent): Promise<null | TaskFailure> {
    try {
      return (await plugin.handleEvent?.(event, new RequestContext(event.id)), null);
    } catch (error) {
      return failure('threw', error);
    }
  }

  async function health(): Promise<HealthStatus> {
    try {
      const status = (await plugin.healthCheck?.(baseContext)) ?? { status: 'healthy' };
      return ['healthy', 'degraded', 'unhealthy'].includes(status?.status)
        ? checkHealth(status)
        : {
            status: 'unhealthy',
            details: { error: `healthCheck() returned ${JSON.stringify(status)}` },
          };
    } catch (error) {
      return { status: 'unhealthy', details: { error: describe(error) } };
    }
  }

  return {
    run,
    stop,
    abandon: (slot) => waiting.get(slot)?.(TIMEOUT),
    answerHealth,
    setFlags: (next) => void (flags = Object.freeze({ ...next })),
    live: () =>
      ready.then(() =>
        initFailure
          ? undefined
          : {
              websockets: plugin.websockets ?? {},
              routes: plugin.routes ?? {},
              context: (id, user, tp, f) => new RequestContext(id, user, true, tp, f),
            },
      ),
  };
}
