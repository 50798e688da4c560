/**
 * A plugin instance's live thread: one worker thread of its own, outside the Piscina pool, that holds
 * the instance's WebSocket connections. It runs the same harness, lockdown, permissions and resource
 * limits as the pool's threads, and its frames travel on a MessagePort of their own (`live-protocol.ts`).
 * It starts with the first connection and ends `idleTimeoutMs` after the last one closed. When it dies
 * on its own, its connections close 1011 and the crash goes to the supervisor like any other. Another
 * harness (wasm's) may run in it, with its streams' credit in shared cells (`live-credit.ts`).
 * @module
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import type { PluginRequest } from '../../shared/types.js';
import type {
  LiveChannel,
  LiveLink,
  LivePeer,
  RequestBodySource,
  RuntimeHooks,
  RuntimeSpec,
  StreamLink,
  StreamSink,
} from '../runtime.js';
import type { ContentCheck } from '../content-check.js';
import { grantedFetch } from '../host-fetch.js';
import { BodyPump } from './live-body-pump.js';
import { cancelCredit, creditCell, giveCredit } from './live-credit.js';
export type { BlockingLiveHarness } from './live-thread-launch.js';
import {
  checkLiveNote,
  STREAM_WINDOW,
  type LiveData,
  type LiveFrame,
  type LiveNote,
} from './live-protocol.js';
import { captureOutput } from './thread-output.js';
import { threadPermissions, type ThreadPermissions } from './thread-launch.js';
import {
  launchLiveThread,
  type BlockingLiveHarness,
  type StreamEntry,
} from './live-thread-launch.js';
import { onNote, type NoteTarget, type ThreadState } from './thread-notes.js';
import { LivePeers } from './live-peers.js';

/** One running live thread and what belongs to it. */
interface Running {
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
      health: () => {},
      violation,
      fetch: grantedFetch(spec),
    };
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
  ): StreamLink {
    if (this.#closing || this.#content.changed !== undefined) {
      queueMicrotask(() => sink.end(this.#closing ? 'plugin stopping' : 'plugin folder changed'));
      return { more() {}, cancel() {} };
    }
    const running = (this.#running ??= this.#start());
    clearTimeout(this.#idleTimer);
    const c = ++this.#nextConnection;
    const pump =
      body && new BodyPump(body, c, (frame, transfer) => postTo(running, frame, transfer));
    const cell = this.#harness && creditCell();
    const entry: StreamEntry = { sink, ahead: 0, body: pump, cell };
    running.streams.set(c, entry);
    if (pump) postTo(running, { k: 'req', c, key, r: { ...request, body: undefined }, b: true });
    else postTo(running, { k: 'req', c, key, r: request, w: cell });
    return {
      more: () => {
        if (!running.streams.has(c)) return;
        entry.ahead = Math.max(0, entry.ahead - 1);
        if (cell) giveCredit(cell);
        else postTo(running, { k: 'more', c });
      },
      cancel: () => {
        pump?.stop();
        if (!running.streams.delete(c)) return;
        this.#cancel(running, c, entry);
        this.#maybeIdle(running);
      },
    };
  }

  open(peer: LivePeer, key: string, request: PluginRequest): LiveLink {
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
    post({ k: 'open', c, key, r: request });
    return {
      message: (d: LiveData) => running.peers.message(c) && post({ k: 'msg', c, d }),
      closed: (code, reason) => running.peers.close(c) && post({ k: 'closed', c, code, reason }),
    };
  }

  closeAll(code: number, reason: string): void {
    const running = this.#running;
    if (!running) return;
    for (const peer of running.peers.openPeers()) peer.close(code, reason);
    const streams = [...running.streams];
    running.streams.clear();
    for (const [c, entry] of streams) {
      entry.body?.stop();
      entry.sink.end(reason);
      this.#cancel(running, c, entry);
    }
    this.#maybeIdle(running);
  }

  /** Tells the thread that stream `c` is over: a frame, or its cell and a grace for the call to return. */
  #cancel(running: Running, c: number, entry: StreamEntry): void {
    if (!entry.cell) return postTo(running, { k: 'cancel', c });
    cancelCredit(entry.cell);
    const { graceMs } = this.#harness!;
    // A call that does not see its cancel (a loop that never writes) holds the only instance.
    const grace = setTimeout(() => {
      if (!running.cancelling.delete(c)) return;
      running.state.killed = true;
      running.state.error = `a stream's call did not return within ${graceMs} ms of its cancel: its thread is ended`;
      this.#hooks.onLog('warn', running.state.error, undefined, undefined);
      void running.state.worker.terminate();
    }, graceMs).unref();
    running.cancelling.set(c, grace);
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
      return this.#onStream(running, note);
    if (note.k === 'pull') return running.streams.get(note.c)?.body?.pull();
    // The close handler settled: the connection is gone from the plugin's side too.
    if (running.peers.onNote(note)) this.#maybeIdle(running);
  }

  #onStream(running: Running, note: Extract<LiveNote, { k: 'head' | 'chunk' | 'end' }>): void {
    const entry = running.streams.get(note.c);
    if (!entry) {
      const grace = running.cancelling.get(note.c);
      // A cancelled stream's call returned: its thread may take the next.
      if (note.k === 'end' && grace !== undefined) {
        clearTimeout(grace);
        running.cancelling.delete(note.c);
        this.#maybeIdle(running);
      }
      return;
    }
    if (note.k === 'head') return entry.sink.head(note.s, note.h);
    if (note.k === 'end') {
      running.streams.delete(note.c);
      entry.body?.stop();
      entry.sink.end(note.e);
      return this.#maybeIdle(running);
    }
    if (++entry.ahead > STREAM_WINDOW) {
      // Past the credit it was given: the host would buffer without bound. End the stream.
      this.#notes.violation('live thread: a stream sent chunks beyond its credit');
      running.streams.delete(note.c);
      entry.body?.stop();
      this.#cancel(running, note.c, entry);
      entry.sink.end('the plugin sent beyond its credit');
      return this.#maybeIdle(running);
    }
    entry.sink.chunk(note.d);
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
    const streams = [...running.streams];
    running.streams.clear();
    for (const [c, entry] of streams) {
      entry.body?.stop();
      entry.sink.end('plugin stopping');
      this.#cancel(running, c, entry);
    }
    await this.#end(running, timeoutMs);
  }
}

function postTo(running: Running, frame: LiveFrame, transfer?: ArrayBuffer[]): void {
  try {
    running.port.postMessage(frame, transfer);
  } catch {
    // The thread is gone: its exit ends what it held.
  }
}
