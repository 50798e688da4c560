import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { PluginGateway } from '../../src/index.js';
import { closeServer, gatewayWith, memoryLogger } from '../helpers.js';
import { liveServer } from '../live-clients.js';
import { MiB, upload } from '../live-uploads.js';

let gateway: PluginGateway | undefined;
let server: http.Server | undefined;
afterEach(async () => {
  await gateway?.stop();
  await closeServer(server);
  gateway = server = undefined;
});

describe('streamed request bodies under attack', () => {
  it('answers 413 at the limit: a declared length before reading, a chunked body once it passes', async () => {
    const log = memoryLogger();
    gateway = await gatewayWith(['live-upload'], { logger: log });
    const live = await liveServer(gateway);
    server = live.server;
    const declared = await upload(live.url, '/upload-small', 4 * MiB, {
      'content-length': String(4 * MiB),
    });
    expect(declared.status).toBe(413);
    expect(JSON.parse(declared.body)).toMatchObject({ error: { code: 'PGW_ERR_BODY_TOO_LARGE' } });
    expect(declared.headers.connection).toBe('close');
    const chunked = await upload(live.url, '/upload-small', 64 * MiB);
    expect(chunked.status).toBe(413);
    expect(JSON.parse(chunked.body).error.message).toContain('stream.max_request_bytes');
    expect(chunked.headers.connection).toBe('close');
    // The plugin's read failed where the limit was passed.
    await expect
      .poll(() => log.lines.find((l) => l.msg === 'upload cut')?.plugin_fields)
      .toMatchObject({ message: expect.stringContaining('larger than 1048576') });
    // At the limit exactly: read whole.
    const atLimit = await upload(live.url, '/upload-small', MiB);
    expect(JSON.parse(atLimit.body)).toMatchObject({ bytes: MiB });
  });

  it('ends the connection after answering when the plugin does not read the upload', async () => {
    gateway = await gatewayWith(['live-upload']);
    const live = await liveServer(gateway);
    server = live.server;
    const ignored = await upload(live.url, '/ignore', 512 * MiB);
    expect(ignored.status).toBe(202);
    expect(ignored.headers.connection).toBe('close');
    // A handler that neither reads nor answers: its first_byte_timeout, then the connection ends.
    const never = await upload(live.url, '/never', 512 * MiB);
    expect(never.status).toBe(504);
    expect(never.headers.connection).toBe('close');
    expect(gateway.metrics('live-upload').active_connections).toBe(0);
  });

  it('ends the plugin’s read with an error when the client goes away mid-upload', async () => {
    const log = memoryLogger();
    gateway = await gatewayWith(['live-upload'], { logger: log });
    const live = await liveServer(gateway);
    server = live.server;
    const req = http.request(`http://${live.url}/upload-small`, { method: 'PUT' });
    req.on('error', () => {});
    req.write(Buffer.alloc(256 * 1024));
    await expect.poll(() => gateway!.metrics('live-upload').active_connections).toBe(1);
    req.destroy();
    await expect.poll(() => log.lines.some((l) => l.msg === 'upload cut')).toBe(true);
    await expect.poll(() => gateway!.metrics('live-upload').active_connections).toBe(0);
    // The plugin serves on.
    const next = await upload(live.url, '/upload-small', 64 * 1024);
    expect(JSON.parse(next.body)).toMatchObject({ bytes: 64 * 1024 });
  });
});
