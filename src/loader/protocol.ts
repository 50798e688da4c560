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
  PluginResponse,
  ServiceRequest,
} from '../core/types.js';

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
}

/** A Piscina task: `s` is the request's slot, `d` its deadline (epoch ms). */
export type Task =
  | { t: 'req'; k: string; r: PluginRequest; s: number; d: number }
  | { t: 'evt'; e: DomainEvent; s: number; d: number }
  | { t: 'boot'; s: number; d: number }
  | { t: 'health'; s: number; d: number };

/** What a thread answers to a `boot` task. */
export interface BootReport {
  routes: string[];
  handlesEvents: boolean;
  health: HealthStatus;
}

/**
 * A task that did not produce a value. The harness answers `threw`, `timeout`, `init`, `bad-response`
 * and `no-route`; the host adds `crash` (the thread died), `terminated` (the host ended the thread
 * because another request on it timed out), `overloaded` (no free request slot) and `unreachable` (a
 * remote instance's gateway could not be reached, or no longer serves it).
 */
export interface TaskFailure {
  __pgw:
    | 'threw'
    | 'timeout'
    | 'init'
    | 'bad-response'
    | 'no-route'
    | 'crash'
    | 'terminated'
    | 'overloaded'
    | 'unreachable';
  message: string;
  stack?: string;
}

/** What a task resolves with. */
export type TaskResult = PluginResponse | BootReport | HealthStatus | null | TaskFailure;

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

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** True for a value the harness returned in place of a result. */
export function isTaskFailure(value: unknown): value is TaskFailure {
  return typeof value === 'object' && value !== null && '__pgw' in value;
}

/** `track.played` against `track.*`, `*` or itself. */
export function matchesEventPattern(type: string, pattern: string): boolean {
  if (pattern === '*' || pattern === type) return true;
  return pattern.endsWith('.*') && type.startsWith(pattern.slice(0, -1));
}

const SEVERITY: Record<HealthStatus['status'], number> = { healthy: 0, degraded: 1, unhealthy: 2 };

/** The worst of several health answers (unhealthy over degraded over healthy). */
export function worstHealth(answers: readonly HealthStatus[]): HealthStatus {
  return answers.reduce((worst, h) => (SEVERITY[h.status] > SEVERITY[worst.status] ? h : worst));
}
