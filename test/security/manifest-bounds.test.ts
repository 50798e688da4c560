/**
 * Threat model, manifests (issue 14, item 15): a plugin folder or catalog entry whose `plugin.yaml` is
 * built to hurt the host is refused as an invalid manifest naming its file, before it costs the host
 * anything: durations a timer cannot hold, huge files, alias bombs, deep nesting.
 */
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  ManifestInvalidError,
  MemoryRegistry,
  PluginGateway,
  hashFiles,
  packPlugin,
} from '../../src/index.js';
import { fixture } from '../helpers.js';

const root = mkdtempSync(path.join(tmpdir(), 'pgw-manifest-bounds-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let gateway: PluginGateway | undefined;
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
});

let n = 0;
/** A copy of the `echo` fixture whose plugin.yaml is `manifest`. */
async function pluginWith(manifest: string | Buffer): Promise<string> {
  const dir = path.join(root, `p${n++}`);
  await mkdir(dir);
  await copyFile(path.join(fixture('echo'), 'index.js'), path.join(dir, 'index.js'));
  await writeFile(path.join(dir, 'plugin.yaml'), manifest);
  return dir;
}

async function refusal(dir: string): Promise<ManifestInvalidError> {
  gateway ??= new PluginGateway({ logger: false });
  const error = await gateway.load(dir).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ManifestInvalidError);
  expect((error as ManifestInvalidError).code).toBe('PGW_ERR_MANIFEST_INVALID');
  expect((error as Error).message).toContain(path.join(dir, 'plugin.yaml'));
  expect(gateway.list()).toEqual([]);
  return error as ManifestInvalidError;
}

const head = 'name: bounded\nversion: 1.0.0\nmain: index.js\n';

describe('manifests that would hurt the host are refused', () => {
  it('a health-check interval past what a timer holds (600h) is refused, located', async () => {
    const dir = await pluginWith(`${head}health_check:\n  interval: 600h\n`);
    expect((await refusal(dir)).message).toContain(
      'plugin.yaml:5:13 health_check.interval: expected a duration from 100ms to 24h, got "600h"',
    );
  });

  it('an endpoint timeout of 1000h is refused', async () => {
    const dir = await pluginWith(
      `${head}endpoints:\n  - path: /echo/{name}\n    method: POST\n    timeout: 1000h\n`,
    );
    expect((await refusal(dir)).message).toContain('endpoints.0.timeout');
  });

  it('a 50 MB manifest is refused without being parsed', async () => {
    const big = Buffer.alloc(50 * 1024 * 1024, '#');
    big.write(head);
    const dir = await pluginWith(big);
    expect((await refusal(dir)).message).toContain('larger than 256 KiB');
  });

  it('a plugin.yaml linked to an endless file is refused, not read forever', async () => {
    const dir = await pluginWith('');
    rmSync(path.join(dir, 'plugin.yaml'));
    symlinkSync('/dev/zero', path.join(dir, 'plugin.yaml'));
    expect((await refusal(dir)).message).toContain('is not a regular file');
  });

  it('an alias bomb is refused with the file named, never a raw ReferenceError', async () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++) {
      const [name, prev] = [String.fromCharCode(97 + i), String.fromCharCode(96 + i)];
      lines.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(', ')}]`);
    }
    const dir = await pluginWith(`${head}metadata:\n  ${lines.join('\n  ')}\n`);
    expect((await refusal(dir)).message).toContain('aliases expand too far');
  });

  it('a deeply nested document is refused', async () => {
    const nested = Array.from({ length: 200 }, (_, d) => `${'  '.repeat(d + 1)}k${d}:`).join('\n');
    const dir = await pluginWith(`${head}metadata:\n${nested} v\n`);
    expect((await refusal(dir)).message).toContain('nested more than 16 levels deep');
  });

  it('a catalog entry carrying a huge manifest is refused with catalog:error', async () => {
    const cacheDir = path.join(root, 'cache');
    const registry = new MemoryRegistry();
    const entry = await packPlugin(fixture('echo'));
    const manifest = `${entry.manifest}\n${'#'.repeat(300 * 1024)}\n`;
    const files = { ...entry.files, 'plugin.yaml': Buffer.from(manifest).toString('base64') };
    const errors: Error[] = [];
    gateway = new PluginGateway({ logger: false, registry, watch: { env: 'prod', cacheDir } });
    gateway.on('catalog:error', ({ error }) => void errors.push(error));
    await gateway.start();
    await registry.publish('prod', { ...entry, manifest, files, hash: hashFiles(files) });
    await expect.poll(() => errors.length).toBe(1);
    expect(errors[0]).toBeInstanceOf(ManifestInvalidError);
    expect(errors[0]!.message).toContain('catalog entry echo@1.0.0/plugin.yaml');
    expect(gateway.list()).toEqual([]);
  });
});
