/**
 * The harness that runs inside each worker thread of a plugin: it imports the plugin, runs its
 * lifecycle hooks, and serves the tasks Piscina hands it. Everything the plugin does wrong is caught
 * here and answered as a value; only a dying thread reaches the host as a crash.
 * @module
 */
import { MessageChannel, parentPort, threadId, workerData } from 'node:worker_threads';
import type {
  DomainEvent,
  HealthStatus,
  PluginRequest,
  PluginResponse,
  ServiceRequest,
} from '../../shared/types.js';
import { EventNotPermittedError, InvalidArgumentError } from '../../errors.js';
import {
  definePlugin,
  isPluginDefinition,
  type PluginContext,
  type PluginDefinition,
  type PluginLogger,
} from '../../shared/plugin-definition.js';
import { matchesEventPattern } from '../../shared/event-pattern.js';
import type { LogLevel } from '../../shared/logger.js';
import type { TaskFailure } from '../../shared/task-failure.js';
import type { BootReport, TaskResult } from '../runtime.js';
import type { ControlMessage, HarnessData, Task, WorkerNote } from './protocol.js';
import { lockdown } from './lockdown.js';
import { parseNetworkGrants } from '../../shared/network-allowlist.js';
import { checkHealth, checkReply } from './reply.js';

const data = workerData as HarnessData;
// Before anything of the plugin's runs (its module is imported by boot(), further down).
lockdown(parseNetworkGrants(data.network));
const port = parentPort!;

function note(message: WorkerNote): void {
  try {
    port.postMessage(message);
  } catch {
    // Fields that cannot be cloned: send the line without them rather than lose it.
    if (message.pgw === 'log')
      port.postMessage({ ...message, fields: { unserializable: String(message.fields) } });
  }
}

/**
 * Host-to-thread control arrives on this thread's parent port, which only the host holds. Piscina's
 * own listener there only takes its start-up message, which it has had by the time this module runs
 * (it is loading it): from now on every message is the host's control.
 */
port.removeAllListeners('message');
let startPlugin: () => void;
/** The host says "start" once it has taken over this thread's stdout and stderr. */
const hostReady = new Promise<void>((resolve) => (startPlugin = resolve));
port.on('message', (message: ControlMessage) => {
  switch (message?.ctl) {
    case 'start':
      return startPlugin();
    case 'stop':
      return void stop();
    case 'abandon':
      return waiting.get(message.slot)?.(TIMEOUT);
    case 'health':
      return void answerHealth(message.seq);
  }
});

process.on('exit', (code) => note({ pgw: 'exiting', code }));

class Logger implements PluginLogger {
  constructor(readonly requestId?: string) {}
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
    note({ pgw: 'log', level, msg: String(msg), fields, requestId: this.requestId });
  }
}

const flags = Object.freeze({ ...data.flags });
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

/** `ctx.call()`: the host checks the manifest's `dependencies` and answers on a port of this call's own. */
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
  const { port1, port2 } = new MessageChannel();
  return new Promise<PluginResponse>((resolve, reject) => {
    port1.once('message', (response: PluginResponse) => {
      port1.close();
      resolve(response);
    });
    try {
      port.postMessage(
        { pgw: 'call', service, request, requestId, userId, port: port2 } satisfies WorkerNote,
        [port2],
      );
    } catch (error) {
      port1.close();
      reject(error instanceof Error ? error : new Error(String(error)));
    }
  });
}

/** The `ctx` of one request or event; its logger is made only when the plugin logs. */
class RequestContext implements PluginContext {
  #log: Logger | undefined;
  constructor(
    readonly requestId?: string,
    readonly userId?: PluginRequest['userId'],
    /** Serving a request: its calls act for its caller. An event's id is its publisher's choice. */
    private readonly serving = false,
  ) {}
  get name() {
    return data.name;
  }
  get version() {
    return data.version;
  }
  get flags() {
    return flags;
  }
  get config() {
    return settings;
  }
  get log(): PluginLogger {
    return (this.#log ??= new Logger(this.requestId));
  }
  publish(event: Omit<DomainEvent, 'source'>): void {
    publish(event);
  }
  call(service: string, request: ServiceRequest): Promise<PluginResponse> {
    return call(service, request, this.serving ? this.requestId : undefined, this.userId);
  }
}

const baseContext = new RequestContext();
let plugin: PluginDefinition = {};
let booted = false;
let initFailure: TaskFailure | undefined;
const ready: Promise<void> = boot().then(
  () => void (booted = true),
  (error: unknown) => void (initFailure = failure('init', error)),
);

async function boot(): Promise<void> {
  await hostReady;
  const mod = (await import(data.main)) as { default?: unknown };
  const exported = mod.default ?? mod;
  plugin = isPluginDefinition(exported) ? exported : definePlugin(exported as PluginDefinition);
  await plugin.initialize?.(
    { name: data.name, version: data.version, flags, settings },
    baseContext,
  );
  await plugin.start?.(baseContext);
  reportMemory();
  setInterval(reportMemory, data.memoryReportMs).unref();
}

/** Tasks whose work has not settled, by slot; the host abandons one when its deadline passes. */
const waiting = new Map<number, (result: TaskResult) => void>();

/** A periodic health check, over the control port so that it never wakes an idle plugin. */
async function answerHealth(seq: number): Promise<void> {
  await ready;
  const status: HealthStatus = initFailure
    ? { status: 'unhealthy', details: { error: initFailure.message } }
    : await health();
  note({ pgw: 'health', seq, status });
}

/** This thread's V8 heap, and its memory outside the heap (ArrayBuffers, Buffers) that the heap limit misses. */
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

function failure(kind: TaskFailure['__pgw'], error: unknown): TaskFailure {
  const e = error instanceof Error ? error : undefined;
  return { __pgw: kind, message: e ? e.message : describe(error), stack: e?.stack };
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

const TIMEOUT: TaskFailure = { __pgw: 'timeout', message: 'deadline passed' };

function isThenable<T>(value: unknown): value is PromiseLike<T> {
  return typeof (value as PromiseLike<T> | null)?.then === 'function';
}

/**
 * Piscina calls this for every task. Synchronous work is answered without a promise or a timer;
 * asynchronous work waits in `waiting` until it settles or the host abandons it.
 */
export default function run(task: Task): TaskResult | Promise<TaskResult> {
  if (!booted) return ready.then(() => initFailure ?? run(task));
  if (task.d <= Date.now()) return TIMEOUT;
  const slot = task.s;
  // From here on plugin code has seen the request: the host must never run it a second time.
  Atomics.store(data.slots, slot, threadId);
  let result: TaskResult | PromiseLike<TaskResult>;
  try {
    result = perform(task);
  } catch (error) {
    result = failure('threw', error);
  }
  if (!isThenable<TaskResult>(result)) {
    Atomics.store(data.slots, slot, -threadId);
    return result;
  }
  const work = result;
  return new Promise<TaskResult>((resolve) => {
    const settle = (value: TaskResult) => {
      if (waiting.get(slot) !== settle) return;
      waiting.delete(slot);
      Atomics.store(data.slots, slot, -threadId);
      resolve(value);
    };
    waiting.set(slot, settle);
    work.then(settle, (error: unknown) => settle(failure('threw', error)));
  });
}

function perform(task: Task): TaskResult | Promise<TaskResult> {
  switch (task.t) {
    case 'req':
      return serve(task.k, task.r);
    case 'evt':
      return deliver(task.e);
    case 'health':
      return health();
    case 'boot':
      return health().then((status): BootReport => ({
        routes: Object.keys(plugin.routes ?? {}),
        handlesEvents: typeof plugin.handleEvent === 'function',
        health: status,
      }));
  }
}

function serve(key: string, req: PluginRequest): TaskResult | Promise<TaskResult> {
  const handler = plugin.routes?.[key];
  if (!handler) {
    return { __pgw: 'no-route', message: `plugin "${data.name}" has no handler for "${key}"` };
  }
  // The host leaves empty params and query out of the message; they are cheaper to make here.
  if (req.params === undefined) req.params = {};
  if (req.query === undefined) req.query = {};
  let res: PluginResponse | void | Promise<PluginResponse | void>;
  try {
    res = handler(req, new RequestContext(req.id, req.userId, true));
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
    await plugin.handleEvent?.(event, new RequestContext(event.id));
    return null;
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
