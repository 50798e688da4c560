/**
 * Steady mixed load for the chaos suite: concurrent callers over real HTTP (keep-alive), GETs and POSTs
 * to a target plugin and GETs to a bystander, each request with its own `x-request-id`. A GET answered
 * 502/503 or not answered at all is retried by the caller (new id, doubling backoff); a POST never
 * is. Every request ends in the tally: answered (any HTTP status), failed (final status not 2xx), lost
 * (no HTTP answer within the client's limit, after the retries a GET is allowed).
 */
import http from 'node:http';

/** What one kind of request came to. */
export interface Tally {
  sent: number;
  answered: number;
  failed: number;
  retried: number;
  lost: number;
  statuses: Record<string, number>;
}

export interface LoadTargets {
  /** Base URL of the gateway the callers talk to, e.g. `http://127.0.0.1:1234`. */
  base: string;
  /** Path of the n-th GET to the target. */
  get: (n: number) => string;
  /** Path of the n-th POST to the target (none: GETs only). */
  post?: (n: number) => string;
  /** Path of the n-th GET to the bystander plugin. */
  bystander?: (n: number) => string;
  /** Share of target requests that are POSTs. @default 0.3 */
  postShare?: number;
  /** Concurrent callers on the target, plus as many on the bystander. @default 8 */
  callers?: number;
  /** Attempts a GET gets in all. @default 5 */
  getAttempts?: number;
  /** Client-side limit per attempt: past it, the request has no answer. @default 10000 */
  clientTimeoutMs?: number;
}

export interface LoadReport {
  get: Tally;
  post: Tally;
  bystander: Tally;
}

/** Not 504: a request that used its whole deadline would only add load to a slow plugin (retry storm). */
const RETRIABLE = new Set([502, 503]);
/** The longest a caller waits between two attempts, whatever `retry-after` says. */
const MAX_PAUSE_MS = 500;
const emptyTally = (): Tally => ({
  sent: 0,
  answered: 0,
  failed: 0,
  retried: 0,
  lost: 0,
  statuses: {},
});

let runs = 0;

/** Starts the callers; `stop()` lets each finish the request it is on and returns the tallies. */
export function startLoad(targets: LoadTargets): { stop(): Promise<LoadReport> } {
  const run = ++runs;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const report: LoadReport = {
    get: emptyTally(),
    post: emptyTally(),
    bystander: emptyTally(),
  };
  const callers = targets.callers ?? 8;
  const attempts = targets.getAttempts ?? 5;
  const timeoutMs = targets.clientTimeoutMs ?? 10_000;
  let running = true;
  let n = 0;

  /** Status and `retry-after` (ms) of one attempt; no status when nothing came back. */
  const send = (method: string, path: string, id: string) =>
    new Promise<{ status?: number; retryAfterMs?: number }>((resolve) => {
      const req = http.request(
        `${targets.base}${path}`,
        {
          method,
          agent,
          headers: {
            'x-request-id': id,
            ...(method === 'POST' ? { 'content-type': 'application/json' } : {}),
          },
          timeout: timeoutMs,
        },
        (res) => {
          res.resume();
          const retryAfter = Number(res.headers['retry-after']);
          res.on('end', () =>
            resolve({
              status: res.statusCode,
              retryAfterMs: retryAfter > 0 ? retryAfter * 1000 : undefined,
            }),
          );
          res.on('error', () => resolve({}));
        },
      );
      req.on('timeout', () => req.destroy(new Error('client timeout')));
      req.on('error', () => resolve({}));
      req.end(method === 'POST' ? JSON.stringify({ qty: 1 }) : undefined);
    });

  const one = async (tally: Tally, method: string, path: string, id: string, retry: boolean) => {
    tally.sent++;
    let status: number | undefined;
    for (let attempt = 0; ; attempt++) {
      const answer = await send(method, path, attempt === 0 ? id : `${id}.r${attempt}`);
      status = answer.status;
      const retriable = status === undefined || RETRIABLE.has(status);
      if (!retry || !retriable || attempt + 1 >= attempts) break;
      tally.retried++;
      // A caller honouring `retry-after`, within its patience.
      const pause = Math.min(answer.retryAfterMs ?? 25 * 2 ** attempt, MAX_PAUSE_MS);
      await new Promise((r) => setTimeout(r, pause));
    }
    if (status === undefined) {
      tally.lost++;
      return;
    }
    tally.answered++;
    tally.statuses[status] = (tally.statuses[status] ?? 0) + 1;
    if (status < 200 || status > 299) tally.failed++;
  };

  const target = async (caller: number) => {
    while (running) {
      const i = ++n;
      const id = `chaos${run}-c${caller}-${i}`;
      if (targets.post && Math.random() < (targets.postShare ?? 0.3)) {
        await one(report.post, 'POST', targets.post(i), id, false);
      } else {
        await one(report.get, 'GET', targets.get(i), id, true);
      }
    }
  };
  const bystander = async (caller: number) => {
    while (running && targets.bystander) {
      const i = ++n;
      await one(report.bystander, 'GET', targets.bystander(i), `by${run}-c${caller}-${i}`, false);
    }
  };
  const loops = [
    ...Array.from({ length: callers }, (_, c) => target(c)),
    ...(targets.bystander ? Array.from({ length: callers }, (_, c) => bystander(c)) : []),
  ];
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      agent.destroy();
      return report;
    },
  };
}

/** One line of the report table. */
export interface ScenarioRow {
  scenario: string;
  kind: 'GET' | 'POST' | 'bystander';
  tally: Tally;
  rssBeforeMiB: number;
  rssAfterMiB: number;
  /** Seconds the target plugin was not `active` during the load (local scenarios). */
  downSeconds?: number;
}

/** The report table, as printed and pasted into docs/chaos.md. */
export function formatTable(rows: readonly ScenarioRow[]): string {
  const head =
    '| scenario | requests | sent | answered | failed | retried | lost | statuses | RSS before → after (MiB) | target not active (s) |';
  const rule = '| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: |';
  const lines = rows.map((r) => {
    const statuses = Object.entries(r.tally.statuses)
      .map(([s, c]) => `${s}×${c}`)
      .join(' ');
    return `| ${r.scenario} | ${r.kind} | ${r.tally.sent} | ${r.tally.answered} | ${r.tally.failed} | ${r.tally.retried} | ${r.tally.lost} | ${statuses} | ${r.rssBeforeMiB} → ${r.rssAfterMiB} | ${r.downSeconds === undefined ? '' : r.downSeconds.toFixed(1)} |`;
  });
  return [head, rule, ...lines].join('\n');
}
