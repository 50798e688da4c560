/**
 * The host of test/security/inherited-descriptors.test.ts: started with a file open on a high
 * descriptor without close-on-exec (as a supervisor or a shell leaves them), it asks a `process`
 * plugin which descriptors hold the marker, and prints the answer as one JSON line.
 *
 *   node --import tsx test/security/inherited-descriptors.child.ts <marker> <bwrap: yes|no>
 */
import path from 'node:path';
import { PluginGateway } from '../../src/index.js';

const [marker, bwrap] = process.argv.slice(2);
const gateway = new PluginGateway({
  logger: false,
  sandbox: { bwrap: bwrap === 'yes', requireBwrap: bwrap === 'yes' },
});
await gateway.load(path.resolve(import.meta.dirname, '../fixtures/proc-fd-scanner'));
await gateway.start();
const res = await gateway.handle({ method: 'GET', path: `/fd-scanner/${marker}`, headers: {} });
await gateway.stop();
process.stdout.write(`${JSON.stringify({ status: res.statusCode, body: res.body })}\n`);
