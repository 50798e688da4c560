/**
 * `RemoteRuntime`: a plugin instance that another gateway of the fleet runs, reached over HTTP (undici)
 * with the peer protocol. It answers requests only: events, boot and health belong to its own gateway.
 * @module
 */
import { replyBytesAtLeast } from '../loader/reply-size.js';
import { DrainSignal } from '../loader/drain-signal.js';
import type { Agent, Dispatcher } from 'undici';
import type {
  LiveChannel,
  PluginRuntime,
  RuntimeStats,
  StreamLink,
  TaskInput,
} from '../loader/runtime.js';
import { forwardStream } from './peer-stream-client.js';
import { ChannelLostError, PeerChannels } from './peer-channel-client.js';
import { CHANNEL_MAX_CALL_BYTES } from './peer-channel-frames.js';
import { forwardSocket, refuseSocket, type ForwardedSocket } from './peer-socket-client.js';
import {
  PEER_CONTENT_TYPE,
  PEER_PATH,
  fromWire,
  peerHeaders,
  peerCall,
  type PeerAnswer,
} from './peer-protocol.js';
import type { BootReport, TaskResult } from '../loader/runtime.js';
import type { TaskFailure } from '../shared/task-failure.js';
import { DeadlineQueue, type Expirable } from '../shared/deadline-queue.js';
import { responseProblem } from '../loader/worker/note-check.js';
import type { HealthStatus, PluginResponse } from '../shared/types.js';
import { parseDuration } from '../shared/duration.js';

/**
 * Keep-alive connections to the other gateways: undici's `Agent`, which keeps a `Pool` per origin and
 * closes one when its last connection has ended (the other gateway left, or stayed idle past
 * `keepAliveTimeout`), so that the origins the registry names hold nothing once unused.
 */
export class PeerClient {
  /** Made at the first call: undici is most of what importing the gateway would cost otherwise. */
  #agent: Promise<Agent> | undefined;
  #closed = false;
  constructor(
    readonly nodeId: string,
    readonly secret: string | undefined,
    readonly connectionsPerPeer = 32,
    /** The largest response a plugin may answer; an owner's answer is read up to a multiple of it. */
    readonly maxResponseBytes = 8 * 1024 * 1024,
  ) {
    this.channels = new PeerChannels(nodeId, secret, this.maxAnswerBytes);
  }

  /**
   * Bytes of a peer answer read at most: a body as JSON (escapes) or base64, plus the envelope. Past
   * it the answer is dropped unread: whoever can write the registry names the owner.
   */
  get maxAnswerBytes(): number {
    return 6 * this.maxResponseBytes + 65_536;
  }

  /** Channels (version 2) to the other gateways, opened at the first call to each. */
  readonly channels: PeerChannels;

  /** Sends a request to `options.origin` on a kept-alive connection to it. */
  request(options: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData> {
    return (this.#agent ??= this.#open()).then((agent) => agent.request(options));
  }

  async #open(): Promise<Agent> {
    const { Agent } = await import('undici');
    const agent = new Agent({
      connections: this.connectionsPerPeer,
      pipelining: 1,
      connectTimeout: 2000,
      keepAliveTimeout: 10_000,
    });
    // Closed while undici was loading: requests fail as they would on a destroyed agent.
    if (this.#closed) await agent.destroy().catch(() => {});
    return agent;
  }

  /** Runtimes holding forwarded WebSockets or streams now: closed 1001 with the client. */
  readonly #live = new Set<RemoteRuntime>();

  /** `runtime` holds forwarded connections (`true`) or none any more (`false`). */
  holdsLive(runtime: RemoteRuntime, holds: boolean): void {
    if (holds) this.#live.add(runtime);
    else this.#live.delete(runtime);
  }

  /** Ends every forwarded connection (1001) and stream, then the connections to the other gateways. */
  async close(): Promise<void> {
    this.#closed = true;
    this.channels.close();
    for (const runtime of [...this.#live]) runtime.live().closeAll(1001, 'gateway stopping');
    this.#live.clear();
    const agent = await this.#agent;
    await agent?.destroy().catch(() => {});
  }
}

/**
 * How long past the deadline the connection of a silent peer is kept before undici gives it up. The
 * caller is answered at the deadline itself (the runtime's deadline heap); this only frees the socket.
 */
const PEER_SILENCE_GRACE_MS = 1000;

/** A call waiting for its peer's answer or its deadline, whichever comes first. */
interface PeerWait extends Expirable {
  settle(result: TaskResult): void;
}

/** Errors that say the request never reached the other gateway's plugin. */
const UNREACHED = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
]);

export class RemoteRuntime implements PluginRuntime {
  readonly origin: string;
  readonly #basePath: string;
  #inFlight = 0;
  /** Streams forwarded to this instance and not ended. */
  readonly #streams = new Set<StreamLink>();
  /** WebSockets forwarded to this instance and not closed. */
  readonly #sockets = new Set<ForwardedSocket>();
  #live: LiveChannel | undefined;
  readonly #drain = new DrainSignal();
  // The caller's deadline is kept here, not by the peer: a peer cut off by a silent partition answers
  // nothing, and undici's own timers fire up to ~0.5 s late past one second.
  readonly #deadlines = new DeadlineQueue<PeerWait>((wait) => {
    wait.answered = true;
    wait.settle({ __pgw: 'timeout', message: `${this.origin} did not answer by the deadline` });
  });

  constructor(
    readonly client: PeerClient,
    /** The other gateway's address, `http://host:port[/prefix]`. */
    address: string,
    readonly service: string,
    readonly version: string,
    readonly instanceId: string,
    /** The other gateway's node id: signatures name it, so a call cannot be replayed to another. */
    readonly nodeId: string,
  ) {
    const url = new URL(address);
    this.origin = url.origin;
    this.#basePath = url.pathname.replace(/\/$/, '');
  }

  run(task: TaskInput, timeoutMs: number): Promise<TaskResult> {
    return new Promise((resolve) => {
      const wait: PeerWait = { answered: false, deadlineAt: 0, deadlineIndex: -1, settle: resolve };
      this.#deadlines.add(wait, timeoutMs);
      void this.#call(task, timeoutMs).then((result) => {
        if (wait.answered) return;
        wait.answered = true;
        this.#deadlines.remove(wait);
        resolve(result);
      });
    });
  }

  async #call(task: TaskInput, timeoutMs: number): Promise<TaskResult> {
    if (task.t !== 'req') {
      return {
        __pgw: 'no-route',
        message: `a remote instance only serves requests, not "${task.t}"`,
      };
    }
    const call = peerCall(this, task.k, task.r, timeoutMs);
    // Measured before it is written (a plugin's ctx.call body may be a sparse array of 2^32-1 holes).
    if (replyBytesAtLeast(call, this.client.maxAnswerBytes) > this.client.maxAnswerBytes) {
      return {
        __pgw: 'too-large',
        message: `the call to ${this.origin} is larger than ${this.client.maxAnswerBytes} bytes`,
      };
    }
    this.#inFlight++;
    try {
      // The hop's span is the parent of the owner's; on a channel, inside the signed envelope.
      const envelope = JSON.stringify(task.tp ? { ...call, traceparent: task.tp } : call);
      const bytes = envelope.length * 3 <= CHANNEL_MAX_CALL_BYTES ? 0 : Buffer.byteLength(envelope);
      const channel = this.client.channels.to(this, bytes);
      if (channel !== undefined) {
        try {
          return this.#answered(await channel.call(envelope, Date.now() + timeoutMs));
        } catch (error) {
          // Lost before the call left: it was never sent, so it goes as version 1 (even a POST).
          if (!(error instanceof ChannelLostError) || error.sent) throw error;
        }
      }
      const body = task.tp ? JSON.stringify(call) : envelope;
      return await this.#callOverHttp(body, task.tp, timeoutMs);
    } catch (error) {
      return this.#failed(error, timeoutMs);
    } finally {
      if (--this.#inFlight === 0) this.#drain.settled();
    }
  }

  /** A call as version 1: one HTTP request (undici, kept-alive connections). */
  async #callOverHttp(
    body: string,
    tp: string | undefined,
    timeoutMs: number,
  ): Promise<TaskResult> {
    const headers = peerHeaders(this.client.nodeId, this.nodeId, body, this.client.secret);
    // The hop's span is the parent of the owner's (W3C trace context; unsigned, as it is only a label).
    if (tp !== undefined) headers.traceparent = tp;
    const res = await this.client.request({
      origin: this.origin,
      method: 'POST',
      path: this.#basePath + PEER_PATH,
      headers,
      body,
      // The owner answers 504 at this same deadline by itself; these only guard against a peer that
      // went silent (an AbortSignal per request measured 15 µs here).
      headersTimeout: Math.ceil(timeoutMs) + PEER_SILENCE_GRACE_MS,
      bodyTimeout: Math.ceil(timeoutMs) + PEER_SILENCE_GRACE_MS,
    });
    const text = await readAnswer(res.body, this.client.maxAnswerBytes);
    if (text === undefined) {
      return {
        __pgw: 'too-large',
        message: `${this.origin} answered more than ${this.client.maxAnswerBytes} bytes`,
      };
    }
    if (
      res.statusCode !== 200 ||
      !String(res.headers['content-type']).startsWith(PEER_CONTENT_TYPE)
    ) {
      return unreachable(
        `${this.origin} refused the peer call (${res.statusCode}): ${text.slice(0, 200)}`,
      );
    }
    return this.#answered(text);
  }

  /** The result a peer's answer stands for; as untrusted as a thread's answer, and checked alike. */
  #answered(text: string): TaskResult {
    const answer = JSON.parse(text) as PeerAnswer;
    // Whoever writes the registry names the owner: the same check as a thread's answer.
    const problem = responseProblem(answer?.response);
    if (problem) return { __pgw: 'bad-response', message: `${this.origin} answered ${problem}` };
    const response: PluginResponse = { ...answer.response, body: fromWire(answer.response.body) };
    if (
      answer.failure === 'crash' ||
      answer.failure === 'terminated' ||
      answer.failure === 'unreachable'
    ) {
      return { __pgw: answer.failure, message: `on ${this.origin}: ${errorMessage(response)}` };
    }
    return response;
  }

  #failed(error: unknown, timeoutMs: number): TaskFailure {
    const e = error as Error & { code?: string; cause?: { code?: string } };
    if (e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT') {
      return { __pgw: 'timeout', message: `${this.origin} did not answer in ${timeoutMs} ms` };
    }
    const code = e.code ?? e.cause?.code;
    if (code && UNREACHED.has(code)) return unreachable(`${this.origin}: ${code}`);
    return unreachable(`${this.origin}: ${e.message}`);
  }

  async boot(): Promise<BootReport> {
    throw new Error('a remote instance is started by its own gateway');
  }

  drain(timeoutMs: number): Promise<void> {
    return this.#inFlight === 0 ? Promise.resolve() : this.#drain.wait(timeoutMs);
  }

  async close(): Promise<void> {
    this.#deadlines.close();
  }

  stats(): RuntimeStats {
    return {
      threads: 0,
      utilization: 0,
      heapUsedBytes: 0,
      inFlight: this.#inFlight,
      violations: 0,
      connections: this.#streams.size + this.#sockets.size,
    };
  }

  /** The owner's address path (its listener's prefix), without a trailing `/`. */
  get basePath(): string {
    return this.#basePath;
  }

  /** Streams forwarded to the owner over the streaming peer protocol (`peer-stream-client.ts`). */
  live(): LiveChannel {
    return (this.#live ??= {
      stream: (sink, key, request, body, settings, context) => {
        const limits = {
          maxChunkBytes: settings?.max_chunk_bytes ?? 1024 * 1024,
          totalMs: settings ? parseDuration(settings.total_timeout)! : 3_600_000,
          traceparent: context?.tp,
        };
        const link = forwardStream(this, sink, key, request, body, limits, () =>
          this.#let(this.#streams, link),
        );
        this.#hold(this.#streams, link);
        return link;
      },
      refuseOpen: (key, request) => refuseSocket(this, key, request),
      // The flag values (`context.f`) stay here: the owner evaluates its own, as for a request.
      open: (peer, key, request, settings, context) => {
        const link = forwardSocket(
          this,
          peer,
          key,
          request,
          settings,
          () => this.#let(this.#sockets, link),
          context?.tp,
        );
        this.#hold(this.#sockets, link);
        return link;
      },
      closeAll: (code, reason) => {
        for (const link of [...this.#sockets]) link.shut(code, reason);
        for (const link of [...this.#streams]) link.cancel();
      },
    });
  }

  #hold<L>(links: Set<L>, link: L): void {
    links.add(link);
    this.client.holdsLive(this, true);
  }

  #let<L>(links: Set<L>, link: L): void {
    links.delete(link);
    if (this.#sockets.size === 0 && this.#streams.size === 0) this.client.holdsLive(this, false);
  }

  /** Its own gateway holds the plugin's flags; nothing to change here. */
  setFlags(): void {}

  /** Its own gateway checks its health; here, a remote instance has none to report. */
  async checkHealth(): Promise<HealthStatus | undefined> {
    return undefined;
  }
}

/** The answer's text, or undefined (the rest left unread) when it is longer than `limit` bytes. */
async function readAnswer(body: AsyncIterable<Buffer> & { destroy(): unknown }, limit: number) {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > limit) {
      body.destroy();
      return undefined;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function unreachable(message: string): TaskFailure {
  return { __pgw: 'unreachable', message };
}

function errorMessage(response: PluginResponse): string {
  const body = response.body as { error?: { message?: string } } | undefined;
  return body?.error?.message ?? `status ${response.statusCode}`;
}
