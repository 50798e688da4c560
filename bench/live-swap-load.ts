/**
 * The load of `bench/live-swap.bench.ts`, in a process of its own: `PORT N INTERVAL_MS`.
 * Opens N WebSockets to /echo (100 at a time) and sends each a numbered message every INTERVAL_MS
 * (spread over the interval, without waiting for the echo), checking that each echo (`vX:<n>`)
 * comes back in order; prints `{ "open": N }`. On stdin:
 * - `probe`: from then on, every 20 ms, opens one new connection, sends `probe`, records when it
 *   was opened and which version answered, and closes it.
 * - `stop START END` (the swap's window, epoch ms): stops sending and probing, waits up to 10 s for
 *   the echoes still due, prints the counts (sent, echoed, lost, answered by each version, out of
 *   order, closed), the echo time p50/p99/max of messages sent before, inside and after the window,
 *   and the probes; exits.
 */
import WebSocket from 'ws';

const [portText, countText, intervalText] = process.argv.slice(2) as [string, string, string];
const url = `ws://127.0.0.1:${Number(portText)}/echo`;
const count = Number(countText);
const interval = Number(intervalText);
const TICK_MS = 10;
const now = () => performance.timeOrigin + performance.now();

interface Held {
  ws: WebSocket;
  sent: number;
  echoed: number;
  sentAt: number[];
}
const held: Held[] = [];
const totals = {
  sent: 0,
  echoed: 0,
  outOfOrder: 0,
  closed: 0,
  byVersion: {} as Record<string, number>,
};
const closeCodes: Record<string, number> = {};
const echoTimes: { sentAt: number; ms: number }[] = [];

function open(): Promise<WebSocket> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  return new Promise((resolve, reject) => ws.once('open', () => resolve(ws)).once('error', reject));
}

async function hold(): Promise<void> {
  const connection: Held = { ws: await open(), sent: 0, echoed: 0, sentAt: [] };
  connection.ws.on('message', (data) => {
    const [version, n] = String(data).split(':') as [string, string];
    if (Number(n) !== connection.echoed) totals.outOfOrder++;
    const sentAt = connection.sentAt[Number(n)] ?? Number.NaN;
    echoTimes.push({ sentAt, ms: now() - sentAt });
    connection.echoed++;
    totals.echoed++;
    totals.byVersion[version] = (totals.byVersion[version] ?? 0) + 1;
  });
  connection.ws.once('close', (code) => {
    totals.closed++;
    closeCodes[code] = (closeCodes[code] ?? 0) + 1;
  });
  held.push(connection);
}

for (let i = 0; i < count; i += 100)
  await Promise.all(Array.from({ length: Math.min(100, count - i) }, hold));

// Every tick, the connections whose turn it is send their next number.
const slots = Math.max(1, Math.round(interval / TICK_MS));
let tick = 0;
const sender = setInterval(() => {
  const slot = tick++ % slots;
  for (let i = slot; i < held.length; i += slots) {
    const connection = held[i]!;
    if (connection.ws.readyState !== WebSocket.OPEN) continue;
    connection.sentAt[connection.sent] = now();
    connection.ws.send(String(connection.sent++));
    totals.sent++;
  }
}, TICK_MS);
console.log(JSON.stringify({ open: held.length }));

const probes: { openedAt: number; answeredAt: number; version: string }[] = [];
let prober: NodeJS.Timeout | undefined;
let probesFailed = 0;
let probesStarted = 0;
async function probe(): Promise<void> {
  const openedAt = now();
  probesStarted++;
  try {
    const ws = await open();
    ws.send('probe');
    const answer = await new Promise<string>((resolve) =>
      ws.once('message', (d) => resolve(String(d))),
    );
    probes.push({ openedAt, answeredAt: now(), version: answer.split(':')[0]! });
    ws.close();
  } catch {
    probesFailed++;
  }
}

const quantile = (xs: number[], q: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
};
const summary = (xs: number[]) => ({
  count: xs.length,
  p50: quantile(xs, 0.5),
  p99: quantile(xs, 0.99),
  max: quantile(xs, 1),
});

process.stdin.setEncoding('utf8');
process.stdin.on('data', (line: string) => {
  const [command, start, end] = line.trim().split(' ');
  if (command === 'probe') {
    prober = setInterval(() => void probe(), 20);
    return;
  }
  if (command !== 'stop') return;
  clearInterval(prober);
  clearInterval(sender);
  void (async () => {
    const deadline = now() + 10_000;
    while (totals.echoed < totals.sent && now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    const phase = (t: number) => (t < Number(start) ? 0 : t <= Number(end) ? 1 : 2);
    const echoIn = (n: number) =>
      summary(echoTimes.filter((e) => phase(e.sentAt) === n).map((e) => e.ms));
    console.log(
      JSON.stringify({
        ...totals,
        lost: totals.sent - totals.echoed,
        closeCodes,
        echoBefore: echoIn(0),
        echoDuring: echoIn(1),
        echoAfter: echoIn(2),
        probes,
        probesFailed,
        probesUnanswered: probesStarted - probes.length - probesFailed,
      }),
    );
    process.exit(0);
  })();
});
