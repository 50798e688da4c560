/**
 * One plugin process as the host holds it: spawned from its launch (`process-launch.ts`), its output
 * captured into the plugin's log, its IPC messages and its end handed to the runtime.
 * @module
 */
import { treeUsage } from './process-tree.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { captureProcessOutput, type OutputStream } from '../worker/thread-output.js';
import type { ProcessLaunch } from './process-launch.js';
import type { Task, TaskResult } from '../worker/protocol.js';

/** One request between dispatch and answer. */
export class Pending {
  answered = false;
  /** The child said plugin code saw it: it is never run a second time. */
  started = false;
  redispatched = false;
  slot = -1;
  task!: Task;
  child: Child | undefined;
  deadlineAt = 0;
  deadlineIndex = -1;
  constructor(readonly resolve: (result: TaskResult) => void) {}
}

/** What the host knows of one plugin process. */
export interface Child {
  proc: ChildProcess;
  ready: boolean;
  queue: Pending[];
  inFlight: Set<Pending>;
  /** Ended by the host for a reason that is not a crash (idle, timeout grace, close). */
  quiet: boolean;
  /** Why the host ended it as a crash (memory), or how it died. */
  error: string | undefined;
  exited: boolean;
  heapUsed: number;
  rssBytes: number;
  cpu: { ms: number; at: number } | undefined;
  watch: NodeJS.Timeout | undefined;
  stopped?: () => void;
  exit: Promise<void>;
}

/** What a spawned process reports to its runtime. */
export interface ChildEvents {
  /** `resources.memory`, MiB (named in the reason of a V8 out-of-memory end). */
  memoryMb: number;
  onNote(child: Child, message: unknown): void;
  onOutput(stream: OutputStream, line: string): void;
  onClose(child: Child, code: number | null, signal: NodeJS.Signals | null): void;
}

/** Starts one plugin process. */
export function spawnChild(launch: ProcessLaunch, events: ChildEvents): Child {
  const proc = spawn(launch.command, launch.args, {
    env: launch.env,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    serialization: 'advanced',
  });
  let exited!: () => void;
  const child: Child = {
    proc,
    ready: false,
    queue: [],
    inFlight: new Set(),
    quiet: false,
    error: undefined,
    exited: false,
    heapUsed: 0,
    rssBytes: 0,
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
  proc.on('message', (message: unknown) => events.onNote(child, message));
  proc.on('error', (error) => (child.error ??= `the plugin process failed: ${error.message}`));
  // 'close', not 'exit': the process's last output (V8's out-of-memory line) has been read by then.
  proc.once('close', (code, signal) => {
    events.onClose(child, code, signal);
    exited();
  });
  return child;
}

/** Whether `work` settled (either way) within `ms`. */
export async function within(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((r) => (timer = setTimeout(r, Math.max(0, ms), false)));
  const settled = work.then(
    () => true as const,
    () => true as const,
  );
  try {
    return await Promise.race([settled, late]);
  } finally {
    clearTimeout(timer);
  }
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
