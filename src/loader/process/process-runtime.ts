/**
 * `ProcessRuntime`: one child process per plugin instance (`runtime.type: process`: the Node harness,
 * or a native program), in bubblewrap (`process-launch.ts`). A request past its deadline is answered
 * at once, the process still holding it after the grace killed (not a crash); exiting on its own or
 * going over its memory or process count is a crash; it exits after `idleTimeout` idle. The bounded
 * frame reader (`frames.ts`) reads and `process-notes.ts` checks all the untrusted child sends. Slots,
 * deadlines and drain are the ledger's, this its transport; its key/value store outlives processes.
 * @module
 */
import { grantedFetch, type FetchReply, type FetchRequest } from '../host-fetch.js';
import { ProcessStreams } from './process-streams.js';
import { ProcessKv } from './process-kv.js';
import { heapOver, RSS_POLL_MS, watchTree } from './process-memory.js';
import { HealthQuestion } from './health-question.js';
import type { HealthStatus } from '../../shared/types.js';
import { isTaskFailure, type TaskFailure } from '../../shared/task-failure.js';
import { oversizedReply } from '../reply-size.js';
import {
  LOG_FLOOD,
  type BootReport,
  type PluginRuntime,
  type RuntimeHooks,
  type RuntimeSpec,
  type RuntimeStats,
  type TaskInput,
  type TaskResult,
} from '../runtime.js';
import { ContentCheck } from '../content-check.js';
import { TaskLedger, type Pending } from '../task-ledger.js';
import { checkResult } from '../worker/note-check.js';
import { answerServiceCall, combineHealth } from '../worker/thread-notes.js';
import {
  NODE_BASE_RSS_MIB,
  processLaunch,
  type ProcessLaunch,
  type SandboxKind,
} from './process-launch.js';
import { checkProcessNote, handshakeBreach, negotiatedVersion } from './process-notes.js';
import { harnessData, helloRefusal } from './harness-data.js';
import { LiveUnsupportedError } from '../../errors.js';
import { FRAME_ENVELOPE_BYTES } from './frames.js';
import type { ProcessControl, ProcessHarnessData } from './protocol.js';
import { endChild, sampleUsage, sendClientFrame, sendFrame, spawnChild } from './process-child.js';
import { within } from '../settled-within.js';
import type { Child } from './process-child.js';

type Held = Pending<Child>;

const END_PROCESS_MS = 1000;

export class ProcessRuntime implements PluginRuntime {
  /** The wall this runtime's processes run behind. */
  readonly sandbox: SandboxKind;
  /** Each process's folder hash begins with its spawn and gates its `start` (ADR 0230). */
  readonly checksContentAtBoot = true;
  readonly #spec: RuntimeSpec;
  readonly #hooks: RuntimeHooks;
  readonly #fetch: (request: FetchRequest) => Promise<FetchReply>;
  readonly #launch: ProcessLaunch;
  /** The folder's hash, checked before each process imports the plugin. */
  readonly #content: ContentCheck;
  readonly #ledger: TaskLedger<Child>;
  readonly #data: ProcessHarnessData;
  readonly #baseRssMib: number;
  readonly #name: string;
  /** The entry file, for locating a load error. */
  readonly #mainPath: string;
  #child: Child | undefined;
  /** Why the program may not serve its WebSocket endpoints (its `hello`), failing its boot. */
  #socketsRefused: string | undefined;
  #violations = 0;
  #closing = false;
  #idleTimer: NodeJS.Timeout | undefined;
  #lastActive = 0;
  readonly #health = new HealthQuestion();
  readonly #kv: ProcessKv;
  readonly #streams: ProcessStreams<Child> = new ProcessStreams<Child>({
    child: () => this.#child ?? this.#spawn(),
    ready: (child) => child.ready,
    send: (child, f) => this.#send(child, { ctl: 'live', f }),
    deliver: (child, f) =>
      sendClientFrame(child, { ctl: 'live', f }, () => this.#streams.drained(child)),
    closing: () => this.#closing,
    violation: (reason) => this.#hooks.onViolation(reason, ++this.#violations),
    idle: () => this.#startIdle(),
  });

  /** @param bwrap the `bwrap` binary, or undefined to run under Node's permission model alone */
  constructor(spec: RuntimeSpec, hooks: RuntimeHooks, bwrap: string | undefined) {
    const { manifest } = spec;
    this.#spec = spec;
    this.#hooks = hooks;
    this.#fetch = grantedFetch(spec);
    this.#kv = new ProcessKv(manifest, spec, (why) => hooks.onViolation(why, ++this.#violations));
    this.#name = manifest.name;
    this.#mainPath = spec.mainPath;
    this.#ledger = new TaskLedger<Child>(spec.maxInFlight, spec.timeoutGraceMs, {
      dispatch: (pending) => this.#dispatch(pending),
      holderOf: (pending) => (pending.holder?.exited === false ? pending.holder : undefined),
      // The child says `started` before plugin code sees a task (`entry.ts`).
      seen: (pending) => pending.seen,
      abandon: (child, slot) => this.#send(child, { ctl: 'abandon', slot }),
      end: (child) => this.#end(child),
      terminated: () => this.#terminated(),
      idle: () => this.#startIdle(),
    });
    this.#content = new ContentCheck(
      { name: manifest.name, version: manifest.version, dir: spec.pluginDir },
      spec.contentHash,
    );
    this.#launch = processLaunch({
      pluginDir: spec.pluginDir,
      name: manifest.name,
      memoryMb: manifest.resources.memory,
      cpuCores: manifest.resources.cpu,
      diskMb: manifest.resources.disk,
      diskCeilingMb: spec.limits.disk,
      bwrap,
      ...(spec.command && { command: spec.command }),
    });
    this.sandbox = this.#launch.sandbox;
    // Node itself is resident on top of the heap cap; a native program has no such share.
    this.#baseRssMib = spec.command ? 0 : NODE_BASE_RSS_MIB;
    this.#data = harnessData(spec);
  }

  run(input: TaskInput, timeoutMs: number): Promise<TaskResult> {
    return this.#ledger.run(input, timeoutMs);
  }

  #dispatch(pending: Held): void {
    const changed = this.#content.changed;
    if (changed !== undefined)
      return this.#ledger.settle(pending, { __pgw: 'crash', message: changed });
    const child = this.#child ?? this.#spawn();
    pending.holder = child;
    child.inFlight.add(pending);
    if (child.ready) this.#sendTask(child, pending);
    else child.queue.push(pending);
  }

  /** A task that cannot be encoded never reaches the plugin: `unsendable`, as in the worker runtime. */
  #sendTask(child: Child, pending: Held): void {
    const refused = sendFrame(child, { ctl: 'task', task: pending.task }, this.#broken);
    if (refused === undefined) return;
    child.inFlight.delete(pending);
    this.#ledger.settle(pending, { __pgw: 'unsendable', message: refused });
  }

  #spawn(): Child {
    const contentChecked = this.#content.verify();
    const child = spawnChild(this.#launch, contentChecked, {
      memoryMb: this.#spec.manifest.resources.memory,
      maxFrameBytes: this.#spec.maxResponseBytes + FRAME_ENVELOPE_BYTES,
      onNote: (c, message) => this.#onNote(c, message),
      onBroken: this.#broken,
      onOutput: (stream, line) => this.#hooks.onOutput(stream, line),
      onClose: (c, code, signal) => this.#onExit(c, code, signal),
    });
    this.#child = child;
    child.watch = setInterval(() => this.#watch(child), RSS_POLL_MS).unref();
    // Changed: ended as soon as the hash says so; until then confined, never answered (ADR 0230).
    void contentChecked.then((why) => why !== undefined && !child.exited && this.#kill(child, why));
    return child;
  }

  /** Control that is always encodable (the host's own values). */
  readonly #send = (child: Child, message: ProcessControl): void =>
    void sendFrame(child, message, this.#broken);

  /** The channel broke the protocol (`frames.ts`, or a note before `hello`): the plugin's crash. */
  readonly #broken = (child: Child, reason: string): void => {
    this.#hooks.onViolation(reason, ++this.#violations);
    this.#kill(child, reason);
  };

  /** The process tree's resident memory, read by the host: over the limit, the process is killed. */
  #watch(child: Child): void {
    const over = watchTree(child, this.#spec.manifest.resources.memory, this.#baseRssMib);
    if (over !== undefined) this.#kill(child, over);
  }

  #onNote(child: Child, message: unknown): void {
    const note = checkProcessNote(message, this.#spec.maxInFlight);
    if (typeof note === 'string') {
      this.#hooks.onViolation(note, ++this.#violations);
      return;
    }
    const breach = handshakeBreach(note, child.ready);
    if (breach !== undefined) return this.#broken(child, `the plugin's channel carried ${breach}`);
    switch (note.pgw) {
      case 'hello':
        if (child.greeted) return;
        child.greeted = true;
        this.#socketsRefused = helloRefusal(this.#spec, note);
        // "start" only from a folder as it was loaded (hashed since the spawn, as the sandbox came up).
        void child.contentChecked.then((changed) => {
          if (child.exited) return;
          if (changed !== undefined) return this.#kill(child, changed);
          child.ready = true;
          this.#send(child, {
            ctl: 'start',
            v: negotiatedVersion(note) as number,
            data: this.#data,
          });
          for (const p of child.queue.splice(0)) this.#sendTask(child, p);
          this.#streams.ready(child);
        });
        return;
      case 'live':
        return this.#streams.onNote(child, note.n);
      case 'started': {
        const pending = this.#ledger.slots.ownerOf(note.s);
        if (pending?.holder === child) pending.seen = true;
        return;
      }
      case 'result': {
        const pending = this.#ledger.slots.ownerOf(note.s);
        if (pending?.holder !== child) return;
        // The frame's bound leaves room for an envelope: the reply itself is measured here too.
        const checked = checkResult(pending.task.t, note.r);
        const refused =
          pending.task.t === 'req' && !isTaskFailure(checked)
            ? oversizedReply(checked, this.#spec.maxResponseBytes)
            : undefined;
        const result = refused ?? checked;
        if (result !== note.r) this.#violations++;
        child.inFlight.delete(pending);
        this.#ledger.settle(pending, result);
        return;
      }
      case 'call':
        void answerServiceCall(this.#hooks, note, (response) =>
          this.#send(child, { ctl: 'reply', seq: note.seq, response }),
        );
        return;
      case 'fetch':
        void this.#fetch(note.request).then((reply) =>
          this.#send(child, { ctl: 'fetched', seq: note.seq, reply }),
        );
        return;
      case 'kv':
        return this.#send(child, this.#kv.answer(note));
      case 'log':
        if (!this.#hooks.onLog(note.level, note.msg, note.fields, note.requestId, note.tp)) {
          this.#kill(child, LOG_FLOOD);
        }
        return;
      case 'publish':
        return this.#hooks.onPublish(note.event);
      case 'heap': {
        child.heapUsed = note.used;
        const over = heapOver(note.used, note.external, this.#spec.manifest.resources.memory);
        return over === undefined ? undefined : this.#kill(child, over);
      }
      case 'stopped':
        if (note.error)
          this.#hooks.onLog('error', `stop() failed: ${note.error}`, undefined, undefined);
        return child.stopped?.();
      case 'health':
        return this.#health.answered(note.seq, note.status);
      case 'exiting':
        return;
    }
  }

  #onExit(child: Child, code: number | null, signal: NodeJS.Signals | null): void {
    child.exited = true;
    clearInterval(child.watch);
    if (this.#child === child) this.#child = undefined;
    child.stopped?.();
    const crashed = !child.quiet && !this.#closing;
    // Read at every exit, so that the kernel's count of memory kills stays in step.
    const killedForMemory = this.#launch.exitReason();
    const how = signal ? `was ended by ${signal}` : `exited with code ${code}`;
    const reason = child.error ?? killedForMemory ?? `the plugin process ${how}`;
    const loss: TaskFailure = crashed ? { __pgw: 'crash', message: reason } : this.#terminated();
    if (crashed) this.#hooks.onCrash(reason);
    this.#streams.ended(child, crashed ? reason : 'plugin stopping');
    const lost = [...child.inFlight];
    child.inFlight.clear();
    child.queue.length = 0;
    for (const pending of lost) this.#ledger.lost(pending, loss);
  }

  /** Ends a process that broke a limit: a crash with `reason`, restarted by the crash policy. */
  #kill(child: Child, reason: string): void {
    if (child.exited || child.error !== undefined) return;
    child.error = reason;
    endChild(child);
  }

  /** Ends a process for a reason that is not the plugin's crash. */
  #end(child: Child): void {
    if (child.exited) return;
    child.quiet = true;
    endChild(child);
  }

  /** Nothing in flight: the idle countdown starts (or goes on). */
  #startIdle(): void {
    this.#lastActive = performance.now();
    this.#idleTimer ??= setTimeout(this.#onIdle, this.#spec.idleTimeoutMs).unref();
  }

  /** Scale to zero: a process with nothing to do for `idleTimeout` ends; the next request starts one. */
  readonly #onIdle = (): void => {
    this.#idleTimer = undefined;
    const child = this.#child;
    if (!child || this.#closing || child.inFlight.size > 0) return;
    // An open stream keeps its process; its end starts the countdown again.
    const idleFor = this.#streams.holds(child) ? 0 : performance.now() - this.#lastActive;
    if (idleFor < this.#spec.idleTimeoutMs) {
      this.#idleTimer = setTimeout(this.#onIdle, this.#spec.idleTimeoutMs - idleFor).unref();
      return;
    }
    this.#end(child);
  };

  /** @throws {LiveUnsupportedError} when the program cannot serve the WebSockets it declares. */
  async boot(timeoutMs: number): Promise<BootReport> {
    const report = await this.#content.typed(
      this.#ledger.boot(timeoutMs, this.#name, this.#mainPath),
    );
    const refused = this.#socketsRefused;
    if (refused) throw new LiveUnsupportedError(refused, { plugin: this.#name });
    return report;
  }

  drain(timeoutMs: number): Promise<void> {
    return this.#ledger.drain(timeoutMs);
  }

  /** Runs the plugin's `stop()`, then ends the process; resolves within `timeoutMs`. */
  async close(timeoutMs: number): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    const end = performance.now() + timeoutMs;
    clearTimeout(this.#idleTimer);
    this.#ledger.close();
    this.#streams.closeAll(1001, 'plugin stopping');
    const child = this.#child;
    if (child && !child.exited) {
      if (child.ready) {
        const stopped = new Promise<void>((r) => (child.stopped = r));
        this.#send(child, { ctl: 'stop' });
        await within(stopped, end - Math.min(END_PROCESS_MS, timeoutMs / 4) - performance.now());
      }
      this.#end(child);
      const ended = await within(child.exit, end - performance.now());
      if (!ended) {
        child.proc.unref();
        this.#hooks.onAbandoned(
          [child.proc.pid ?? -1],
          `did not end within ${Math.round(timeoutMs)} ms`,
        );
      }
    }
    await within(this.#launch.dispose(), Math.max(0, end - performance.now()));
  }

  stats(): RuntimeStats {
    const child = this.#child;
    const utilization = child ? sampleUsage(child) : 0;
    const live = child !== undefined && !child.exited;
    return {
      threads: live ? 1 : 0,
      utilization,
      heapUsedBytes: live ? child.rssBytes || child.heapUsed : 0,
      inFlight: this.#ledger.inFlight,
      violations: this.#violations,
      connections: this.#streams.connections,
    };
  }

  /** Streamed responses and WebSockets through the plugin's channel. */
  live(): ProcessStreams<Child> {
    return this.#streams;
  }

  setFlags(flags: Readonly<Record<string, boolean>>): void {
    // A process started later gets them in its `start`; the live one on the channel its tasks take.
    this.#data.flags = { ...flags };
    const child = this.#child;
    if (child?.ready) this.#send(child, { ctl: 'flags', flags: this.#data.flags });
  }

  async checkHealth(timeoutMs: number): Promise<HealthStatus | undefined> {
    const child = this.#child;
    if (!child || !child.ready || child.exited || this.#closing) return undefined;
    const ask = (seq: number) => this.#send(child, { ctl: 'health', seq });
    const status = await this.#health.ask(ask, timeoutMs);
    if (status || child.exited) return status;
    return combineHealth([], [child.proc.pid ?? -1], timeoutMs);
  }

  #terminated(): TaskFailure {
    return { __pgw: 'terminated', message: `the process of ${this.#name} was ended` };
  }
}
