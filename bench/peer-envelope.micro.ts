/**
 * What the owner of a peer channel spends per forwarded call on the envelope and the frames, step by
 * step, in one process (issue 24, decision 0380): a call like the bench's (`GET /profiles/7`, a few
 * headers, a context) and its answer, unsigned, in batches of 12 as they arrive at 64 in flight; the
 * JSON envelope the protocol speaks against a binary one (`peer-envelope-binary.ts`, not adopted).
 * CPU µs per call of each step, the steps alternated over rounds, medians.
 *
 *   npx tsx bench/peer-envelope.micro.ts      (BENCH_ROUNDS, default 7; BENCH_CALLS, default 200000)
 */
import os from 'node:os';
import {
  CHANNEL_ANSWER,
  CHANNEL_CALL,
  FROM_CALLER,
  FROM_OWNER,
  FrameReader,
  FrameWriter,
} from '../src/fleet/peer-channel-frames.js';
import { answerText, parseCall, requestOf } from '../src/fleet/peer-server.js';
import { peerCall } from '../src/fleet/peer-protocol.js';
import { checked, encodeAnswer, encodeCall } from './peer-envelope-binary.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const CALLS = Number(process.env.BENCH_CALLS ?? 200_000);
const BATCH = 12;

const request = {
  id: 'entry-1-7f3a',
  method: 'GET',
  path: '/profiles/7',
  headers: { accept: 'application/json', 'user-agent': 'bench' },
  userId: 456,
  params: { id: '7' },
  query: {},
  context: { clientAddress: '10.0.0.9', roles: ['user'] },
};
const to = { service: 'profiles', version: '1.2.0', instanceId: 'profiles@1.2.0#owner.1' };
const envelope = JSON.stringify(peerCall(to, 'GET /profiles/{id}', request, 4997));
const response = {
  statusCode: 200,
  headers: { 'content-type': 'application/json' },
  body: { id: '7', node: 'owner', userId: 456, query: {} },
};
const binaryCall = encodeCall(
  peerCall(to, 'GET /profiles/{id}', request, 4997),
  undefined,
  undefined,
);
const jsonCall = Buffer.from(envelope);
const callBatch = new FrameWriter(undefined, FROM_CALLER).frames(
  CHANNEL_CALL,
  Array.from({ length: BATCH }, (_, i) => ({
    id: i + 1,
    payload: envelope,
    bytes: Buffer.byteLength(envelope),
  })),
);

let sink = 0;
const steps: Record<string, () => void> = {
  'read a batch of calls (frames → strings)': () => {
    const reader = new FrameReader(undefined, FROM_CALLER, CHANNEL_CALL, 1 << 20);
    for (let n = 0; n < CALLS / BATCH; n++)
      reader.push(callBatch, (id, text) => (sink += text.length));
  },
  'parse and check the JSON envelope (UTF-8 text, parseCall + requestOf)': () => {
    for (let n = 0; n < CALLS; n++) {
      sink += requestOf(parseCall(jsonCall.toString('utf8'))).path.length;
    }
  },
  'decode and check a binary envelope (bench/peer-envelope-binary.ts)': () => {
    for (let n = 0; n < CALLS; n++) sink += checked(binaryCall).request.path.length;
  },
  'the answer as JSON (answerText)': () => {
    for (let n = 0; n < CALLS; n++) sink += answerText(response, undefined).length;
  },
  'the answer as a binary envelope': () => {
    for (let n = 0; n < CALLS; n++) sink += encodeAnswer(response, undefined).length;
  },
  'answers into a tagged batch (byteLength + frames)': () => {
    const writer = new FrameWriter(undefined, FROM_OWNER);
    const text = answerText(response, undefined);
    for (let n = 0; n < CALLS / BATCH; n++) {
      const frames = [];
      for (let i = 0; i < BATCH; i++)
        frames.push({ id: i, payload: text, bytes: Buffer.byteLength(text) });
      sink += writer.frames(CHANNEL_ANSWER, frames).length;
    }
  },
};

const cpuOf = (run: () => void) => {
  const t0 = process.cpuUsage();
  run();
  const t = process.cpuUsage(t0);
  return (t.user + t.system) / CALLS;
};
const results = new Map<string, number[]>();
for (const step of Object.values(steps)) step();
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, step] of Object.entries(steps)) {
    results.set(name, [...(results.get(name) ?? []), cpuOf(step)]);
  }
}
const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!;
console.log(`binary envelope ${binaryCall.length} B`);
console.log(
  `load average ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}; ${CALLS} calls, batches of ${BATCH}; envelope ${Buffer.byteLength(envelope)} B`,
);
console.log('| step | CPU µs per call (median) |\n| --- | ---: |');
for (const [name, v] of results) console.log(`| ${name} | ${median(v).toFixed(2)} |`);
if (sink === 0) console.log('');
