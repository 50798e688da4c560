import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll } from 'vitest';
import type { PluginGateway } from '../src/index.js';

// Inside the repository, so that the plugins resolve @veza/plugin-gateway/sdk as a host app's would.
const root = path.resolve(import.meta.dirname, '.swap-fixtures', String(process.pid));
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface VersionSpec {
  /** Extra routes besides `GET /sw/ping`: `'GET /sw/x'` → answered 200 with the version. */
  routes?: string[];
  /** JavaScript of `GET /sw/ping`'s handler body; default answers 200 with the version. */
  ping?: string;
  /** Body of `initialize()`. */
  init?: string;
  /** Body of `healthCheck()` (returns a HealthStatus). */
  health?: string;
  /** Adds `GET /sw/exit`, whose handler ends the thread. */
  exit?: boolean;
}

/** Writes version `version` of plugin `swapme` into a folder of its own, and returns the folder. */
export function writeVersion(version: string, spec: VersionSpec = {}, name = 'swapme'): string {
  const dir = path.join(root, `${name}-${version}-${Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(dir, { recursive: true });
  const pingRoute = name === 'swapme' ? 'GET /sw/ping' : `GET /${name}/ping`;
  const routes = [pingRoute, ...(spec.routes ?? []), ...(spec.exit ? ['GET /sw/exit'] : [])];
  writeFileSync(
    path.join(dir, 'plugin.yaml'),
    [
      `name: ${name}`,
      `version: ${version}`,
      'endpoints:',
      ...routes.flatMap((r) => [`  - path: ${r.split(' ')[1]}`, `    method: ${r.split(' ')[0]}`]),
    ].join('\n') + '\n',
  );
  const handlers = routes.map((r) =>
    r === 'GET /sw/exit'
      ? `'${r}': () => process.exit(9),`
      : r === pingRoute && spec.ping
        ? `'${r}': (req) => { ${spec.ping} },`
        : `'${r}': () => ({ statusCode: 200, body: { version: '${version}' } }),`,
  );
  writeFileSync(
    path.join(dir, 'index.js'),
    `import { definePlugin } from '@veza/plugin-gateway/sdk';
const version = '${version}';
export default definePlugin({
  ${spec.init ? `async initialize() { ${spec.init} },` : ''}
  ${spec.health ? `healthCheck() { ${spec.health} },` : ''}
  routes: {
    ${handlers.join('\n    ')}
  },
});
void version;
`,
  );
  return dir;
}

/** Concurrent in-process callers, each awaiting one request after another, until stopped. */
export function steadyLoad(gateway: PluginGateway, paths: string[], callers = 8) {
  let running = true;
  const statuses = new Map<number, number>();
  // By the order the requests were sent (the gateway routes a request when it is handed it): a
  // request in flight on the old version may well answer after the new version's first answer.
  const sent: (string | undefined)[] = [];
  const versions: string[] = [];
  const failures: { status: number; body: unknown }[] = [];
  const loops = Array.from({ length: callers }, async (_, n) => {
    for (let i = n; running; i++) {
      const seq = sent.push(undefined) - 1;
      const res = await gateway.handle({ method: 'GET', path: paths[i % paths.length]! });
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      if (res.statusCode >= 400) failures.push({ status: res.statusCode, body: res.body });
      else sent[seq] = (res.body as { version: string }).version;
      // A yield between requests, as a real caller's I/O would give.
      await new Promise((resolve) => setImmediate(resolve));
    }
  });
  return {
    versions,
    failures,
    get total() {
      return [...statuses.values()].reduce((a, b) => a + b, 0);
    },
    async stop() {
      running = false;
      await Promise.all(loops);
      versions.push(...sent.filter((v): v is string => v !== undefined));
      return { total: this.total, failures, versions };
    },
  };
}

export const until = async (check: () => boolean, what: string, timeoutMs = 15_000) => {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};
