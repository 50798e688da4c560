import { context, propagation, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PluginGateway } from '../../src/index.js';
import { MemoryRegistry } from '../../src/index.js';
import { startNode, type FleetNode } from '../fleet-node.js';
import { until } from '../registry/contract.js';
import { fixture, memoryLogger, statusOf } from '../helpers.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

interface SeenTrace {
  traceId: string;
  spanId: string;
  sampled: boolean;
  traceparent: string;
}

const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
const named = (prefix: string) =>
  exporter.getFinishedSpans().filter((s) => s.name.startsWith(prefix));

describe('OpenTelemetry tracing', () => {
  const log = memoryLogger();
  let gateway: PluginGateway;

  beforeAll(async () => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(provider);
    gateway = new PluginGateway({ logger: log });
    await gateway.load(fixture('traced-backend'));
    await gateway.load(fixture('traced'));
    await gateway.start();
    await statusOf(gateway, 'traced', 'active');
  });
  afterEach(() => exporter.reset());
  afterAll(async () => {
    await gateway.stop();
    trace.disable();
    context.disable();
    propagation.disable();
  });

  it('gives a request a span and the worker hop a child span, whose ids the plugin sees as ctx.trace', async () => {
    const res = await gateway.handle({ method: 'GET', path: '/traced', headers: {} });
    expect(res.statusCode).toBe(200);
    const seen = (res.body as { trace: SeenTrace }).trace;
    const [request] = named('traced GET /traced');
    const [hop] = named('veza.hop');
    expect(request).toBeDefined();
    expect(hop).toBeDefined();
    expect(request!.attributes).toMatchObject({
      'http.request.method': 'GET',
      'http.route': '/traced',
      'http.response.status_code': 200,
      'veza.plugin.name': 'traced',
      'veza.plugin.version': '1.0.0',
      'veza.attempts': 1,
      'veza.request.door': 'host',
    });
    expect(parentOf(hop!)).toBe(request!.spanContext().spanId);
    expect(seen.traceId).toBe(request!.spanContext().traceId);
    expect(seen.spanId).toBe(hop!.spanContext().spanId);
    expect(seen.traceparent).toBe(`00-${seen.traceId}-${seen.spanId}-01`);
  });

  it('continues the trace of a W3C traceparent header when the host has no active span', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parent = '00f067aa0ba902b7';
    await gateway.handle({
      method: 'GET',
      path: '/traced',
      headers: { traceparent: `00-${traceId}-${parent}-01` },
    });
    const [request] = named('traced GET /traced');
    expect(request!.spanContext().traceId).toBe(traceId);
    expect(parentOf(request!)).toBe(parent);
  });

  it('is a child of the host span active when handle() is called', async () => {
    const tracer = trace.getTracer('host');
    let hostSpan: Span | undefined;
    await tracer.startActiveSpan('host request', async (span) => {
      hostSpan = span;
      // The header is another trace's: the host's own span wins.
      await gateway.handle({
        method: 'GET',
        path: '/traced',
        headers: { traceparent: `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01` },
      });
      span.end();
    });
    const [request] = named('traced GET /traced');
    expect(request!.spanContext().traceId).toBe(hostSpan!.spanContext().traceId);
    expect(parentOf(request!)).toBe(hostSpan!.spanContext().spanId);
  });

  it("makes a plugin's ctx.call() a child of the request it serves", async () => {
    const res = await gateway.handle({ method: 'GET', path: '/traced/call', headers: {} });
    const body = res.body as { trace: SeenTrace; backend: { trace: SeenTrace } };
    const [outer] = named('traced GET /traced/call');
    const [inner] = named('traced-backend GET /backend');
    expect(inner!.attributes['veza.request.door']).toBe('call');
    expect(inner!.spanContext().traceId).toBe(outer!.spanContext().traceId);
    expect(parentOf(inner!)).toBe(outer!.spanContext().spanId);
    expect(body.backend.trace.traceId).toBe(body.trace.traceId);
  });

  it("puts the request's trace and span ids into the plugin's log lines and the request line", async () => {
    log.lines.length = 0;
    await gateway.handle({ method: 'GET', path: '/traced', headers: {} });
    const [request] = named('traced GET /traced');
    const [hop] = named('veza.hop');
    const { traceId, spanId } = request!.spanContext();
    await expect.poll(() => log.lines.find((l) => l.msg === 'serving')).toBeDefined();
    const own = log.lines.find((l) => l.msg === 'serving');
    // The plugin wrote under the gateway's hop to it.
    const hopId = hop!.spanContext().spanId;
    expect(own).toMatchObject({ source: 'plugin', trace_id: traceId, span_id: hopId });
    const line = log.lines.find((l) => l.msg === 'request');
    expect(line).toMatchObject({ trace_id: traceId, span_id: spanId });
  });

  it('carries the trace into a plugin running in the process runtime', async () => {
    const untrusted = new PluginGateway({ logger: false });
    try {
      await untrusted.load(fixture('traced-backend'), { trusted: false });
      await untrusted.start();
      expect(untrusted.get('traced-backend')?.runtime).toBe('process');
      const res = await untrusted.handle({ method: 'GET', path: '/backend', headers: {} });
      const seen = (res.body as { trace: SeenTrace }).trace;
      const [hop] = named('veza.hop');
      expect(seen.spanId).toBe(hop!.spanContext().spanId);
    } finally {
      await untrusted.stop();
    }
  });

  it.each([
    ['one call a request (version 1)', false],
    ['a peer channel (version 2)', true],
  ])(
    "continues the trace on the gateway that owns a plugin, across the fleet's peer protocol: %s",
    async (_, channel) => {
      const registry = new MemoryRegistry();
      const nodes: FleetNode[] = [];
      try {
        nodes.push(
          await startNode('trace-a', { registry, upgrades: channel }),
          await startNode('trace-b', { registry }),
        );
        const [a, b] = nodes as [FleetNode, FleetNode];
        let upgrades = 0;
        // Only a server that serves upgrades may listen for them (a listener makes Node hand them on).
        if (channel) a.server.prependListener('upgrade', () => upgrades++);
        await a.gateway.load(fixture('traced-backend'));
        await until(
          async () =>
            (await b.gateway.handle({ method: 'GET', path: '/backend' })).statusCode === 200 &&
            upgrades === (channel ? 1 : 0),
          '/backend to be routed from b',
        );
        // The channel open, its first call is the one traced (the one before it may have gone as v1).
        await b.gateway.handle({ method: 'GET', path: '/backend' });
        exporter.reset();
        const res = await b.gateway.handle({ method: 'GET', path: '/backend', headers: {} });
        const seen = (res.body as { trace: SeenTrace }).trace;
        const spans = named('traced-backend GET /backend');
        const entry = spans.find((s) => s.attributes['veza.plugin.location'] === 'remote');
        const owner = spans.find((s) => s.attributes['veza.request.door'] === 'peer');
        const hops = named('veza.hop');
        const forward = hops.find((h) => parentOf(h) === entry!.spanContext().spanId);
        expect(forward!.kind).toBe(2); // CLIENT: the hop to another gateway
        expect(owner!.kind).toBe(1); // SERVER
        expect(parentOf(owner!)).toBe(forward!.spanContext().spanId);
        expect(owner!.spanContext().traceId).toBe(entry!.spanContext().traceId);
        expect(seen.traceId).toBe(entry!.spanContext().traceId);
      } finally {
        await Promise.all(nodes.map((n) => n.close()));
      }
    },
  );

  it('marks a 5xx as an error, with the failure on the request and on the hop', async () => {
    const res = await gateway.handle({ method: 'GET', path: '/traced/fail', headers: {} });
    expect(res.statusCode).toBe(500);
    const [request] = named('traced GET /traced/fail');
    const [hop] = named('veza.hop');
    expect(request!.status.code).toBe(SpanStatusCode.ERROR);
    expect(request!.attributes).toMatchObject({
      'veza.error.code': 'PGW_ERR_PLUGIN_ERROR',
      'veza.failure': 'threw',
    });
    expect(hop!.status.code).toBe(SpanStatusCode.ERROR);
  });

  it('records the mesh refusing a request as attributes, with no hop', async () => {
    await gateway.handle({ method: 'GET', path: '/traced/limited', headers: {}, userId: 'u1' });
    exporter.reset();
    const res = await gateway.handle({
      method: 'GET',
      path: '/traced/limited',
      headers: {},
      userId: 'u1',
    });
    expect(res.statusCode).toBe(429);
    const [request] = named('traced GET /traced/limited');
    expect(request!.attributes).toMatchObject({
      'http.response.status_code': 429,
      'veza.error.code': 'PGW_ERR_RATE_LIMITED',
      'veza.attempts': 0,
    });
    expect(named('veza.hop')).toHaveLength(0);
  });
});

describe('tracing options', () => {
  it('uses the tracer provider the host passes, registered globally or not', async () => {
    const own = new InMemorySpanExporter();
    const tracerProvider = new BasicTracerProvider({
      spanProcessors: [new SimpleSpanProcessor(own)],
    });
    const gateway = new PluginGateway({ logger: false, tracing: { tracerProvider } });
    try {
      await gateway.load(fixture('traced-backend'));
      await gateway.load(fixture('traced'));
      await gateway.start();
      await statusOf(gateway, 'traced', 'active');
      const res = await gateway.handle({ method: 'GET', path: '/traced', headers: {} });
      expect((res.body as { trace: SeenTrace | null }).trace).not.toBeNull();
      expect(own.getFinishedSpans().map((s) => s.name)).toContain('traced GET /traced');
    } finally {
      await gateway.stop();
    }
  });

  it('with no SDK registered, makes no span and gives the plugin no ctx.trace', async () => {
    trace.disable();
    const gateway = new PluginGateway({ logger: false });
    try {
      await gateway.load(fixture('traced-backend'));
      await gateway.start();
      const res = await gateway.handle({ method: 'GET', path: '/backend', headers: {} });
      expect(res.statusCode).toBe(200);
      expect((res.body as { trace: SeenTrace | null }).trace).toBeNull();
    } finally {
      await gateway.stop();
    }
  });

  it('with tracing: false, makes no span and gives the plugin no ctx.trace', async () => {
    const own = new InMemorySpanExporter();
    trace.setGlobalTracerProvider(
      new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(own)] }),
    );
    const gateway = new PluginGateway({ logger: false, tracing: false });
    try {
      await gateway.load(fixture('traced-backend'));
      await gateway.load(fixture('traced'));
      await gateway.start();
      await statusOf(gateway, 'traced', 'active');
      const res = await gateway.handle({ method: 'GET', path: '/traced', headers: {} });
      expect(res.statusCode).toBe(200);
      expect((res.body as { trace: SeenTrace | null }).trace).toBeNull();
      expect(own.getFinishedSpans()).toHaveLength(0);
    } finally {
      await gateway.stop();
      trace.disable();
    }
  });
});
