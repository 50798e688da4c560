import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PluginGateway } from '../../src/index.js';
import { fixture, memoryLogger } from '../helpers.js';

/**
 * What a wasm plugin makes the host hold is the operator's to bound: an untrusted manifest's
 * `resources` are clamped to the gateway's `limits` (its memory cap with them), the key/value store
 * in the host's heap stops at `limits.kvKeys` / `limits.kvBytes` whatever `resources.disk` asks, and
 * the module check refuses tables above the limit, too many imports and too large a module.
 */
const hoarder = fixture('wasm-hoarder');
const scratch = mkdtempSync(path.join(os.tmpdir(), 'pgw-wasm-res-'));
let gateway: PluginGateway | undefined;
const log = memoryLogger();

beforeAll(() => {
  execFileSync('npx', ['--no-install', 'asc', 'assembly/index.ts', '--outFile', 'plugin.wasm'], {
    cwd: hoarder,
    stdio: 'pipe',
  });
}, 120_000);
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
  log.lines.length = 0;
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const call = (method: string, p: string) => gateway!.handle({ method, path: p, headers: {} });

async function puts(n: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < n; i++) statuses.push((await call('POST', '/kv/put')).statusCode);
  return statuses;
}

const limitLines = () =>
  log.lines.filter((l) => typeof l.msg === 'string' && l.msg.includes('PGW_ERR_PLUGIN_LIMIT'));

describe("an untrusted wasm plugin's resources are clamped to the gateway's limits", () => {
  it('memory: 4096 asked, limits.memory 32 granted: the engine caps its memory at 3/4 of 32 MiB', async () => {
    gateway = new PluginGateway({ logger: log, limits: { memory: 32, disk: 8 } });
    const info = await gateway.load(hoarder, { trusted: false });
    expect(info.resources).toMatchObject({ memory: 32, disk: 8 });
    expect(log.lines.some((l) => l.level === 'warn' && /resources clamped/.test(l.msg!))).toBe(
      true,
    );
    await gateway.start();
    const grown = await call('GET', '/grow');
    expect(grown.statusCode).toBe(200);
    expect((grown.body as { pages: number }).pages).toBeLessThanOrEqual(384);
  }, 60_000);

  it('a trusted plugin keeps what its manifest asks', async () => {
    gateway = new PluginGateway({ logger: log, limits: { memory: 32 } });
    const info = await gateway.load(hoarder);
    expect(info.resources).toMatchObject({ memory: 4096, disk: 1024 });
  });

  it('the operator limits are validated', () => {
    expect(() => new PluginGateway({ limits: { memory: 1 } })).toThrow(/limits\.memory/);
    expect(() => new PluginGateway({ limits: { fetchConcurrency: 0 } })).toThrow(
      /limits\.fetchConcurrency/,
    );
    expect(() => new PluginGateway({ limits: { memroy: 64 } as never })).toThrow(
      /Unknown option `limits\.memroy`/,
    );
  });
});

describe("the wasm key/value store is accounted to the plugin against the operator's ceiling", () => {
  it('refuses the key past limits.kvKeys with PGW_ERR_PLUGIN_LIMIT; the plugin serves on', async () => {
    gateway = new PluginGateway({ logger: log, limits: { kvKeys: 20 } });
    await gateway.load(hoarder);
    await gateway.start();
    expect(await puts(21)).toEqual([...Array(20).fill(200), 500]);
    expect(limitLines()[0]?.msg).toMatch(/limits\.kvKeys/);
    // Refused, not crashed: the plugin is active and keeps being refused.
    expect(gateway.get('wasm-hoarder')?.status).toBe('active');
    expect(await puts(1)).toEqual([500]);
  }, 60_000);

  it('refuses the value past limits.kvBytes although resources.disk asks for 1 GiB', async () => {
    gateway = new PluginGateway({ logger: log, limits: { kvBytes: 16 * 1024 } });
    await gateway.load(hoarder);
    await gateway.start();
    // About 1 KB a key: 16 fit in 16 KiB, the 17th does not.
    expect(await puts(17)).toEqual([...Array(16).fill(200), 500]);
    expect(limitLines()[0]?.msg).toMatch(/limits\.kvBytes/);
  }, 60_000);
});

/** A module of a table section with the given limits (the binary format by hand). */
function tableModule(max: number | undefined): Buffer {
  const leb = (n: number): number[] => {
    const out: number[] = [];
    do {
      let b = n & 0x7f;
      n = Math.floor(n / 128);
      if (n > 0) b |= 0x80;
      out.push(b);
    } while (n > 0);
    return out;
  };
  const limits = max === undefined ? [0, 1] : [1, 1, ...leb(max)];
  const table = [1, 0x70, ...limits];
  return Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 4, table.length, ...table]);
}

/** A module whose import section declares `count` imports `"".""` of function type 0. */
function importsModule(count: number): Buffer {
  const types = [1, 4, 1, 0x60, 0, 0];
  const body = Buffer.alloc(5 + count * 4);
  let at = 0;
  const leb5 = (n: number) => {
    for (let i = 0; i < 5; i++) body[at++] = ((n >>> (7 * i)) & 0x7f) | (i < 4 ? 0x80 : 0);
  };
  leb5(count);
  for (let i = 0; i < count; i++) {
    body[at++] = 0; // module ""
    body[at++] = 0; // name ""
    body[at++] = 0; // a function
    body[at++] = 0; // of type 0
  }
  const size: number[] = [];
  let n = body.length;
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    size.push(b);
  } while (n > 0);
  return Buffer.concat([
    Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, ...types, 2, ...size]),
    body,
  ]);
}

function pluginWith(name: string, wasm: Buffer): string {
  const d = path.join(scratch, name);
  cpSync(hoarder, d, { recursive: true, filter: (f) => !f.includes('assembly') });
  writeFileSync(
    path.join(d, 'plugin.yaml'),
    `name: ${name}\nversion: 1.0.0\nruntime: { type: wasm }\n`,
  );
  writeFileSync(path.join(d, 'plugin.wasm'), wasm);
  return d;
}

describe('the module check bounds what a module may declare, before any thread runs it', () => {
  it('refuses a table above limits.tableElements; one without a maximum is held at its initial size', async () => {
    gateway = new PluginGateway({ logger: false, limits: { tableElements: 1000 } });
    // Go's linker declares no maximum: the module loads, its table unable to grow (module-check.test.ts).
    expect((await gateway.load(pluginWith('t1', tableModule(undefined)))).name).toBe('t1');
    await expect(gateway.load(pluginWith('t2', tableModule(1001)))).rejects.toMatchObject({
      code: 'PGW_ERR_WASM_MODULE',
      message: expect.stringMatching(/up to 1001 elements/),
    });
    expect((await gateway.load(pluginWith('t3', tableModule(1000)))).name).toBe('t3');
  });

  it('refuses 6 million imports (a 24 MB module) on their count, before reading one', async () => {
    gateway = new PluginGateway({ logger: false });
    await expect(
      gateway.load(pluginWith('imports', importsModule(6_000_000))),
    ).rejects.toMatchObject({
      code: 'PGW_ERR_WASM_MODULE',
      message: expect.stringMatching(/6000000 imports.*limits\.moduleImports/),
    });
  }, 30_000);

  // Each shape once held the host's event loop for the length of its walk, within moduleBytes (64 MiB):
  // 43 s for two-byte custom sections, 26 s for a memory count of 4 billion, 1.2 s for 22 million
  // tables. Each is refused on a count before the walk (measured: the whole check stays under 70 ms).
  it.each([
    [
      '33 million empty custom sections',
      () => sectionsModule(33_554_428),
      /more than 1024 sections/,
    ],
    [
      'a memory section counting 16 million memories',
      () => countedSection(5, 16_000_000, [0, 1]),
      /more than one memory/,
    ],
    [
      'a table section counting 16 million tables',
      () => countedSection(4, 16_000_000, [0x70, 1, 0, 1]),
      /16000000 tables, more than 64/,
    ],
    [
      'an import named with 6,000 bytes',
      () => countedSection(2, 1, [...leb(6000), ...Array(6000).fill(0x61), 0, 0, 0]),
      /a name of more than 1024 bytes/,
    ],
  ])(
    'refuses %s on its count, before walking it',
    async (_, make, reason) => {
      gateway = new PluginGateway({ logger: false });
      await expect(gateway.load(pluginWith('shapes', make()))).rejects.toMatchObject({
        code: 'PGW_ERR_WASM_MODULE',
        message: expect.stringMatching(reason),
      });
    },
    60_000,
  );

  it('refuses a module larger than limits.moduleBytes', async () => {
    gateway = new PluginGateway({ logger: false, limits: { moduleBytes: 1024 } });
    await expect(gateway.load(pluginWith('big', importsModule(1000)))).rejects.toMatchObject({
      code: 'PGW_ERR_WASM_MODULE',
      message: expect.stringMatching(
        /larger than the gateway's limit of 1024 \(limits\.moduleBytes\)/,
      ),
    });
  });
});

function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

/** A module of `count` empty custom sections (two bytes each). */
function sectionsModule(count: number): Buffer {
  const module = Buffer.alloc(8 + 2 * count);
  module.set([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
  return module;
}

/** A module of one section `id` whose count says `count`, holding that many copies of `entry`. */
function countedSection(id: number, count: number, entry: number[]): Buffer {
  const head = leb(count);
  const body = Buffer.alloc(head.length + count * entry.length);
  body.set(head);
  for (let i = 0, at = head.length; i < count; i++, at += entry.length) body.set(entry, at);
  return Buffer.concat([
    Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, id, ...leb(body.length)]),
    body,
  ]);
}
