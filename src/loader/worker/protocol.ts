/**
 * What crosses the thread boundary between the host and the harness in a plugin's worker.
 * Data (requests, events) goes through Piscina tasks; notes (logs, publish, calls, heap, stop) go from
 * the thread to the host on the worker's parent port, and control (start, stop, abandon, health) from
 * the host to that one thread on the same port: no other thread, and no other plugin, can post on it.
 * Everything a thread sends is checked on the host (`note-check.ts`) before it is used.
 * @module
 */
import type { MessagePort } from 'node:worker_threads';
import type {
  DomainEvent,
  HealthStatus,
  PluginRequest,
  ServiceRequest,
} from '../../shared/types.js';
import type { LogLevel } from '../../shared/logger.js';
import type { FetchRequest } from '../host-fetch.js';

export type { TaskResult } from '../runtime.js';

/** Data handed to every thread of a plugin instance when it starts. */
export interface HarnessData {
  /** `file:` URL of the plugin's entry module. */
  main: string;
  name: string;
  version: string;
  flags: Record<string, boolean>;
  settings: Record<string, unknown>;
  /** Event patterns the plugin may publish (checked here for a clear error, and again on the host). */
  publish: string[];
  /**
   * Slot table: a thread writes its id into a request's slot while plugin code works on it, and
   * `-threadId` once it is done; 0 means no plugin code has seen the request.
   */
  slots: Int32Array;
  /**
   * Live flag values, shared with the host: `[version, ...values]` in the order of `flags`' keys (1 on,
   * 0 off). The host writes the values, then bumps the version; a thread reads them before its next task.
   */
  flagCells: Int32Array;
  /** `permissions.network`: the hosts the thread's network guard admits. */
  network: string[];
  /** Largest serialised response the harness hands to the host. */
  /** `ctx.log` lines a second a thread sends at most (`limits.logLinesPerSecond`). */
  logLinesPerSecond: number;
  maxResponseBytes: number;
  /** Tasks the thread works on at once (`threadConcurrency`); more wait in the thread. */
  concurrency: number;
  /** Milliseconds between two memory notes. */
  memoryReportMs: number;
  /** In a plugin's live thread only: the port its connections' frames travel on (`live-harness.ts`). */
  livePort?: MessagePort;
}

/**
 * A Piscina task: `s` is the request's slot, `d` its deadline (epoch ms); `q`, in a batch only, the
 * dispatch's number, which a `replies` note repeats so that the host never takes an answer meant for an
 * earlier holder of the slot.
 */
export type Task = (
  | {
      t: 'req';
      k: string;
      r: PluginRequest;
      tp?: string;
      s: number;
      d: number;
      f?: Record<string, boolean>;
    }
  | { t: 'evt'; e: DomainEvent; s: number; d: number }
  | { t: 'boot'; s: number; d: number }
  | { t: 'health'; s: number; d: number }
) & { q?: number };

/** Tasks the host issued in one tick, for one thread, in one message (`thread-batch.ts`). */
export interface TaskBatch {
  t: 'batch';
  b: Task[];
}

/** Thread to host, through the worker's parent port. */
export type WorkerNote =
  | {
      pgw: 'log';
      level: LogLevel;
      msg: string;
      fields?: Record<string, unknown>;
      requestId?: string;
      /** The `traceparent` of the request the line was written for (`ctx.trace`). */
      tp?: string;
    }
  | { pgw: 'publish'; event: DomainEvent }
  /** `ctx.call()`: the host answers a `PluginResponse` on `port`. */
  | {
      pgw: 'call';
      service: string;
      request: ServiceRequest;
      requestId?: string;
      userId?: PluginRequest['userId'];
      port: MessagePort;
    }
  /** `ctx.fetch()`: the host fetches a granted URL and answers a `FetchReply` on `port`. */
  | { pgw: 'fetch'; request: FetchRequest; port: MessagePort }
  /** Memory of the thread: V8 heap, and what lives outside it (ArrayBuffers, Buffers, addons). */
  | { pgw: 'heap'; used: number; external: number }
  | { pgw: 'stopped'; error?: string }
  | { pgw: 'health'; seq: number; status: HealthStatus }
  | { pgw: 'exiting'; code: number }
  | { pgw: 'pong'; seq: number }
  /** Answers to batched tasks, three entries each: slot, the task's `q`, its result. */
  | { pgw: 'replies'; r: unknown[] }
  /** The answer to a task sent on the parent port (ADR 0370): slot, `q`, result; settled at once. */
  | { pgw: 'reply'; r: unknown[] };

/** Host to one thread, through its parent port: start the plugin, stop it, give up on a request, check health. */
export type ControlMessage =
  | { ctl: 'start' }
  | { ctl: 'stop' }
  | { ctl: 'abandon'; slot: number }
  | { ctl: 'health'; seq: number }
  | { ctl: 'ping'; seq: number }
  /** A task alone in flight, sent here rather than through Piscina (ADR 0370); answered as a `reply`. */
  | { ctl: 'task'; task: Task };
