/**
 * `npm run demo`: a gateway with the example plugins of the ADR on the embedded memory registry,
 * serving a scripted set of events and requests (and two WebSocket clients in a collaboration room)
 * and printing what came back.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pino } from 'pino';
import WebSocket from 'ws';
import { createRequestListener, createUpgradeListener } from '../src/adapters/node.js';
import { MemoryRegistry, PluginGateway, type GatewayRequest, type Identity } from '../src/index.js';

const plugins = path.join(import.meta.dirname, 'plugins');

/** The host decides who the caller is; here, from a bearer token. */
const USERS: Record<string, Identity> = {
  'token-ada': { userId: 456, roles: ['listener'] },
  'token-grace': { userId: 457, roles: ['listener'] },
  'token-nina': { userId: 7, roles: ['artist'] },
};

const registry = new MemoryRegistry();
const gateway = new PluginGateway({
  registry,
  pluginTimeout: '2s',
  // Booted at start(), so that the statuses below are the plugins' own (lazy is the default).
  warm: true,
  featureFlags: { overrides: { 'ai-recommendations': { enable_ml_model: true } } },
  authenticate: (req) => USERS[req.headers?.authorization?.replace(/^Bearer /, '') ?? ''] ?? null,
  logger: pino({ level: process.env.PGW_LOG_LEVEL ?? 'error' }),
});
gateway.on('plugin:status', (info, previous) => {
  if (previous === 'loading') say(`  ${info.name}@${info.version}: ${info.status}`);
});

function say(line = ''): void {
  process.stdout.write(`${line}\n`);
}

function compact(value: unknown, width = 150): string {
  const text = JSON.stringify(value) ?? '';
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}

async function call(who: string | undefined, request: GatewayRequest): Promise<void> {
  const headers: Record<string, string> = who ? { authorization: `Bearer ${who}` } : {};
  const res = await gateway.handle({ headers, ...request });
  say(`→ ${request.method} ${request.path}${who ? `  (as ${who.replace('token-', '')})` : ''}`);
  say(`← ${res.statusCode} ${compact(res.body)}`);
}

say('Loading the example plugins (each in its own worker thread pool)…');
for (const name of [
  'ai-recommendations',
  'advanced-analytics',
  'gamification',
  'live-collaboration',
]) {
  await gateway.load(path.join(plugins, name));
}
await gateway.start();
say(`Registered in the memory registry: ${(await registry.list()).map((i) => i.id).join(', ')}`);

say('\nPublishing listening events…');
const plays: [number, number, number][] = [
  [456, 101, 210],
  [456, 102, 190],
  [456, 109, 30],
  [457, 103, 240],
  [457, 104, 200],
  [457, 101, 180],
  [458, 105, 150],
  [456, 110, 200],
  [458, 106, 220],
  [457, 109, 160],
];
for (const [userId, trackId, seconds] of plays) {
  await gateway.publish({ type: 'track.played', userId, payload: { trackId, seconds } });
}
const skip = await gateway.publish({
  type: 'track.skipped',
  userId: 458,
  payload: { trackId: 101, seconds: 12 },
});
say(`  ${plays.length + 1} events; the last reached: ${skip.delivered.join(', ')}`);

say('\nServing requests…');
await call('token-ada', { method: 'GET', path: '/recommendations?limit=3' });
await call('token-ada', {
  method: 'POST',
  path: '/recommendations/users/456/activity',
  body: { trackId: 103 },
});
await call('token-ada', {
  method: 'POST',
  path: '/recommendations/users/457/activity',
  body: { trackId: 103 },
});
await call('token-ada', { method: 'GET', path: '/recommendations?limit=3' });
await call(undefined, { method: 'GET', path: '/analytics/tracks/101' });
await call('token-nina', { method: 'GET', path: '/analytics/top?limit=2' });
await call('token-ada', { method: 'GET', path: '/analytics/top' });
await call(undefined, { method: 'GET', path: '/gamification/users/456/profile' });
await call(undefined, { method: 'GET', path: '/gamification/leaderboard' });
await call(undefined, { method: 'GET', path: '/recommendations' });
await call(undefined, { method: 'DELETE', path: '/gamification/leaderboard' });
await call(undefined, { method: 'GET', path: '/nft/marketplace' });

say('\nLive collaboration over WebSockets (a node:http server on a free port)…');
const server = http.createServer(createRequestListener(gateway));
server.on('upgrade', createUpgradeListener(gateway));
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const wsBase = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;

/** Joins a room as `who`; resolves with the socket once the welcome arrived. */
async function join(who: string, room: string): Promise<WebSocket> {
  const ws = new WebSocket(`${wsBase}/collab/${room}`, {
    headers: { authorization: `Bearer ${who}` },
  });
  ws.on('message', (data) =>
    say(`  ${who.replace('token-', '')} ← ${compact(JSON.parse(`${data}`))}`),
  );
  await new Promise((resolve) => ws.once('message', resolve));
  return ws;
}
const ada = await join('token-ada', 'road-trip');
const grace = await join('token-grace', 'road-trip');
say(`  active_connections: ${gateway.metrics('live-collaboration').active_connections}`);
const heard = new Promise((resolve) => grace.once('message', resolve));
ada.send(JSON.stringify({ type: 'edit', op: 'add', trackId: 101 }));
await heard;
const closed = [ada, grace].map((ws) => new Promise((r) => ws.once('close', r)));
ada.close();
grace.close();
await Promise.all(closed);

say('\nRecommendations streamed as Server-Sent Events…');
const stream = await fetch(`${wsBase.replace('ws:', 'http:')}/recommendations/stream?limit=3`, {
  headers: { authorization: 'Bearer token-ada' },
});
for (const frame of (await stream.text()).split('\n\n').filter((f) => f && !f.startsWith(':'))) {
  say(`  ${frame.replace(/\n/g, ' | ')}`);
}

say('\nPer-plugin metrics:');
say('  plugin               requests  errors  mean ms   p99 ms  threads  heap MB');
for (const info of gateway.list()) {
  const m = gateway.metrics(info.name);
  say(
    `  ${info.name.padEnd(20)} ${String(m.request_count).padStart(8)} ${String(m.error_count).padStart(7)} ` +
      `${m.response_time_ms.toFixed(2).padStart(8)} ${m.latency_ms.p99.toFixed(2).padStart(8)} ` +
      `${String(m.threads).padStart(8)} ${m.memory_usage_mb.toFixed(1).padStart(8)}`,
  );
}

await gateway.stop();
await new Promise((r) => server.close(r));
say('\nStopped: every plugin ran its stop(), and no thread, timer or handle is left.');
