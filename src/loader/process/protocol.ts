/**
 * What crosses the process boundary between the host and the harness of a `runtime.type: process`
 * plugin: the messages of the plugin protocol (docs/plugin-protocol.md), one MessagePack map per
 * length-prefixed frame (`frames.ts`) on a plain socket at the child's fd 3. The child is untrusted:
 * everything it sends is read by the bounded frame reader and checked on the host (`process-notes.ts`).
 * Across processes there is no shared slot table: the child says `started` before plugin code sees a
 * task, so that the host knows which tasks it may give to a new process after a crash.
 * @module
 */
import type { PluginRequest, PluginResponse, ServiceRequest } from '../../shared/types.js';
import type { PluginHostData, HostNote } from '../harness/plugin-host.js';
import type { Task, TaskResult } from '../worker/protocol.js';
import type { FetchReply, FetchRequest } from '../host-fetch.js';
import type { LiveFrame, LiveNote } from '../worker/live-protocol.js';
import type { KvAnswer, KvNote } from './process-kv.js';

/** Data the host hands the harness in its `start` message. */
export interface ProcessHarnessData extends PluginHostData {
  /** `permissions.network`: the hosts the harness's network guard admits. */
  network: string[];
}

/** Host to child. */
export type ProcessControl =
  /** The answer to `hello`: the protocol version the host speaks, and the plugin's data. */
  | { ctl: 'start'; v: number; data: ProcessHarnessData }
  | { ctl: 'task'; task: Task }
  | { ctl: 'stop' }
  /** New static flag values (`setFlag()`); sent on the task channel, so the next task sees them. */
  | { ctl: 'flags'; flags: Record<string, boolean> }
  | { ctl: 'abandon'; slot: number }
  | { ctl: 'health'; seq: number }
  /** The host's answer to the child's `ctx.call()` number `seq`. */
  | { ctl: 'reply'; seq: number; response: PluginResponse }
  /** The host's answer to the child's `ctx.fetch()` number `seq`. */
  | { ctl: 'fetched'; seq: number; reply: FetchReply }
  /** The host's answer to the child's key/value operation number `seq`. */
  | KvAnswer
  /** A frame of a streamed response (or request body): `req`, `more`, `cancel`, `body`, `bodyend`. */
  | { ctl: 'live'; f: LiveFrame };

/** Child to host. */
export type ProcessNote =
  | HostNote
  /**
   * The first frame: the process listens and speaks protocol versions `min` (default `v`) to `v`; the
   * host answers `start` naming the highest both speak, or ends the process when there is none.
   * `caps` names what the program serves beyond the tasks: `ws` for WebSocket connections.
   */
  | { pgw: 'hello'; v: number; min?: number; caps?: string[] }
  /** Plugin code is about to see the task in slot `s`. */
  | { pgw: 'started'; s: number }
  /** The answer to the task in slot `s`. */
  | { pgw: 'result'; s: number; r: TaskResult }
  | {
      pgw: 'call';
      seq: number;
      service: string;
      request: ServiceRequest;
      requestId?: string;
      userId?: PluginRequest['userId'];
    }
  /** `ctx.fetch()` number `seq`: the host fetches a granted URL and answers `fetched`. */
  | { pgw: 'fetch'; seq: number; request: FetchRequest }
  /** A key/value store operation (`resources.disk` grants the store); the host answers `kv`. */
  | KvNote
  /** A note of a streamed response: `head`, `chunk`, `end`, `pull`. */
  | { pgw: 'live'; n: LiveNote };
