/**
 * What crosses the thread boundary between the host and the harness in a plugin's worker.
 * Data (requests, events) goes through Piscina tasks; control (logs, stop, crash notes) goes through
 * the worker's parent port (worker to host) and a BroadcastChannel per plugin instance (host to workers).
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

export type { TaskResult } from '../runtime.js';

/** Data handed to every thread of a plugin instance when it starts. */
export interface HarnessData {
  /** `file:` URL of the plugin's entry module. */
  main: string;
  name: string;
  version: string;
  flags: Record<string, boolean>;
  settings: Record<string, unknown>;
  /** Event patterns the plugin may publish. */
  publish: string[];
  /** Slot table: a thread writes its id into a request's slot while it works on it. */
  slots: Int32Array;
  /** BroadcastChannel name for host-to-thread control messages. */
  channel: string;
  /** `permissions.network`: the hosts the thread's network guard admits. */
  network: string[];
}

/** A Piscina task: `s` is the request's slot, `d` its deadline (epoch ms). */
export type Task =
  | { t: 'req'; k: string; r: PluginRequest; s: number; d: number }
  | { t: 'evt'; e: DomainEvent; s: number; d: number }
  | { t: 'boot'; s: number; d: number }
  | { t: 'health'; s: number; d: number };

/** Thread to host, through the worker's parent port. */
export type WorkerNote =
  | {
      pgw: 'log';
      level: LogLevel;
      msg: string;
      fields?: Record<string, unknown>;
      requestId?: string;
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
  | { pgw: 'heap'; used: number }
  | { pgw: 'stopped'; error?: string }
  | { pgw: 'health'; seq: number; status: HealthStatus }
  | { pgw: 'exiting'; code: number };

/** Host to threads, through the BroadcastChannel: stop the plugin; give up on a request past its deadline. */
export type ControlMessage =
  { type: 'stop' } | { type: 'abandon'; slot: number } | { type: 'health'; seq: number };
