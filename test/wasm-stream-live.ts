/**
 * The AssemblyScript stream fixture (test/fixtures/wasm-stream), built and served over real HTTP
 * (test/integration/wasm-stream.test.ts, test/security/wasm-stream.test.ts).
 */
import { execFileSync } from 'node:child_process';
import type http from 'node:http';
import type { GatewayLogger, PluginGateway } from '../src/index.js';
import { fixture, gatewayWith } from './helpers.js';
import { liveServer } from './live-clients.js';
import { runs, usable } from './services/toolchains.js';

const dir = fixture('wasm-stream');

/** Whether AssemblyScript can build the fixture here (else skipped with the reason printed). */
export const wasmStreamBuildable = (): boolean =>
  usable(
    'AssemblyScript',
    runs('npx', ['--no-install', 'asc', '--version'], dir),
    'npm i -D assemblyscript@0.28 @extism/as-pdk@1.0.0',
  );

/** Builds the fixture's module and serves it through a started gateway logging to `logger`. */
export async function serveWasmStream(
  logger: GatewayLogger,
): Promise<{ gateway: PluginGateway; server: http.Server; url: string }> {
  execFileSync('npx', ['--no-install', 'asc', 'assembly/index.ts', '--outFile', 'plugin.wasm'], {
    cwd: dir,
    stdio: 'pipe',
  });
  const gateway = await gatewayWith(['wasm-stream'], { logger });
  const live = await liveServer(gateway);
  return { gateway, server: live.server, url: `http://${live.url}` };
}
