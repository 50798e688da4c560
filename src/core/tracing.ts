/**
 * OpenTelemetry spans for the request path, through `@opentelemetry/api` when the host has it (an
 * optional peer: without it, or with `tracing: false`, nothing here runs per request). The API's global
 * tracer provider is used unless the host passes one; with no SDK registered, its spans are no-ops.
 *
 * A request gets one span (`<plugin> <METHOD> <route>`) whose parent is the host's active span, else
 * the request's `traceparent` header; each attempt on an instance gets a child span (the hop to the
 * thread, process or other gateway), whose `traceparent` the plugin sees as `ctx.trace` and a peer
 * call carries as a header. Mesh decisions end up as attributes: the outcome's error code, the
 * attempts made, the instance that answered.
 * @module
 */
import type * as OtelApi from '@opentelemetry/api';
import { isTaskFailure } from '../shared/task-failure.js';
import { parseTraceparent, type HopTrace, type RequestTrace } from '../shared/trace-context.js';
import type { Served } from '../mesh/instances.js';
import type { PluginResponse } from '../shared/types.js';

type Api = typeof OtelApi;

/** What `tracing` may be set to: on (the default), off, or on with the host's own tracer provider. */
export type TracingSetting = boolean | { tracerProvider: TracerProviderLike };

/** The one method of an OpenTelemetry `TracerProvider` the gateway uses. */
export interface TracerProviderLike {
  /** A tracer named for the instrumentation library (`@veza/plugin-gateway`). */
  getTracer(name: string, version?: string): unknown;
}

/** A span's context as log lines name it. */
export interface LogTrace {
  trace_id: string;
  span_id: string;
}

const TRACER_NAME = '@veza/plugin-gateway';
const TRACER_VERSION = '0.1.0';

/** Where a traced request came from other than a host's `handle()`, and its parent span. */
export interface TraceDoor {
  door: 'peer' | 'call';
  /** An OpenTelemetry context (`undefined`: taken from the request's headers). */
  parent: unknown;
}

/** Spans of the request path; `enabled` is false until the API has loaded, and for good without it. */
export class Tracing {
  #api: Api | undefined;
  #tracer: OtelApi.Tracer | undefined;
  /** The API's global provider, while it has no SDK behind it (checked per request: one may come later). */
  #global: OtelApi.ProxyTracerProvider | undefined;
  #noop: OtelApi.TracerProvider | undefined;
  /** `plugin \n request id` → the span of a request being served. */
  readonly #open = new Map<string, RequestSpan>();
  /** Settles once `@opentelemetry/api` was looked for (never rejects). */
  readonly ready: Promise<void>;

  constructor(setting: TracingSetting) {
    this.ready =
      setting === false
        ? Promise.resolve()
        : import('@opentelemetry/api').then(
            (api: Api) => {
              this.#api = api;
              const provider = setting === true ? api.trace : setting.tracerProvider;
              this.#tracer = provider.getTracer(TRACER_NAME, TRACER_VERSION) as OtelApi.Tracer;
              const global = api.trace.getTracerProvider();
              if (setting === true && global instanceof api.ProxyTracerProvider) {
                this.#global = global;
                this.#noop = new api.ProxyTracerProvider().getDelegate();
              }
            },
            () => {},
          );
  }

  /** Whether requests get spans now: the API loaded, and an SDK registered (or a provider given). */
  get enabled(): boolean {
    return (
      this.#tracer !== undefined &&
      (this.#global === undefined || this.#global.getDelegate() !== this.#noop)
    );
  }

  /**
   * The parent of a request that came in with `headers`: the host's active span when there is one (its
   * own HTTP instrumentation), else the W3C `traceparent` the caller sent, else none.
   */
  parentFrom(headers: Readonly<Record<string, string | string[] | undefined>>): OtelApi.Context {
    const api = this.#api!;
    const active = api.context.active();
    if (api.trace.getSpan(active) !== undefined) return active;
    const sent = parseTraceparent(headers.traceparent);
    if (sent === undefined) return active;
    return api.trace.setSpanContext(active, {
      traceId: sent.traceId,
      spanId: sent.spanId,
      traceFlags: sent.sampled ? 1 : 0,
      isRemote: true,
    });
  }

  /**
   * Starts the span of request `requestId` to `plugin`'s route `key` — under `door.parent`, else the
   * parent `headers` name — and keeps it while the plugin serves the request ({@link Tracing.spanOf}).
   */
  open(
    plugin: Served,
    key: string,
    requestId: string,
    headers: Readonly<Record<string, string | string[] | undefined>>,
    door: TraceDoor | undefined,
  ): RequestSpan {
    const parent = (door?.parent ?? this.parentFrom(headers)) as OtelApi.Context;
    const span = this.startRequest(plugin, key, requestId, parent, door?.door ?? 'host');
    const slot = `${plugin.name}\n${requestId}`;
    // A host may reuse a request id: the first of them keeps the slot.
    if (!this.#open.has(slot)) this.#open.set(slot, span);
    return span;
  }

  /** Ends a span `open()` started, with the response the caller gets (and the plugin's failure). */
  close(
    span: RequestSpan,
    plugin: string,
    requestId: string,
    response: PluginResponse,
    failure: string | undefined,
  ): void {
    span.end(response, failure);
    const slot = `${plugin}\n${requestId}`;
    if (this.#open.get(slot) === span) this.#open.delete(slot);
  }

  /** The span of request `requestId` that plugin `name` is serving now, if any. */
  spanOf(name: string, requestId: string): RequestSpan | undefined {
    return this.#open.size === 0 ? undefined : this.#open.get(`${name}\n${requestId}`);
  }

  /** Starts the span of a request to `plugin`'s route `key` (`"GET /users/{id}"`). */
  startRequest(
    plugin: Served,
    key: string,
    requestId: string,
    parent: OtelApi.Context,
    door: 'host' | 'peer' | 'call',
  ): RequestSpan {
    const api = this.#api!;
    const space = key.indexOf(' ');
    const span = this.#tracer!.startSpan(
      `${plugin.name} ${key}`,
      {
        kind: door === 'peer' ? api.SpanKind.SERVER : api.SpanKind.INTERNAL,
        attributes: {
          'http.request.method': key.slice(0, space),
          'http.route': key.slice(space + 1),
          'veza.plugin.name': plugin.name,
          'veza.plugin.version': plugin.version,
          'veza.plugin.location': plugin.location,
          'veza.request.id': requestId,
          'veza.request.door': door,
        },
      },
      parent,
    );
    const context = api.trace.setSpan(parent, span);
    return new RequestSpan(api, this.#tracer!, span, context, plugin.location === 'remote');
  }
}

/** One request's span; the mesh makes its hops through `RequestTrace`. */
export class RequestSpan implements RequestTrace {
  #attempts = 0;
  #instance: string | undefined;

  constructor(
    private readonly api: Api,
    private readonly tracer: OtelApi.Tracer,
    readonly span: OtelApi.Span,
    /** The context with this span active: the parent of its hops and of the plugin's `ctx.call()`s. */
    readonly context: OtelApi.Context,
    /** Hops go to other gateways of the fleet (client spans). */
    private readonly remote: boolean,
  ) {}

  hop(instance: string, attempt: number): HopTrace {
    this.#attempts = attempt + 1;
    this.#instance = instance;
    const span = this.tracer.startSpan(
      'veza.hop',
      {
        kind: this.remote ? this.api.SpanKind.CLIENT : this.api.SpanKind.INTERNAL,
        attributes: { 'veza.instance': instance, 'veza.attempt': attempt },
      },
      this.context,
    );
    return new Hop(this.api, span);
  }

  /** The span's ids for log lines. */
  get logTrace(): LogTrace {
    const { traceId, spanId } = this.span.spanContext();
    return { trace_id: traceId, span_id: spanId };
  }

  /** Ends the span with the response the caller gets (and the plugin's failure, if any). */
  end(response: PluginResponse, failure: string | undefined): void {
    const span = this.span;
    const status = response.statusCode;
    span.setAttribute('http.response.status_code', status);
    span.setAttribute('veza.attempts', this.#attempts);
    if (this.#instance !== undefined) span.setAttribute('veza.instance', this.#instance);
    const code = errorCodeOf(response);
    if (code !== undefined) span.setAttribute('veza.error.code', code);
    if (failure !== undefined) span.setAttribute('veza.failure', failure);
    if (status >= 500) span.setStatus({ code: this.api.SpanStatusCode.ERROR, message: code });
    span.end();
  }
}

class Hop implements HopTrace {
  readonly traceparent: string;
  constructor(
    private readonly api: Api,
    private readonly span: OtelApi.Span,
  ) {
    const { traceId, spanId, traceFlags } = span.spanContext();
    this.traceparent = `00-${traceId}-${spanId}-0${traceFlags & 1}`;
  }

  end(result: unknown): void {
    if (isTaskFailure(result)) {
      this.span.setAttribute('veza.failure', result.__pgw);
      this.span.setStatus({ code: this.api.SpanStatusCode.ERROR, message: result.__pgw });
    } else if (typeof (result as PluginResponse | null)?.statusCode === 'number') {
      this.span.setAttribute('http.response.status_code', (result as PluginResponse).statusCode);
    }
    this.span.end();
  }
}

/** The gateway's own error code in an error body (`{ error: { code } }`). */
function errorCodeOf(response: PluginResponse): string | undefined {
  const code = (response.body as { error?: { code?: unknown } } | null | undefined)?.error?.code;
  return typeof code === 'string' && code.startsWith('PGW_ERR_') ? code : undefined;
}
