/**
 * A plugin instance's live thread: one worker thread of its own, outside the Piscina pool, that holds
 * the instance's WebSocket connections. It runs the same harness, lockdown, permissions and resource
 * limits as the pool's threads, and its frames travel on a MessagePort of their own (`live-protocol.ts`).
 * It starts with the first connection (or when a swap warms it: `warm()`) and ends `idleTimeoutMs`
 * after the last one closed. When it dies on its own, its connections close 1011 and the crash goes to
 * the supervisor like any other. Another harness (wasm's) may run in it, with its streams' credit in
 * shared cells (`live-credit.ts`); its streamed responses are `live-thread-streams.ts`'s.
 * @module
 */
import { MessageChannel } from 'node:worker_threads';
import type {
  HealthStatus,
  PluginRequest,
  StreamSettings,
  WebSocketSettings,
} from '../../shared/types.js';
import type {
  LiveChannel,
  LiveLink,
  LivePeer,
  RequestBodySource,
  RuntimeHooks,
  RuntimeSpec,
  StreamContext,
  StreamLink,
  StreamSink,
} from '../runtime.js';
import type { ContentCheck } from '../content-check.js';
import { grantedFetch } from '../host-fetch.js';
export type { BlockingLiveHarness } from './live-thread-launch.js';
import { checkLiveNote, type LiveData, type LiveFrame } from './live-protocol.js';
import { captureOutput } from './thread-output.js';
import { threadPermissions } from './thread-launch.js';
import {
  launchLiveThread,
  postTo,
  type BlockingLiveHarness,
  type LiveRunning as Running,
} from './live-thread-launch.js';
import { contextFields, LiveThreadStreams } from './live-thread-streams.js';
import { onNote, type NoteTarget, type ThreadState } from './thread-notes.js';
import { LivePeers } from './live-peers.js';

export class LiveThread implements LiveChannel {
  readonly #spec: RuntimeSpec;
  readonly #content: ContentCheck;
  readonly #hooks: RuntimeHooks;
  readonly #flagCells: Int32Array;
  readonly #notes: NoteTarget;
  #running: Running | undefined;
  #nextConnection = 0;
  #idleTimer: NodeJS.Timeout | undefined;
  #closing = false;
  readonly #harness: BlockingLiveHarness | undefined;
  readonly #streams: LiveThreadStreams;
  /** `warm()` calls waiting for the thread's `healthCheck()`, by sequence number. */
  readonly #healthAsked = new Map<number, (status: HealthStatus) => void>();
  #healthSeq = 0;

  constructor(
    spec: RuntimeSpec,
    hooks: RuntimeHooks,
    flagCells: Int32Array,
    violation: (reason: string) => void,
    content: ContentCheck,
    harness?: BlockingLiveHarness,
  ) {
    this.#harness = harness;
    this.#content = content;
    this.#spec = spec;
    this.#hooks = hooks;
    this.#flagCells = flagCells;
    this.#notes = {
      hooks,
      memoryBytes: spec.manifest.resources.memory * 1024 * 1024,
      kill: (state, reason) => {
        state.error = reason;
        void state.worker.terminate();
      },
      health: (seq, _threadId, status) => this.#healthAsked.get(seq)?.(status),
      violation,
      fetch: grantedFetch(spec),
    };
    this.#streams = new LiveThreadStreams({
      hooks,
      harness,
      violation,
      maybeIdle: (running) => this.#maybeIdle(running),
    });
  }

  /** Open connections. */
  get connections(): number {
    const running = this.#running;
    return running ? running.peers.open + running.streams.size : 0;
  }

  /** Whether the thread holds anything: a connection, a stream, or a cancelled call not yet returned. */
  get busy(): boolean {
    const running = this.#running;
    return running !== undefined && (this.connections > 0 || running.cancelling.size > 0);
  }

  stream(
    sink: StreamSink,
    key: string,
    request: PluginRequest,
    body?: RequestBodySource,
    _settings?: StreamSettings,
    context: StreamContext = {},
  ): StreamLink {
    if (this.#closing || this.#content.changed !== undefined) {
      queueMicrotask(() => sink.end(this.#closing ? 'plugin stopping' : 'plugin folder changed'));
      return { more() {}, cancel() {} };
    }
    const running = (this.#running ??= this.#start());
    clearTimeout(this.#idleTimer);
    const c = ++this.#nextConnection;
    return this.#streams.open(running, c, sink, key, request, body, context);
  }

  open(
    peer: LivePeer,
    key: string,
    request: PluginRequest,
    _settings?: WebSocketSettings,
    context: StreamContext = {},
  ): LiveLink {
    if (this.#closing || this.#content.changed !== undefined) {
      const [code, why] = this.#closing
        ? [1001, 'plugin stopping']
        : [1011, 'plugin folder changed'];
      queueMicrotask(() => peer.close(code, why));
      return { message() {}, closed() {} };
    }
    const running = (this.#running ??= this.#start());
    clearTimeout(this.#idleTimer);
    const c = ++this.#nextConnection;
    running.peers.add(c, peer);
    const post = (frame: LiveFrame) => postTo(running, frame);
    post({ k: 'open', c, key, r: request, ...contextFields(context) });
    return {
      message: (d: LiveData) => running.peers.message(c) && post({ k: 'msg', c, d }),
      closed: (code, reason) => running.peers.close(c) && post({ k: 'closed', c, code, reason }),
    };
  }

  /**
   * Starts the thread now, as a first connection would, and resolves once its plugin has started with
   * the answer of its `healthCheck()` there; `undefined` when none came within `timeoutMs` (or the
   * thread ended first). With no connection, the thread ends `idleTimeoutMs` later like any idle one.
   */
  async warm(timeoutMs: number): Promise<HealthStatus | undefined> {
    if (this.#closing || this.#content.changed !== undefined) return undefined;
    const running = (this.#running ??= this.#start());
    const seq = ++this.#healthSeq;
    let timer: NodeJS.Timeout | undefined;
    // Answered once the plugin has started in the thread (the harness waits for it).
    running.state.worker.postMessage({ ctl: 'health', seq });
    const status = await Promise.race([
      new Promise<HealthStatus>((resolve) => this.#healthAsked.set(seq, resolve)),
      running.stopped.then(() => undefined),
      new Promise<undefined>(
        (resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs)),
      ),
    ]);
    clearTimeout(timer);
    this.#healthAsked.delete(seq);
    if (this.#running === running) this.#maybeIdle(running);
    return status;
  }

  closeAll(code: number, reason: string): void {
    const running = this.#running;
    if (!running) return;
    for (const peer of running.peers.openPeers()) peer.close(code, reason);
    this.#streams.endAll(running, reason);
    this.#maybeIdle(running);
  }

  #start(): Running {
    const spec = this.#spec;
    const { manifest } = spec;
    const harness = this.#harness;
    const permissions = threadPermissions(spec.pluginDir, manifest.name, harness?.url);
    const { port1, port2 } = new MessageChannel();
    const worker = launchLiveThread(spec, this.#flagCells, permissions, port2, harness);
    const state: ThreadState = {
      worker,
      id: worker.threadId,
      killed: false,
      heapUsed: 0,
      elu: undefined,
      exitNoted: false,
    };
    const stopped = new Promise<void>((resolve) => (state.stopped = resolve));
    const running: Running = {
      state,
      port: port1,
      permissions,
      peers: new LivePeers(),
      streams: new Map(),
      cancelling: new Map(),
      stopped,
    };
    captureOutput(worker, (stream, line) => this.#hooks.onOutput(stream, line));
    worker.on('message', (m: unknown) => {
      if (!harness?.onNote(m)) onNote(this.#notes, state, m);
    });
    port1.on('message', (m: unknown) => this.#onFrame(running, m));
    worker.on('error', (error: Error) => {
      state.error = `${(error as Error & { code?: string }).code ?? error.name}: ${error.message}`;
    });
    worker.once('exit', (code) => this.#ended(running, code));
    // The plugin is imported on "start": only from a folder as it was loaded.
    void this.#content.verify().then((changed) => {
      if (changed === undefined) return worker.postMessage({ ctl: 'start' });
      state.error = changed;
      void worker.terminate();
    });
    return running;
  }

  #onFrame(running: Running, message: unknown): void {
    const note = checkLiveNote(message);
    if (typeof note === 'string') return this.#notes.violation(`live thread: ${note}`);
    if (note.k === 'head' || note.k === 'chunk' || note.k === 'end')
      return this.#streams.onNote(running, note);
    if (note.k === 'pull') return running.streams.get(note.c)?.body?.pull();
    // The close handler settled: the connection is gone from the plugin's side too.
    if (running.peers.onNote(note)) this.#maybeIdle(running);
  }

  #maybeIdle(running: Running): void {
    if (running.peers.size === 0 && running.streams.size === 0 && running.cancelling.size === 0)
      this.#idleSoon(running);
  }

  /** No connection left: the thread ends after the gateway's idle timeout, unless one opens. */
  #idleSoon(running: Running): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => {
      if (this.#running !== running || running.peers.size > 0 || running.streams.size > 0) return;
      if (running.cancelling.size > 0) return;
      void this.#end(running, 1000);
    }, this.#spec.idleTimeoutMs);
    this.#idleTimer.unref();
  }

  /** Runs the plugin's `stop()` in the thread for most of `budgetMs`, then ends the thread. */
  async #end(running: Running, budgetMs: number): Promise<void> {
    running.state.killed = true;
    try {
      running.state.worker.postMessage({ ctl: 'stop' });
    } catch {
      // Already exiting.
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      running.stopped,
      new Promise((r) => (timer = setTimeout(r, Math.max(0, budgetMs * 0.75)))),
    ]);
    clearTimeout(timer);
    await running.state.worker.terminate();
  }

  #ended(running: Running, code: number): void {
    const { state } = running;
    state.exitCode = code;
    state.stopped?.();
    if (this.#running === running) this.#running = undefined;
    running.port.close();
    running.permissions.dispose();
    const crashed =
      !state.killed && (state.error !== undefined || state.exitNoted || !this.#closing);
    for (const peer of running.peers.takeAll().all) peer.close(1011, 'plugin thread ended');
    for (const grace of running.cancelling.values()) clearTimeout(grace);
    running.cancelling.clear();
    const streams = [...running.streams.values()];
    running.streams.clear();
    for (const { sink, body } of streams) {
      body?.stop();
      sink.end('plugin thread ended');
    }
    if (!crashed || this.#closing) return;
    this.#hooks.onCrash(
      state.error ?? `the plugin ended its live thread with process.exit(${code})`,
    );
  }

  /**
   * Closes every connection 1001 (going away) and ends the thread within `timeoutMs`; new connections
   * are refused from now on.
   */
  async close(timeoutMs: number): Promise<void> {
    this.#closing = true;
    clearTimeout(this.#idleTimer);
    const running = this.#running;
    if (!running) return;
    for (const [c, peer] of running.peers.takeAll().open) {
      peer.close(1001, 'plugin stopping');
      // The plugin's close handlers run before its stop().
      running.port.postMessage({
        k: 'closed',
        c,
        code: 1001,
        reason: 'plugin stopping',
      } satisfies LiveFrame);
    }
    this.#streams.endAll(running, 'plugin stopping');
    await this.#end(running, timeoutMs);
  }
}
