/**
 * One plugin process as the host holds it: spawned from its launch (`process-launch.ts`), its output
 * captured into the plugin's log, its channel — frames of the plugin protocol on a plain socket at
 * fd 3, never Node's IPC, whose decoder runs in the host on the child's bytes — read by the bounded
 * `FrameReader`, and its end handed to the runtime.
 * @module
 */
import type { Socket } from 'node:net';
import { childrenOf, treeUsage } from './process-tree.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { captureProcessOutput, type OutputStream } from '../worker/thread-output.js';
import type { ProcessLaunch } from './process-launch.js';
import type { Pending } from '../task-ledger.js';
import { encodeFrame, FrameReader, MAX_FRAME_VALUES } from './frames.js';
import type { ProcessControl } from './protocol.js';

/** How long a frame from the child may stay unfinished once begun. */
export const FRAME_STALL_MS = 5000;
/**
 * Bytes written to the child and not yet read by it, past which it is ended (it does not read).
 * Clients' WebSocket messages are not counted: the host paces those itself (`HOLD_CLIENTS_BYTES`).
 */
export const MAX_UNREAD_BYTES = 64 * 1024 * 1024;
/** Unread bytes on the channel past which the host stops reading the process's WebSocket clients. */
export const HOLD_CLIENTS_BYTES = 8 * 1024 * 1024;

/** What the host knows of one plugin process. */
export interface Child {
  proc: ChildProcess;
  /** The channel: fd 3 of the child, a socket the host alone reads. */
  channel: Socket;
  reader: FrameReader;
  /** The child said `hello` in the host's protocol version: it may be sent `start` and tasks. */
  ready: boolean;
  /** It said `hello`; the host checks the plugin's folder before it answers `start`. */
  greeted: boolean;
  /** The folder's hash begun at the spawn: undefined when unchanged, else why it may not start. */
  contentChecked: Promise<string | undefined>;
  queue: Pending<Child>[];
  inFlight: Set<Pending<Child>>;
  /** Ended by the host for a reason that is not a crash (idle, timeout grace, close). */
  quiet: boolean;
  /** Why the host ended it as a crash (memory), or how it died. */
  error: string | undefined;
  exited: boolean;
  heapUsed: number;
  rssBytes: number;
  /** Bytes of clients' messages written to the channel and not yet taken by the kernel. */
  clientBytes: number;
  /** The channel holds more than `HOLD_CLIENTS_BYTES` unread: clients wait for its 'drain'. */
  holding: boolean;
  cpu: { ms: number; at: number } | undefined;
  watch: NodeJS.Timeout | undefined;
  stopped?: () => void;
  exit: Promise<void>;
}

/** What a spawned process reports to its runtime. */
export interface ChildEvents {
  /** `resources.memory`, MiB (named in the reason of a V8 out-of-memory end). */
  memoryMb: number;
  /** Largest frame the child may send (without its header), bytes. */
  maxFrameBytes: number;
  onNote(child: Child, message: unknown): void;
  /** The child's channel carried what the host does not accept: the process is ended as a crash. */
  onBroken(child: Child, reason: string): void;
  onOutput(stream: OutputStream, line: string): void;
  onClose(child: Child, code: number | null, signal: NodeJS.Signals | null): void;
}

/** Starts one plugin process. */
export function spawnChild(
  launch: ProcessLaunch,
  contentChecked: Promise<string | undefined>,
  events: ChildEvents,
): Child {
  const proc = spawn(launch.command, launch.args, {
    env: launch.env,
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
  });
  const channel = proc.stdio[3] as Socket;
  let exited!: () => void;
  const child: Child = {
    proc,
    channel,
    reader: new FrameReader(
      { maxFrameBytes: events.maxFrameBytes, stallMs: FRAME_STALL_MS, maxValues: MAX_FRAME_VALUES },
      (message) => events.onNote(child, message),
      (reason) => events.onBroken(child, `the plugin's channel carried ${reason}`),
    ),
    ready: false,
    greeted: false,
    contentChecked,
    queue: [],
    inFlight: new Set(),
    quiet: false,
    error: undefined,
    exited: false,
    heapUsed: 0,
    rssBytes: 0,
    clientBytes: 0,
    holding: false,
    cpu: undefined,
    watch: undefined,
    exit: new Promise<void>((resolve) => (exited = resolve)),
  };
  captureProcessOutput(proc.stdout!, proc.stderr!, (stream, line) => {
    // V8's last words when the heap cap is reached (the plugin could print them too: it would only
    // mislabel its own crash).
    if (stream === 'stderr' && line.includes('JavaScript heap out of memory')) {
      child.error ??= `memory: the V8 heap reached its cap, resources.memory (${events.memoryMb} MiB)`;
    }
    events.onOutput(stream, line);
  });
  channel.on('data', (chunk: Buffer) => child.reader.push(chunk));
  // A reset channel is the child's end, which 'close' reports.
  channel.on('error', () => {});
  proc.on('error', (error) => (child.error ??= `the plugin process failed: ${error.message}`));
  // bwrap gone (by itself, or ended by the host): its sandbox's init sets no parent-death signal
  // until its setup is done, and ended during it, lives on, reparented, holding the channel, so that
  // 'close' would wait for the cgroup's removal at unload. One process per instance at a time: what
  // is left in the group is this one's.
  proc.once('exit', () => launch.endLeftovers());
  // 'close', not 'exit': the process's last output (V8's out-of-memory line) has been read by then.
  proc.once('close', (code, signal) => {
    child.reader.close();
    events.onClose(child, code, signal);
    exited();
  });
  return child;
}

/**
 * Sends one message to the child. A message that cannot be encoded, or alone larger than the channel
 * holds, is not sent: the reason is returned (a task's `unsendable`). A child that leaves more than
 * `MAX_UNREAD_BYTES` unread is ended.
 */
export function sendFrame(
  child: Child,
  message: ProcessControl,
  onBroken: (child: Child, reason: string) => void,
): string | undefined {
  if (child.exited || child.channel.destroyed) return undefined;
  let frame: Buffer;
  try {
    frame = encodeFrame(message);
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  if (frame.length > MAX_UNREAD_BYTES) {
    return `a message of ${frame.length} bytes, over the ${MAX_UNREAD_BYTES / 1048576} MiB the channel holds`;
  }
  // What the host chose to write for clients is its own backlog, not the plugin's failure to read.
  if (child.channel.writableLength - child.clientBytes + frame.length > MAX_UNREAD_BYTES) {
    onBroken(
      child,
      `the plugin left more than ${MAX_UNREAD_BYTES / 1048576} MiB of its channel unread`,
    );
    return undefined;
  }
  writeCoalesced(child, frame);
  return undefined;
}

/**
 * Writes a frame with the others written in the same turn of the event loop: one system call (and
 * one wake-up of the plugin) for the tasks that a batch of answers let the clients send, instead of
 * one each. The channel is corked at the first frame and uncorked once the turn's promise callbacks
 * ran (`process.nextTick` queued from them runs after them). A frame while at most one task is in
 * flight goes out at once: sequential traffic has nothing to wait for.
 */
function writeCoalesced(child: Child, frame: Buffer, written?: () => void): void {
  if (child.channel.writableCorked === 0 && child.inFlight.size > 1) {
    child.channel.cork();
    process.nextTick(() => child.channel.uncork());
  }
  child.channel.write(frame, written);
}

/**
 * Sends a client's WebSocket message to the child: never refused, never a reason to end it (each is
 * bounded by `max_message_bytes`, and their number by the host's holding its clients). Returns true
 * when the channel holds more than `HOLD_CLIENTS_BYTES` unread: the caller stops reading clients,
 * and `drained` is called once, when the child has read the channel to the end.
 */
export function sendClientFrame(
  child: Child,
  message: ProcessControl,
  drained: () => void,
): boolean {
  if (child.exited || child.channel.destroyed) return false;
  const frame = encodeFrame(message);
  child.clientBytes += frame.length;
  writeCoalesced(child, frame, () => (child.clientBytes -= frame.length));
  if (child.holding || child.channel.writableLength <= HOLD_CLIENTS_BYTES) return child.holding;
  child.holding = true;
  child.channel.once('drain', () => {
    child.holding = false;
    drained();
  });
  return true;
}

/**
 * Reads the child's process tree from `/proc`: keeps its RSS on `child` and returns the share of one
 * CPU it used since the previous reading (0 on the first, or when it cannot be read).
 */
export function sampleUsage(child: Child): number {
  if (child.exited || child.proc.pid === undefined) return 0;
  const usage = treeUsage(child.proc.pid);
  if (!usage) return 0;
  const now = performance.now();
  child.rssBytes = usage.rssBytes;
  const before = child.cpu;
  child.cpu = { ms: usage.cpuMs, at: now };
  return before ? Math.min(1, (usage.cpuMs - before.ms) / Math.max(1, now - before.at)) : 0;
}

/**
 * Ends the process and the children it has: the sandbox's init (pid 1 of its PID namespace, whose end
 * ends every process in it) is a child of bwrap, and sets no parent-death signal until its setup is
 * done — ended during that setup, bwrap alone would leave it running, reparented, holding the
 * channel, and the runtime would never see the process close. Stopped first, the process can fork no
 * more (a fork that a pending signal meets is restarted): its children are all listed, and stay its
 * own, when they are read.
 */
export function endChild(child: Child): void {
  const { proc } = child;
  // Reaped already: its pid may be another process's now.
  if (proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined) return;
  proc.kill('SIGSTOP');
  for (const pid of childrenOf(proc.pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
  }
  proc.kill('SIGKILL');
}
