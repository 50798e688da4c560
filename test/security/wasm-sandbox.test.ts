import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PluginGateway, type CrashEvent } from '../../src/index.js';
import { fixture, get, memoryLogger, statusOf } from '../helpers.js';
import { taskMessages } from '../task-messages.js';

const dir = fixture('wasm-sandbox');
const scratch = mkdtempSync(path.join(os.tmpdir(), 'pgw-wasm-sec-'));
let gateway: PluginGateway;
let server: http.Server;
const served: string[] = [];
const log = memoryLogger();

/** A module of just a memory and the given imports of functions `() -> ()` (the binary format by hand). */
function moduleBytes(imports: [string, string][], memoryPages = 1): Buffer {
  const name = (s: string) => [s.length, ...Buffer.from(s)];
  const section = (id: number, body: number[]) => [id, body.length, ...body];
  const types = section(1, [1, 0x60, 0, 0]);
  const importBody = [
    imports.length,
    ...imports.flatMap(([m, n]) => [...name(m), ...name(n), 0, 0]),
  ];
  const leb = (n: number) => (n < 128 ? [n] : [(n & 0x7f) | 0x80, n >> 7]);
  const memory = section(5, [1, 0, ...leb(memoryPages)]);
  const exportMemory = section(7, [1, ...name('memory'), 2, 0]);
  return Buffer.from([
    0,
    0x61,
    0x73,
    0x6d,
    1,
    0,
    0,
    0,
    ...types,
    ...(imports.length ? section(2, importBody) : []),
    ...memory,
    ...exportMemory,
  ]);
}

/** A plugin folder in the scratch folder: `plugin.yaml` text and its `plugin.wasm`. */
function pluginDir(name: string, manifest: string, wasm: Buffer | string): string {
  const d = path.join(scratch, name);
  rmSync(d, { recursive: true, force: true });
  execFileSync('mkdir', ['-p', d]);
  writeFileSync(path.join(d, 'plugin.yaml'), manifest);
  if (typeof wasm === 'string') copyFileSync(wasm, path.join(d, 'plugin.wasm'));
  else writeFileSync(path.join(d, 'plugin.wasm'), wasm);
  return d;
}

beforeAll(async () => {
  execFileSync('npx', ['--no-install', 'asc', 'assembly/index.ts', '--outFile', 'plugin.wasm'], {
    cwd: dir,
    stdio: 'pipe',
  });
  server = http.createServer((req, res) => {
    served.push(`${req.headers.host}${req.url}`);
    res.end('hello from the allowed host');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  gateway = new PluginGateway({ logger: log });
  await gateway.load(dir, {
    config: {
      allowed: `http://127.0.0.1:${port}/hello`,
      // The same server under a name the manifest does not grant.
      refused: `http://localhost:${port}/hello`,
    },
  });
  await gateway.start();
}, 120_000);

afterAll(async () => {
  await gateway?.stop();
  server?.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe('a wasm plugin is held to its memory cap by the engine and the gateway', () => {
  it('grows its own memory only to the cap (3/4 of resources.memory), then serves on', async () => {
    const res = await get(gateway, '/grow');
    // 32 MiB × 0.75 = 384 pages of 64 KiB: memory.grow answers -1 past them, whatever the module declared.
    expect(res.statusCode).toBe(200);
    const { pages } = res.body as { pages: number };
    expect(pages).toBeLessThanOrEqual(384);
    expect(pages).toBeGreaterThan(384 - 16);
    await statusOf(gateway, 'wasm-sandbox', 'active');
    expect((await get(gateway, '/ok')).statusCode).toBe(200);
  });

  it('allocations of Extism blocks (outside its memory) past the cap fail the request, not the host', async () => {
    const res = await get(gateway, '/blocks');
    expect(res.statusCode).toBe(500);
    expect((await get(gateway, '/ok')).statusCode).toBe(200);
  });
});

describe('a wasm plugin cannot hold a thread or crash the host', () => {
  it('an endless loop is answered 504 at its deadline, and the plugin serves again', async () => {
    const res = await get(gateway, '/loop');
    expect(res.statusCode).toBe(504);
    expect((await get(gateway, '/ok')).statusCode).toBe(200);
  });

  it("alone in flight, a request goes on its thread's own port (ADR 0370); an endless loop sent so is ended at its deadline", async () => {
    expect((await get(gateway, '/ok')).statusCode).toBe(200); // a warm thread to take it
    const loop = await taskMessages(() => get(gateway, '/loop'));
    expect([loop.result.statusCode, loop.byPort]).toEqual([504, 1]);
    expect((await get(gateway, '/ok')).statusCode).toBe(200); // a fresh thread, through Piscina
    const sequential = await taskMessages(async () => {
      for (let i = 0; i < 5; i++) expect((await get(gateway, '/ok')).statusCode).toBe(200);
    });
    expect([sequential.messages, sequential.byPort]).toEqual([5, 5]);
  });

  it('requests of one tick with an endless loop among them: each other one answered 200, the loop 504', async () => {
    // Sent in one tick, they cross to the thread in batches (ADR 0300): those finished before the
    // loop leave before it starts; those after it, never seen by the module, run again on a new thread.
    const paths = ['/ok', '/ok', '/loop', '/ok', '/ok'];
    const answers = await Promise.all(paths.map((p) => get(gateway, p)));
    expect(answers.map((a) => a.statusCode)).toEqual([200, 200, 504, 200, 200]);
  });

  it('64 in flight with an endless loop among them: the requests held on the host are each answered 200', async () => {
    // A wasm thread holds two messages; the requests dispatched meanwhile wait on the host and leave
    // together when one is answered (ADR 0345). Behind the loop they leave for the thread that
    // replaces the one ended at its deadline.
    expect((await get(gateway, '/ok')).statusCode).toBe(200); // awake: /loop's 300 ms are its own
    const answers: Promise<{ statusCode: number }>[] = [];
    for (let tick = 0; tick < 8; tick++) {
      for (let i = 0; i < 8; i++)
        answers.push(get(gateway, tick === 1 && i === 0 ? '/loop' : '/ok'));
      await new Promise((r) => setImmediate(r));
    }
    const statuses = (await Promise.all(answers)).map((a) => a.statusCode);
    expect(statuses[8]).toBe(504);
    expect(statuses.filter((s) => s !== 200)).toEqual([504]);
    expect((await get(gateway, '/ok')).statusCode).toBe(200);
  });

  it("a trap is that request's 500; the next request is served", async () => {
    const crashes: CrashEvent[] = [];
    gateway.on('plugin:crash', (c) => crashes.push(c));
    expect((await get(gateway, '/trap')).statusCode).toBe(500);
    expect((await get(gateway, '/ok')).statusCode).toBe(200);
    expect(crashes).toEqual([]);
  });
});

describe('a wasm plugin reaches the network only through the host, and only allowlisted hosts', () => {
  it('fetches from a host in permissions.network (the request is made on the host)', async () => {
    const res = await get(gateway, '/fetch/allowed');
    expect(res).toMatchObject({
      statusCode: 200,
      body: { status: 200, body: 'hello from the allowed host' },
    });
  });

  it('is refused a host not in permissions.network, and the host is never contacted', async () => {
    const before = served.length;
    const res = await get(gateway, '/fetch/refused');
    expect(res.statusCode).toBe(500);
    expect(served.length).toBe(before);
  });
});

describe('a wasm module gets no import it is not granted', () => {
  const manifest = (name: string, extra = '') =>
    `name: ${name}\nversion: 1.0.0\nruntime: { type: wasm }\n${extra}`;

  it("WASI other than the gateway's own preview 1 (another version, an unknown function) is refused at load, naming the import", async () => {
    const refused = [
      ['wasi_unstable', 'fd_write'],
      ['wasi:filesystem/types', 'open-at'],
      ['wasi_snapshot_preview1', 'path_open_everything'],
    ] as const;
    for (const [i, [module, name]] of refused.entries()) {
      const d = pluginDir(`wasi-${i}`, manifest(`wasi-${i}`), moduleBytes([[module, name]]));
      await expect(gateway.load(d)).rejects.toMatchObject({
        code: 'PGW_ERR_WASM_IMPORT_REFUSED',
        message: expect.stringContaining(`"${module}"."${name}"`),
      });
    }
  });

  it("preview 1's file, socket and environment functions load, and reach nothing (test/security/wasm-go.test.ts runs them)", async () => {
    const d = pluginDir(
      'wasi-preview1',
      manifest('wasi-preview1'),
      moduleBytes([
        ['wasi_snapshot_preview1', 'path_open'],
        ['wasi_snapshot_preview1', 'sock_accept'],
        ['wasi_snapshot_preview1', 'environ_get'],
      ]),
    );
    expect((await gateway.load(d)).name).toBe('wasi-preview1');
  });

  it('a host function the manifest does not grant is refused at load', async () => {
    const d = pluginDir('no-network', manifest('no-network'), path.join(dir, 'plugin.wasm'));
    await expect(gateway.load(d)).rejects.toMatchObject({
      code: 'PGW_ERR_WASM_IMPORT_REFUSED',
      message: expect.stringMatching(
        /"extism:host\/user"\."pgw_fetch": not granted: permissions\.network/,
      ),
    });
  });

  it('an import of anything else (a JS function, a host global) is refused', async () => {
    const d = pluginDir('env', manifest('env'), moduleBytes([['env', 'process_exit']]));
    await expect(gateway.load(d)).rejects.toMatchObject({ code: 'PGW_ERR_WASM_IMPORT_REFUSED' });
  });

  it('a module that needs more memory than its cap to start is refused at load', async () => {
    const d = pluginDir(
      'big',
      manifest('big', 'resources: { memory: 16 }\n'),
      moduleBytes([], 1000),
    );
    await expect(gateway.load(d)).rejects.toMatchObject({ code: 'PGW_ERR_WASM_MODULE' });
  });
});
