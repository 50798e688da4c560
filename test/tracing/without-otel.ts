// A host without @opentelemetry/api: the gateway serves, and the plugin gets no ctx.trace.
import path from 'node:path';
import { PluginGateway } from '../../src/index.js';

const otel = await import('@opentelemetry/api').then(
  () => 'present',
  () => 'absent',
);
const gateway = new PluginGateway({ logger: false });
await gateway.load(path.resolve(import.meta.dirname, '../fixtures/traced-backend'));
await gateway.start();
const res = await gateway.handle({
  method: 'GET',
  path: '/backend',
  headers: { traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01` },
});
await gateway.stop();
console.log(JSON.stringify({ otel, statusCode: res.statusCode, body: res.body }));
