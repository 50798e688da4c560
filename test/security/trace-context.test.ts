import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { PluginGateway } from '../../src/index.js';
import { gatewayWith } from '../helpers.js';

const exporter = new InMemorySpanExporter();
let gateway: PluginGateway;

beforeAll(async () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(
    new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
  );
  gateway = await gatewayWith(['traced-backend']);
});
afterAll(async () => {
  await gateway.stop();
  trace.disable();
  context.disable();
  propagation.disable();
});

const forged: unknown[] = [
  `00-${'0'.repeat(32)}-${'b'.repeat(16)}-01`, // all-zero trace id
  `00-${'a'.repeat(32)}-${'0'.repeat(16)}-01`, // all-zero span id
  `00-${'A'.repeat(32)}-${'b'.repeat(16)}-01`, // upper case
  `01-${'a'.repeat(32)}-${'b'.repeat(16)}-01`, // unknown version
  `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01-extra`,
  `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01\r\nx-injected: 1`,
  'x'.repeat(1 << 20),
  [`00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`],
];

it("ignores a caller's traceparent that is not a valid W3C one: a fresh trace, served as usual", async () => {
  for (const traceparent of forged) {
    exporter.reset();
    const res = await gateway.handle({
      method: 'GET',
      path: '/backend',
      headers: { traceparent: traceparent as string },
    });
    expect(res.statusCode).toBe(200);
    const seen = (res.body as { trace: { traceId: string; traceparent: string } }).trace;
    const [span] = exporter.getFinishedSpans().filter((s) => s.name.startsWith('traced-backend'));
    expect(span!.parentSpanContext).toBeUndefined();
    expect(seen.traceId).not.toBe('a'.repeat(32));
    expect(seen.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
  }
});
