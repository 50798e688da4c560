/**
 * The live channel of a wasm plugin instance: streamed responses only (a WebSocket endpoint is refused
 * at load). A wasm call is synchronous and holds its instance, so each open stream has a live thread
 * of its own — its own instance of the module — started for it, reused by the next stream once its
 * call returned, and ended `idleTimeoutMs` after its last (docs/decisions/0180).
 * @module
 */
import type { Manifest } from '../../manifest/manifest.js';
import type { PluginRequest } from '../../shared/types.js';
import { parseDuration } from '../../shared/duration.js';
import { errorResponse } from '../../shared/responses.js';
import { ErrorCodes } from '../../errors.js';
import type {
  HeldLiveChannel,
  LiveParts,
  RequestBodySource,
  RuntimeHooks,
  RuntimeSpec,
  StreamContext,
  StreamLink,
  StreamSink,
} from '../runtime.js';
import type { StreamSettings } from '../../shared/types.js';
import { LiveThread, type BlockingLiveHarness } from '../worker/live-thread.js';
import type { WasmStreamSettings } from './stream-call.js';

/** Streams one endpoint of a wasm plugin holds at once on an instance, unless `stream.max_connections` says. */
export const WASM_MAX_STREAMS = 16;

/** The `stream` endpoints of `manifest`, by key, as the wasm harness applies them. */
export function streamSettingsOf(manifest: Manifest): Record<string, WasmStreamSettings> {
  const settings: Record<string, WasmStreamSettings> = {};
  for (const e of manifest.endpoints) {
    if (!e.stream) continue;
    settings[`${e.method} ${e.path}`] = {
      maxChunkBytes: e.stream.max_chunk_bytes,
      idleMs: parseDuration(e.stream.idle_timeout)!,
      totalMs: parseDuration(e.stream.total_timeout)!,
    };
  }
  return settings;
}

export class WasmStreams implements HeldLiveChannel {
  readonly defaultMaxStreams = WASM_MAX_STREAMS;
  readonly #threads: LiveThread[] = [];
  /** Threads at most: every stream endpoint's cap, within `limits.wasmStreamThreads`. Past it, 503. */
  readonly #maxThreads: number;
  readonly #make: () => LiveThread;

  constructor(
    spec: RuntimeSpec,
    hooks: RuntimeHooks,
    parts: LiveParts,
    harness: BlockingLiveHarness,
  ) {
    // The host's ceiling over what the manifest asks: each thread is a module instance of its own.
    this.#maxThreads = Math.min(
      spec.limits.wasmStreamThreads,
      spec.manifest.endpoints.reduce(
        (n, e) => n + (e.stream ? (e.stream.max_connections ?? WASM_MAX_STREAMS) : 0),
        0,
      ),
    );
    this.#make = () =>
      new LiveThread(spec, hooks, parts.flagCells, parts.violation, parts.content, harness);
  }

  get connections(): number {
    return this.#threads.reduce((n, t) => n + t.connections, 0);
  }

  stream(
    sink: StreamSink,
    key: string,
    request: PluginRequest,
    body?: RequestBodySource,
    settings?: StreamSettings,
    context?: StreamContext,
  ): StreamLink {
    let thread = this.#threads.find((t) => !t.busy);
    if (!thread && this.#threads.length < this.#maxThreads) {
      thread = this.#make();
      this.#threads.push(thread);
    }
    // The request's trace and flag values go with it, as with a request's task (`stream-call.ts`).
    if (thread) return thread.stream(sink, key, request, body, settings, context);
    const message = `every stream thread of the plugin is busy (${this.#maxThreads}: stream.max_connections, limits.wasmStreamThreads)`;
    const { statusCode, body: error } = errorResponse(
      ErrorCodes.TOO_MANY_CONNECTIONS,
      message,
      request.id,
    );
    queueMicrotask(() => {
      sink.head(statusCode, { 'content-type': 'application/json', 'retry-after': '1' });
      sink.chunk(JSON.stringify(error));
      sink.end();
    });
    return { more() {}, cancel() {} };
  }

  closeAll(code: number, reason: string): void {
    for (const thread of this.#threads) thread.closeAll(code, reason);
  }

  async close(timeoutMs: number): Promise<void> {
    await Promise.all(this.#threads.map((t) => t.close(timeoutMs)));
  }
}
