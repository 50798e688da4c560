import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PluginGateway, type GatewayOptions } from '../../src/index.js';
import { fixture } from '../helpers.js';
import { until } from '../registry/contract.js';

/** A started gateway around one built wasm plugin, and what its host calls reach. */
export interface HostCallGateway {
  gateway: PluginGateway;
  get(path: string): ReturnType<PluginGateway['handle']>;
  /** Stops the gateway and the allowed host. */
  close(): Promise<void>;
}

/**
 * Serves the wasm plugin built into `dir` beside what its host calls need: the `echo` plugin (its
 * dependency, for `call`), the `events` plugin (a subscriber, for `publish`), and a real HTTP server
 * on port 0 as the allowed host of `fetch`, whose URL the plugin reads from its settings (`fetchUrl`).
 * Resolves once `readyPath` answers 200: a plugin with dependencies may still be starting when
 * `start()` resolves (ADR 0087).
 */
export async function serveWithHostCalls(
  dir: string,
  readyPath: string,
  logger: GatewayOptions['logger'] = false,
): Promise<HostCallGateway> {
  const allowed = http.createServer((_req, res) => res.end('hello from the allowed host'));
  await new Promise<void>((r) => allowed.listen(0, '127.0.0.1', r));
  const { port } = allowed.address() as AddressInfo;
  const gateway = new PluginGateway({ logger });
  const get = (path: string) => gateway.handle({ method: 'GET', path, headers: {} });
  const close = async () => {
    await gateway.stop();
    await new Promise((r) => allowed.close(r));
  };
  try {
    await gateway.load(fixture('echo'));
    await gateway.load(dir, { config: { fetchUrl: `http://127.0.0.1:${port}/hello` } });
    await gateway.load(fixture('events'));
    await gateway.start();
    await until(async () => (await get(readyPath)).statusCode === 200, `${dir} serving`, 30_000);
  } catch (error) {
    await close();
    throw error;
  }
  return { gateway, get, close };
}
