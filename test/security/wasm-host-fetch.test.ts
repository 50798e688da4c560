import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostCapabilities } from '../../src/loader/wasm/host-capabilities.js';
import type { HostAnswer, HostNote } from '../../src/loader/wasm/host-protocol.js';
import { parseManifest } from '../../src/manifest/manifest.js';
import { FetchBudget } from '../../src/loader/fetch-budget.js';
import { DEFAULT_HOST_LIMITS } from '../../src/shared/host-limits.js';
import { closeServer } from '../helpers.js';

/**
 * `pgw_fetch` runs on the host's main thread, against a host the manifest grants — which the plugin's
 * author may run. Its answer is bounded by `maxResponseBytes`; the host must stop reading there, not
 * hold the whole body first: a granted server streaming without end would otherwise fill the host's
 * memory.
 */
const LIMIT = 1024 * 1024;
const STREAMED = 256 * 1024 * 1024;
let server: http.Server;
let port: number;
let written = 0;
let closed: Promise<void>;

beforeAll(async () => {
  let onClose!: () => void;
  closed = new Promise((r) => (onClose = r));
  server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    const chunk = Buffer.alloc(64 * 1024, 'a');
    const pump = () => {
      while (written < STREAMED) {
        written += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    res.on('close', onClose);
    pump();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

afterAll(() => {
  server?.closeAllConnections();
  return closeServer(server);
});

async function hostFetch(url: string): Promise<HostAnswer> {
  const manifest = parseManifest(
    `name: fetcher\nversion: 1.0.0\nruntime:\n  type: wasm\npermissions:\n  network: ['127.0.0.1']\n`,
  );
  const capabilities = new HostCapabilities(
    manifest,
    { onCall: () => Promise.reject(new Error('no calls')) },
    {
      maxResponseBytes: LIMIT,
      fetchTimeoutMs: 30_000,
      budget: new FetchBudget({ concurrency: 8, bufferBytes: 16 * LIMIT }),
      host: DEFAULT_HOST_LIMITS,
    },
  );
  const { port1, port2 } = new MessageChannel();
  const wake = new Int32Array(new SharedArrayBuffer(4));
  const note = { pgw: 'host', op: 'fetch', args: JSON.stringify({ url }), port: port1, wake };
  capabilities.serve(note as unknown as HostNote);
  while (Atomics.load(wake, 0) === 0) await new Promise((r) => setTimeout(r, 10));
  const answer = receiveMessageOnPort(port2)?.message as HostAnswer;
  port2.close();
  return answer;
}

describe('pgw_fetch from a granted host that streams without end', () => {
  it('stops reading at maxResponseBytes and answers an error; the host never holds the rest', async () => {
    const answer = await hostFetch(`http://127.0.0.1:${port}/`);
    expect(answer.error).toMatch(/larger than/);
    await closed;
    // Socket buffers on both sides hold a few MiB at most; the whole stream is 256 MiB.
    expect(written).toBeLessThan(32 * 1024 * 1024);
  }, 60_000);
});
