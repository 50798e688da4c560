/**
 * Trace context as the layers below `core` see it, with no OpenTelemetry type: a request's span lends
 * the mesh one child span per attempt (the hop to a runtime), and a runtime hands the hop's W3C
 * `traceparent` to the plugin (`ctx.trace`) or to the next gateway (a `traceparent` header).
 * @module
 */
/**
 * Where a request's trace rides on its task input. A symbol key: structured clone (threads) and
 * JSON (processes, peers) both leave it out, so it never leaves the host.
 */
export const REQUEST_TRACE: unique symbol = Symbol('pgw.requestTrace');

/** A request's span, as the mesh uses it. */
export interface RequestTrace {
  /** Starts the span of one attempt on `instance` (the first is 0). */
  hop(instance: string, attempt: number): HopTrace;
}

/** The span of one attempt. */
export interface HopTrace {
  /** W3C `traceparent` naming this hop as the parent. */
  readonly traceparent: string;
  /** Ends the hop with what the runtime answered (a response, or a task failure). */
  end(result: unknown): void;
}

/** A plugin's view of the trace it serves under (`ctx.trace`). */
export interface PluginTrace {
  /** 32 lowercase hex digits. */
  readonly traceId: string;
  /** The gateway's span for this hop: 16 lowercase hex digits. */
  readonly spanId: string;
  /** Whether the trace is sampled (`traceparent` flag 01). */
  readonly sampled: boolean;
  /** The W3C `traceparent` header value, to pass on to what the plugin calls. */
  readonly traceparent: string;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZEROS_32 = '0'.repeat(32);
const ZEROS_16 = '0'.repeat(16);

/** A `traceparent` value parsed, or `undefined` for anything but a valid version-00 one. */
export function parseTraceparent(value: unknown): PluginTrace | undefined {
  if (typeof value !== 'string' || value.length !== 55) return undefined;
  const m = TRACEPARENT.exec(value);
  if (!m || m[1] === ZEROS_32 || m[2] === ZEROS_16) return undefined;
  return Object.freeze({
    traceId: m[1]!,
    spanId: m[2]!,
    sampled: (parseInt(m[3]!, 16) & 1) === 1,
    traceparent: value,
  });
}
