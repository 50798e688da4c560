// Issue 12's chaos suite, the fleet scenarios: three gateways on a real etcd — an entry gateway in this
// process (it runs the bystander and forwards `chaos` requests) and two member processes that run the
// `chaos` plugin. Scenarios: a member SIGKILLed under load, and etcd restarted under load. Same goals as
// the local scenarios; POST executions are recorded over HTTP by the members' ledger service, so those
// of a killed member count too.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRequestListener } from '../../src/adapters/node.js';
import { PluginGateway } from '../../src/index.js';
import { EtcdRegistry } from '../../src/registry/etcd.js';
import { closeServer, fixture } from '../helpers.js';
import { freePort, serviceAvailable } from '../services/common.js';
import { EtcdServer } from '../services/etcd.js';
import { startLoad, type LoadReport } from './load.js';
import { CHAOS_SECONDS, printTable, rows, rssMiB, RSS_TOLERANCE_MIB, sleep } from './scenario.js';

const haveEtcd = serviceAvailable('etcd', 'apt-get install -y etcd-server');
const timeout = 60_000 + CHAOS_SECONDS * 3000;

interface Member {
  id: string;
  child: ChildProcess;
  address: string;
}

function spawnMember(env: Record<string, string>): Promise<Member> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(import.meta.dirname, 'fleet-member.ts')],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk;
      if (out.includes('\n')) {
        const { address } = JSON.parse(out.split('\n')[0]!) as { address: string };
        resolve({ id: env.NODE_ID!, child, address });
      }
    });
    child.once('exit', (code) => reject(new Error(`member ${env.NODE_ID} exited with ${code}`)));
  });
}

/** The fleet of one scenario. */
interface Fleet {
  entry: PluginGateway;
  server: http.Server;
  base: string;
  members: Member[];
  close(): Promise<void>;
}

let etcd: EtcdServer;
let ledgerServer: http.Server;
let ledgerUrl: string;
/** Executions per request id, for the scenario running now. */
let ledger = new Map<string, number>();

beforeAll(async () => {
  if (!haveEtcd) return;
  etcd = await EtcdServer.start();
  ledgerServer = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c));
    req.on('end', () => {
      const { requestId } = JSON.parse(body) as { requestId: string };
      ledger.set(requestId, (ledger.get(requestId) ?? 0) + 1);
      res.end();
    });
  });
  await new Promise<void>((r) => ledgerServer.listen(0, '127.0.0.1', r));
  ledgerUrl = `http://127.0.0.1:${(ledgerServer.address() as AddressInfo).port}/`;
}, 30_000);
afterAll(async () => {
  await closeServer(ledgerServer);
  await etcd?.destroy();
  const table = printTable('chaos: fleet scenarios');
  if (process.env.CHAOS_REPORT) writeFileSync(`${process.env.CHAOS_REPORT}.fleet.md`, table);
});

async function startFleet(namespace: string): Promise<Fleet> {
  const env = { ETCD: etcd.endpoint, NAMESPACE: namespace, TTL: '2s', LEDGER_URL: ledgerUrl };
  const members = await Promise.all([
    spawnMember({ ...env, NODE_ID: `${namespace}-b` }),
    spawnMember({ ...env, NODE_ID: `${namespace}-c` }),
  ]);
  const port = await freePort();
  const entry = new PluginGateway({
    logger: false,
    registry: new EtcdRegistry({ endpoints: etcd.endpoint, namespace, ttl: '2s' }),
    node: {
      id: `${namespace}-a`,
      address: `http://127.0.0.1:${port}`,
      insecure: 'private-network',
    },
  });
  const server = http.createServer(createRequestListener(entry));
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  await entry.start();
  await entry.load(fixture('steady'));
  const base = `http://127.0.0.1:${port}`;
  return {
    entry,
    server,
    base,
    members,
    close: async () => {
      for (const m of members) m.child.kill('SIGKILL');
      await closeServer(server);
      await entry.stop();
    },
  };
}

/** Waits until the entry gateway routes `chaos` (to either member). */
async function routed(fleet: Fleet): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const res = await fleet.entry.handle({ method: 'GET', path: '/chaos/items/1', headers: {} });
    if (res.statusCode === 200) return;
    await sleep(25);
  }
  throw new Error('the entry gateway never routed /chaos');
}

async function scenario(
  name: string,
  fleet: Fleet,
  inject: () => Promise<void>,
): Promise<{ report: LoadReport; rssBeforeMiB: number; rssAfterMiB: number }> {
  await routed(fleet);
  ledger = new Map();
  const targets = {
    base: fleet.base,
    get: (n: number) => `/chaos/items/${n}`,
    post: () => '/chaos/orders',
    bystander: (n: number) => `/steady/${n}`,
  };
  const warm = startLoad({ ...targets, post: undefined });
  await sleep(500);
  await warm.stop();
  const rssBeforeMiB = rssMiB();
  const load = startLoad(targets);
  await inject();
  const report = await load.stop();
  const after = startLoad({ ...targets, post: undefined });
  await sleep(300);
  await after.stop();
  const rssAfterMiB = rssMiB();
  for (const kind of ['GET', 'POST', 'bystander'] as const) {
    const tally = kind === 'GET' ? report.get : kind === 'POST' ? report.post : report.bystander;
    rows.push({ scenario: name, kind, tally, rssBeforeMiB, rssAfterMiB });
  }
  return { report, rssBeforeMiB, rssAfterMiB };
}

function expectGoals(outcome: {
  report: LoadReport;
  rssBeforeMiB: number;
  rssAfterMiB: number;
}): void {
  const executions = ledger;
  const { report } = outcome;
  expect(report.get.sent).toBeGreaterThan(0);
  expect(report.get.lost, 'GETs without an HTTP answer').toBe(0);
  expect(report.post.lost, 'POSTs without an HTTP answer').toBe(0);
  expect(
    [...executions].filter(([, n]) => n > 1),
    'POSTs executed twice',
  ).toEqual([]);
  expect(report.bystander.failed, JSON.stringify(report.bystander.statuses)).toBe(0);
  expect(report.bystander.lost).toBe(0);
  expect(outcome.rssAfterMiB - outcome.rssBeforeMiB).toBeLessThanOrEqual(RSS_TOLERANCE_MIB);
}

describe.runIf(haveEtcd)('chaos (fleet of three on etcd)', () => {
  // One fleet for both scenarios (spawning members is the slow part): etcd's restart first, then a
  // member's death.
  let fleet: Fleet;
  beforeAll(async () => {
    fleet = await startFleet('chaos');
  }, 60_000);
  afterAll(() => fleet?.close());

  it('etcd restarted under load: requests keep being served', { timeout }, async () => {
    const outcome = await scenario('etcd restart', fleet, async () => {
      await sleep((CHAOS_SECONDS * 1000) / 4);
      await etcd.stop();
      await sleep((CHAOS_SECONDS * 1000) / 4);
      await etcd.restart();
      await sleep((CHAOS_SECONDS * 1000) / 2);
    });
    expectGoals(outcome);
    expect(outcome.report.get.failed, JSON.stringify(outcome.report.get.statuses)).toBe(0);
  });

  it(
    'a member SIGKILLed under load: no GET lost, no POST run twice, the bystander untouched',
    { timeout },
    async () => {
      const outcome = await scenario('gateway SIGKILL', fleet, async () => {
        await sleep((CHAOS_SECONDS * 1000) / 3);
        fleet.members[1]!.child.kill('SIGKILL');
        await sleep((CHAOS_SECONDS * 2000) / 3);
      });
      expectGoals(outcome);
      // After the kill, the survivor serves every GET.
      const res = await fleet.entry.handle({ method: 'GET', path: '/chaos/items/9', headers: {} });
      expect(res.statusCode).toBe(200);
    },
  );
});
