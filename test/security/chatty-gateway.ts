/**
 * Run as a child process by plugin-logs.test.ts: a gateway with the default logger (pino on stdout)
 * serving the chatty plugin, whose thread prints lines shaped like the host's own.
 */
import { PluginGateway } from '../../src/index.js';
import { fixture } from '../helpers.js';

const gateway = new PluginGateway();
await gateway.load(fixture('chatty'));
await gateway.start();
for (const path of ['/chatty/print', '/chatty/flood', '/chatty/log']) {
  await gateway.handle({ method: 'GET', path, headers: {} });
}
// Let the threads' output arrive before stopping.
await new Promise((r) => setTimeout(r, 500));
await gateway.stop();
