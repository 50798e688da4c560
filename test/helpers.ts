import type { Server } from 'node:http';
import path from 'node:path';
import {
  PluginGateway,
  type GatewayLogger,
  type GatewayOptions,
  type PluginStatus,
} from '../src/index.js';

export const fixture = (name: string): string =>
  path.resolve(import.meta.dirname, 'fixtures', name);

export interface LogLine {
  level: string;
  msg?: string;
  [field: string]: unknown;
}

/** A logger that keeps every line, for assertions. */
export function memoryLogger(): GatewayLogger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: string) => (obj: object, msg?: string) =>
    void lines.push({ level, msg, ...obj });
  return {
    lines,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    isLevelEnabled: () => true,
  };
}

/**
 * A started gateway with the given fixtures loaded; stopped by the caller. Its plugins boot at
 * `start()` (`warm: true`) unless `options` say otherwise: these tests are about what a running plugin
 * does, and a first request that also boots may pass a short timeout on a busy machine. The lazy
 * default has tests of its own (`warm: false`, or a `PluginGateway` made by hand).
 */
export async function gatewayWith(
  fixtures: string[],
  options: GatewayOptions = {},
): Promise<PluginGateway> {
  const gateway = new PluginGateway({ logger: false, warm: true, ...options });
  for (const f of fixtures) await gateway.load(fixture(f));
  await gateway.start();
  return gateway;
}

/** Resolves when the plugin reaches `status` (at once when it already has). */
export function statusOf(
  gateway: PluginGateway,
  name: string,
  status: PluginStatus,
  timeoutMs = 10_000,
): Promise<void> {
  if (gateway.get(name)?.status === status) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      gateway.off('plugin:status', listener);
      reject(
        new Error(
          `${name} did not become ${status} within ${timeoutMs} ms (is ${gateway.get(name)?.status})`,
        ),
      );
    }, timeoutMs);
    const listener = (info: { name: string; status: PluginStatus }) => {
      if (info.name !== name || info.status !== status) return;
      clearTimeout(timer);
      gateway.off('plugin:status', listener);
      resolve();
    };
    gateway.on('plugin:status', listener);
  });
}

export const get = (gateway: PluginGateway, p: string, extra: object = {}) =>
  gateway.handle({ method: 'GET', path: p, headers: {}, ...extra });

/** Closes a test server now, dropping its keep-alive connections (no-op without one). */
export async function closeServer(server: Server | undefined): Promise<void> {
  if (!server) return;
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}
