import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PluginGateway } from '../../src/index.js';
import { fixture } from '../helpers.js';
import { until } from '../registry/contract.js';
import { usable } from '../services/toolchains.js';
import { serveWithHostCalls, type HostCallGateway } from '../wasm/host-call-gateway.js';
import { CARGO_TARGET_DIR, templates } from '../wasm/templates.js';

/**
 * A Rust wasm plugin (extism-pdk) uses each host call of the `pgw` crate — flags, publish, fetch (the
 * URL from its settings), call — and the host checks each as the manifest grants it. Built once with
 * cargo into the test run's shared target folder.
 */
const source = fixture('wasm-rust-host');
const rust = templates.find((t) => t.lang === 'rust')!;
const present = usable('the Rust wasm host-call tests', rust.probe(), rust.install);
const dir = mkdtempSync(path.join(os.tmpdir(), 'pgw-wasm-rust-'));
let gateway: PluginGateway;
let served: HostCallGateway | undefined;

const get = (p: string) => gateway.handle({ method: 'GET', path: p, headers: {} });

beforeAll(async () => {
  if (!present) return;
  execFileSync('cargo', ['build', '--release', '--target', 'wasm32-unknown-unknown', '--quiet'], {
    cwd: source,
    stdio: 'pipe',
    timeout: 600_000,
    env: { ...process.env, CARGO_TARGET_DIR },
  });
  copyFileSync(
    path.join(CARGO_TARGET_DIR, 'wasm32-unknown-unknown/release/wasm_rust_host.wasm'),
    path.join(dir, 'plugin.wasm'),
  );
  copyFileSync(path.join(source, 'plugin.yaml'), path.join(dir, 'plugin.yaml'));
  served = await serveWithHostCalls(dir, '/flag');
  gateway = served.gateway;
}, 600_000);
afterAll(async () => {
  await served?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!present)("a Rust wasm plugin's host calls through pgw", () => {
  it('reads its flag as setFlag() leaves it', async () => {
    expect((await get('/flag')).body).toEqual({ shiny: false });
    await gateway.setFlag('wasm-rust-host', 'shiny', true);
    expect((await get('/flag')).body).toEqual({ shiny: true });
  });

  it('fetches from a host in permissions.network, the URL from its settings', async () => {
    expect((await get('/fetch')).body).toEqual({
      status: 200,
      body: 'hello from the allowed host',
    });
  });

  it('calls a plugin in its dependencies', async () => {
    expect((await get('/call')).body).toMatchObject({
      statusCode: 200,
      body: { name: 'rust', body: { n: 2 } },
    });
  });

  it('publishes an event its manifest permits; a subscriber sees it', async () => {
    const res = await gateway.handle({ method: 'POST', path: '/publish', headers: {} });
    expect(res.statusCode).toBe(202);
    await until(async () => {
      const seen = (await get('/events/seen')).body as { type: string; source: string }[];
      return seen.some((e) => e.type === 'track.probed' && e.source === 'wasm-rust-host');
    }, 'track.probed seen');
  });
});
