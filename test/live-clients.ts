/** Clients for the live-connection tests over loopback: `ws` WebSockets, and a reader that reads nothing. */
import { expect } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { createRequestListener, createUpgradeListener } from '../src/adapters/node.js';
import type { UpgradeListenerOptions } from '../src/adapters/node.js';
import type { PluginGateway } from '../src/index.js';
import type { LogLine } from './helpers.js';

/** One client: every message it received, in order, and how it closed. */
export interface Client {
  ws: WebSocket;
  messages: string[];
  /** The next message not yet taken by `next()`. */
  next(): Promise<string>;
  closed: Promise<{ code: number; reason: string }>;
}

/** A `node:http` server with the gateway's request and upgrade listeners, on a free port. */
export async function liveServer(
  gateway: PluginGateway,
  options: UpgradeListenerOptions = {},
): Promise<{ server: http.Server; url: string }> {
  const server = http.createServer(createRequestListener(gateway, { prefix: options.prefix }));
  server.on('upgrade', createUpgradeListener(gateway, options));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { server, url: `127.0.0.1:${port}` };
}

/** Opens a connection; rejects with the HTTP status when the upgrade is refused. */
export function connect(url: string, options: WebSocket.ClientOptions = {}): Promise<Client> {
  const ws = new WebSocket(`ws://${url}`, options);
  const messages: string[] = [];
  let taken = 0;
  let wake: (() => void) | undefined;
  ws.on('message', (data, binary) => {
    messages.push(binary ? `bytes:${(data as Buffer).length}` : data.toString());
    wake?.();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  const next = async (): Promise<string> => {
    while (messages.length <= taken) await new Promise<void>((r) => (wake = r));
    return messages[taken++]!;
  };
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, messages, next, closed }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => reject(Object.assign(new Error(body), { status: res.statusCode, body })));
    });
    ws.once('error', reject);
  });
}

/** The HTTP status an upgrade was refused with, and its JSON body. */
export async function refusal(
  url: string,
  options: WebSocket.ClientOptions = {},
): Promise<{ status: number; body: { error?: { code: string } } }> {
  try {
    const client = await connect(url, options);
    client.ws.terminate();
  } catch (error) {
    const e = error as { status?: number; body?: string };
    if (e.status !== undefined) return { status: e.status, body: JSON.parse(e.body || '{}') };
    throw error;
  }
  throw new Error(`the upgrade to ${url} was accepted`);
}

/** The count of chunks made that a plugin's `GET <base>/produced` answers (`base`: `http://host:port`). */
export function producedAt(base: string): () => Promise<number> {
  return async () =>
    ((await (await fetch(`${base}/produced`)).json()) as { produced: number }).produced;
}

/**
 * Opens `GET streamUrl` and reads nothing: the kernel's buffers fill, then the host's window, then the
 * plugin waits. Resolves once `produced()` (the chunks the plugin made) stops moving, with that count
 * and the request (destroy it to end the stream).
 */
export async function producedWhileUnread(
  streamUrl: string,
  produced: () => Promise<number>,
): Promise<{ produced: number; req: http.ClientRequest }> {
  const req = http.get(streamUrl);
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    req.once('response', resolve);
    req.once('error', reject);
  });
  res.pause();
  let last = -1;
  await expect
    .poll(
      async () => {
        const now = await produced();
        const settled = now === last;
        last = now;
        return settled;
      },
      { timeout: 20_000, interval: 500 },
    )
    .toBe(true);
  return { produced: last, req };
}

/** One event of a Server-Sent Events body. */
export interface SseEvent {
  id?: string;
  event?: string;
  data: string;
}

/** EventSource-style parsing of an SSE body: its events, comments dropped. */
export function parseSse(text: string): SseEvent[] {
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '' && !block.startsWith(':'))
    .map((block) => {
      const event: SseEvent = { data: '' };
      const data: string[] = [];
      for (const line of block.split('\n')) {
        const [field, ...rest] = line.split(': ');
        const value = rest.join(': ');
        if (field === 'data') data.push(value);
        else if (field === 'id') event.id = value;
        else if (field === 'event') event.event = value;
      }
      event.data = data.join('\n');
      return event;
    });
}

/** The message of the first line of `log` that starts with `prefix`, once it is there. */
export async function loggedLine(log: { lines: LogLine[] }, prefix: string): Promise<string> {
  let said: string | undefined;
  await expect
    .poll(() => (said = log.lines.map((l) => String(l.msg)).find((m) => m.startsWith(prefix))), {
      timeout: 15_000,
    })
    .toBeDefined();
  return said!;
}
