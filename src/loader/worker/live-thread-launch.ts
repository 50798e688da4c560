/**
 * Starts a live thread (`live-thread.ts`): the worker harness, or a blocking one (wasm's), with the
 * plugin's permissions and resource limits, its frames on `livePort`.
 * @module
 */
import { Worker, type MessagePort } from 'node:worker_threads';
import type { RuntimeSpec, StreamSink } from '../runtime.js';
import type { BodyPump } from './live-body-pump.js';
import type { CreditCell } from './live-credit.js';
import { harnessData, threadLimits } from './plugin-pool.js';
import type { HarnessData } from './protocol.js';
import { HARNESS, type ThreadPermissions } from './thread-launch.js';
import type { LivePeers } from './live-peers.js';
import type { LiveFrame } from './live-protocol.js';
import type { ThreadState } from './thread-notes.js';

export interface StreamEntry {
  sink: StreamSink;
  ahead: number;
  body?: BodyPump;
  /** With a blocking harness: the stream's credit, shared with the thread. */
  cell?: CreditCell;
}

/**
 * A harness other than the worker's for the live thread, whose plugin code blocks while it streams:
 * credit and cancellation go through a shared cell per stream instead of frames, and a call that does
 * not return within `graceMs` of its cancel ends the thread.
 */
export interface BlockingLiveHarness {
  url: URL;
  /** Added to the thread's `workerData`. */
  data: Record<string, unknown>;
  /** Takes the harness's own notes; false for the ones the worker's note check is to act on. */
  onNote(message: unknown): boolean;
  graceMs: number;
}

/**
 * V8's smallest young generation (1 MiB semi-spaces), for a live thread whose plugin streams bodies
 * (`stream` endpoints). The chunks it is handed or makes are freed at its next scavenge. A small young
 * generation scavenges every few MiB of streamed bytes; the default waits for about 64 MB of them
 * (docs/decisions/0270). A plugin with only WebSockets keeps its young generation: more scavenges
 * cost its echo about 4% more CPU per message.
 */
export const STREAMING_YOUNG_GENERATION_MB = 3;

/** A live thread's V8 limits: its plugin's, the young generation capped when `streams` is true. */
export function liveThreadLimits(
  memory: number,
  streams: boolean,
): ReturnType<typeof threadLimits> {
  const limits = threadLimits(memory);
  if (!streams) return limits;
  return {
    ...limits,
    maxYoungGenerationSizeMb: Math.min(
      limits.maxYoungGenerationSizeMb,
      STREAMING_YOUNG_GENERATION_MB,
    ),
  };
}

/** The thread, not yet started (it imports the plugin on a `start` control). */
export function launchLiveThread(
  spec: RuntimeSpec,
  flagCells: Int32Array,
  permissions: ThreadPermissions,
  livePort: MessagePort,
  harness: BlockingLiveHarness | undefined,
): Worker {
  // No tasks run here: a slot table of one, never used.
  const slots = new Int32Array(new SharedArrayBuffer(4));
  const workerData: HarnessData = { ...harnessData(spec, { slots, flagCells }), livePort };
  return new Worker(harness?.url ?? HARNESS, {
    workerData: { ...workerData, ...harness?.data },
    transferList: [livePort],
    execArgv: permissions.execArgv,
    env: { TMPDIR: permissions.scratchDir },
    resourceLimits: liveThreadLimits(
      spec.manifest.resources.memory,
      spec.manifest.endpoints.some((endpoint) => endpoint.stream !== undefined),
    ),
    stdout: true,
    stderr: true,
    trackUnmanagedFds: true,
  });
}

/** One running live thread and what belongs to it. */
export interface LiveRunning {
  state: ThreadState;
  port: MessagePort;
  permissions: ThreadPermissions;
  /** Its WebSocket connections, the closing ones included until their `close` handler settles. */
  peers: LivePeers;
  /** Streamed responses under way, with the chunks sent beyond the credit given (never past the window). */
  streams: Map<number, StreamEntry>;
  /** Cancelled streams whose blocking call has not returned yet, each with its grace timer. */
  cancelling: Map<number, NodeJS.Timeout>;
  /** Its plugin has stopped (the answer to a `stop` control). */
  stopped: Promise<void>;
}

/** A frame to the thread; a thread already gone is skipped (its exit ends what it held). */
export function postTo(running: LiveRunning, frame: LiveFrame, transfer?: ArrayBuffer[]): void {
  try {
    running.port.postMessage(frame, transfer);
  } catch {
    // The thread is gone: its exit ends what it held.
  }
}
