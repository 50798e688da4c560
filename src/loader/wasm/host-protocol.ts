/**
 * What a wasm plugin's thread asks of the host for the capabilities its manifest grants (`pgw_call`,
 * `pgw_fetch`, `pgw_kv_*`), and the data its threads start with. The module's host functions are
 * synchronous: the thread posts a `host` note with a port and a shared word, and waits on the word
 * until the host has posted the answer on the port.
 * @module
 */
import { MessagePort } from 'node:worker_threads';
import type { PluginRequest } from '../../shared/types.js';
import type { HarnessData } from '../worker/protocol.js';
import type { Grant } from './abi.js';
import type { WasmStreamSettings } from './stream-call.js';

/** A capability performed on the host. */
export type HostOp = 'call' | 'fetch' | 'kv_get' | 'kv_set' | 'kv_delete';
const OPS: ReadonlySet<string> = new Set(['call', 'fetch', 'kv_get', 'kv_set', 'kv_delete']);

/** Thread to host: one capability request. `args` is the module's JSON text, or the kv key (and value). */
export interface HostNote {
  pgw: 'host';
  op: HostOp;
  args: string | string[];
  requestId?: string;
  userId?: PluginRequest['userId'];
  port: MessagePort;
  /** Set to 1 and notified once the answer is on `port`. */
  wake: Int32Array;
}

/** Host to thread: the capability's result as text (`value`), or why it failed. */
export interface HostAnswer {
  value?: string;
  error?: string;
}

/** The data a wasm plugin's threads start with, besides the worker harness's. */
export interface WasmHarnessData extends HarnessData {
  /** The module, its memory maximum already capped. */
  wasm: Uint8Array;
  grants: Grant[];
  /** Bytes the module's memory and Extism's blocks may hold together. */
  memoryCapBytes: number;
  /** What the kernel's blocks may take: `resources.memory` less the module's own memory maximum. */
  blocksCapBytes: number;
  /** The manifest's endpoint keys: one `handle` export serves them all. */
  routes: string[];
  /** Extism `config` (`Config.get`): the plugin's settings as text. */
  config: Record<string, string>;
  /** Longest wait for a host capability's answer (the request's deadline cuts it shorter). */
  hostCallMs: number;
  /** The `stream` endpoints, by key. */
  streams: Record<string, WasmStreamSettings>;
}

const isText = (v: unknown) => typeof v === 'string' && v.length <= 1 << 24;

/** The note, when `message` is a well-formed `host` note; a reason when it is a malformed one; undefined when it is another kind. */
export function checkHostNote(message: unknown): HostNote | string | undefined {
  if (typeof message !== 'object' || message === null) return undefined;
  const m = message as Record<string, unknown>;
  if (m.pgw !== 'host') return undefined;
  if (!(m.port instanceof MessagePort)) return 'host request without a reply port';
  const wake = m.wake;
  if (
    !(wake instanceof Int32Array) ||
    !(wake.buffer instanceof SharedArrayBuffer) ||
    !wake.length
  ) {
    return 'host request without a shared wake word';
  }
  if (typeof m.op !== 'string' || !OPS.has(m.op)) return 'host request of an unknown kind';
  const args = m.args;
  if (!(isText(args) || (Array.isArray(args) && args.length <= 2 && args.every(isText)))) {
    return `host ${m.op} with arguments of the wrong type`;
  }
  const user = m.userId;
  if (
    (m.requestId !== undefined && typeof m.requestId !== 'string') ||
    !(user === undefined || user === null || typeof user === 'string' || typeof user === 'number')
  ) {
    return `host ${m.op} with a requestId or userId of the wrong type`;
  }
  return m as unknown as HostNote;
}
