/**
 * One host of `bench/native-cold.bench.ts`: the built package at COLD_PACKAGE (default: this
 * checkout's) loads the plugin in COLD_PLUGIN once (the library's modules), then COLD_N more times in
 * fresh gateways — the cold start of a plugin in a warm host: `load()`, `start()`, the first answer.
 * `spawn` is wrapped to mark the sandbox's steps. Prints one line of JSON: a row per cold start.
 */
import childProcess, { type ChildProcess } from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as Gateway from '../../src/index.js';

const N = Number(process.env.COLD_N ?? 4);
const PACKAGE = path.resolve(process.env.COLD_PACKAGE ?? path.join(import.meta.dirname, '../..'));
const pluginDir = process.env.COLD_PLUGIN!;

/** When the host called `spawn`, when `spawn` returned (the child exec'd), the program's first frame. */
let marks: { called?: number; returned?: number; hello?: number } = {};
const spawn = childProcess.spawn;
childProcess.spawn = ((...args: Parameters<typeof spawn>) => {
  const called = performance.now();
  const child: ChildProcess = spawn(...args);
  marks.called = called;
  marks.returned = performance.now();
  child.stdio[3]?.once('data', () => (marks.hello = performance.now()));
  return child;
}) as typeof spawn;
syncBuiltinESMExports();

const { PluginGateway } = (await import(
  pathToFileURL(path.join(PACKAGE, 'dist/index.js')).href
)) as typeof Gateway;
const request = { method: 'POST', path: '/echo', headers: {}, body: { trackIds: [1, 2] } };

async function coldStart(): Promise<Record<string, number>> {
  marks = {};
  const began = performance.now();
  const cpu = process.cpuUsage();
  const gateway = new PluginGateway({ logger: false, sandbox: { bwrap: true } });
  await gateway.load(pluginDir);
  const loaded = performance.now();
  await gateway.start();
  const res = await gateway.handle(request);
  const answered = performance.now();
  const used = process.cpuUsage(cpu);
  if (res.statusCode !== 200) throw new Error(`the echo plugin answered ${res.statusCode}`);
  await gateway.stop();
  return {
    wallMs: answered - began,
    hostCpuMs: (used.user + used.system) / 1000,
    loadMs: loaded - began,
    toSpawnMs: marks.called! - began,
    spawnMs: marks.returned! - marks.called!,
    spawnToHelloMs: marks.hello! - marks.called!,
    helloToAnswerMs: answered - marks.hello!,
  };
}

await coldStart();
const rows = [];
for (let i = 0; i < N; i++) {
  rows.push(await coldStart());
  // Between starts, as between two plugins loaded one after another by a host.
  await new Promise((resolve) => setTimeout(resolve, 50));
}
console.log(JSON.stringify(rows));
