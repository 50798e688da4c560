/**
 * The harness of a `runtime.type: process` plugin: the child process's side of the plugin protocol
 * (frames on the socket at fd 3, docs/plugin-protocol.md) around the plugin serving of
 * `harness/plugin-host.ts`. Node's permission model (and, on Linux, bubblewrap) is the wall; the
 * lockdown of the worker harness adds its network guard and its refusals of process-wide levers.
 * Tasks arrive as `task` messages and are answered as `result` notes; streams and WebSockets as `live`
 * frames, served by the worker's live-thread code (`live-stream-harness.ts`, `live-sockets.ts`).
 * @module
 */
import { writeSync } from 'node:fs';
import { Socket } from 'node:net';
import type { FetchReply } from '../host-fetch.js';
import type { PluginResponse } from '../../shared/types.js';
import { parseNetworkGrants } from '../../shared/network-allowlist.js';
import { servePlugin, type PluginHost } from '../harness/plugin-host.js';
import { lockdown } from '../worker/lockdown.js';
import type { TaskResult } from '../worker/protocol.js';
import type { ProcessControl, ProcessNote } from './protocol.js';
import type { LiveFrame, LiveNote, LiveServing } from '../worker/live-protocol.js';
import { ThreadStreams } from '../worker/live-stream-harness.js';
import { HarnessSockets } from '../worker/live-sockets.js';
import {
  encodeFrame,
  FRAME_ENVELOPE_BYTES,
  FrameReader,
  HEADER_BYTES,
  PROTOCOL_VERSION,
} from './frames.js';
import { channelGarbage } from './channel-garbage.js';

/** The channel's descriptor, which the host's `spawn` put there. */
const CHANNEL_FD = 3;
// Taken before the plugin's code runs; whatever that code writes to the descriptor itself is read by
// the host's bounded reader like anything else from this process.
const channel = new Socket({ fd: CHANNEL_FD, readable: true, writable: true });
const channelBytes = channelGarbage();
/** The largest frame the host reads from this process: set by `start` (`maxResponseBytes` + envelope). */
let frameLimit = Infinity;

/** A note as a frame within the host's limit, or undefined with why it cannot be one. */
function frameOf(message: ProcessNote): Buffer | string {
  let frame: Buffer;
  try {
    frame = encodeFrame(message);
  } catch {
    return 'cannot be encoded';
  }
  return frame.length - HEADER_BYTES > frameLimit ? 'is too large for the channel' : frame;
}

/** Sends a note; one that cannot go as it is goes in a smaller form, or not at all (false). */
function note(message: ProcessNote): boolean {
  let frame = frameOf(message);
  if (typeof frame === 'string') {
    // Send the line without its fields, the answer as a failure, rather than lose them.
    if (message.pgw === 'log') {
      const msg = message.msg.slice(0, 4096);
      frame = frameOf({ ...message, msg, fields: { unserializable: `the fields ${frame}` } });
    } else if (message.pgw === 'result') {
      const r = { __pgw: 'bad-response' as const, message: `the answer ${frame}` };
      frame = frameOf({ pgw: 'result', s: message.s, r });
    }
  }
  if (typeof frame === 'string') return false;
  channel.write(frame);
  channelBytes(frame.length);
  return true;
}

let host: PluginHost | undefined;
let startPlugin: () => void;
const hostReady = new Promise<void>((resolve) => (startPlugin = resolve));
const calls = new Map<number, (response: PluginResponse) => void>();
const fetches = new Map<number, (reply: FetchReply) => void>();
let callSeq = 0;

/** A live note; a message too large for the channel closes its connection (1011) instead. */
function liveNote(n: LiveNote): void {
  if (note({ pgw: 'live', n })) return;
  if (n.k !== 'send' && n.k !== 'pub') return;
  process.stderr.write(`plugin-gateway: a websocket ${n.k} is too large for the channel\n`);
  if (n.k === 'send')
    note({ pgw: 'live', n: { k: 'close', c: n.c, code: 1011, reason: 'message too large' } });
}

/** Streamed responses and WebSockets: the live thread's serving, its notes as `live` frames. */
const streams = new ThreadStreams(liveNote);
const sockets = new HarnessSockets(liveNote);
let serving: Promise<LiveServing | undefined> | undefined;

/** One live frame, in order, once the plugin has started. */
function onLiveFrame(f: LiveFrame): void {
  serving ??= host!.live();
  void serving.then((s) => {
    if (f.k === 'req') return void streams.serve(s, f.c, f.key, f.r, f.b, f);
    if (f.k === 'more') return streams.more(f.c);
    if (f.k === 'cancel') return streams.cancel(f.c);
    if (f.k === 'body') return streams.body(f.c, f.d);
    if (f.k === 'bodyend') return streams.bodyEnd(f.c, f.e);
    sockets.handle(s, f);
  });
}

function answer(slot: number, result: TaskResult): void {
  note({ pgw: 'result', s: slot, r: result });
}

// The host is trusted: no bound on its frames (the host bounds requests before they get here).
const reader = new FrameReader(
  { maxFrameBytes: 0xffff_ffff, stallMs: 0 },
  (message) => onControl(message as ProcessControl),
  (reason) => {
    process.stderr.write(`plugin-gateway: the host's channel carried ${reason}\n`);
    process.exit(70);
  },
);
channel.on('data', (chunk: Buffer) => {
  reader.push(chunk);
  channelBytes(chunk.length);
});

function onControl(message: ProcessControl): void {
  switch (message?.ctl) {
    case 'start': {
      if (host) return;
      frameLimit = message.data.maxResponseBytes + FRAME_ENVELOPE_BYTES;
      lockdown(parseNetworkGrants(message.data.network));
      host = servePlugin(
        message.data,
        {
          note,
          call(service, request, requestId, userId) {
            const seq = ++callSeq;
            return new Promise<PluginResponse>((resolve, reject) => {
              calls.set(seq, resolve);
              if (note({ pgw: 'call', seq, service, request, requestId, userId })) return;
              calls.delete(seq);
              reject(new Error(`ctx.call("${service}"): the request cannot be sent to the host`));
            });
          },
          fetch(request) {
            const seq = ++callSeq;
            return new Promise<FetchReply>((resolve) => {
              fetches.set(seq, resolve);
              if (note({ pgw: 'fetch', seq, request })) return;
              fetches.delete(seq);
              resolve({ error: 'the request cannot be sent to the host' });
            });
          },
          enter: (slot) => note({ pgw: 'started', s: slot }),
          leave: () => {},
        },
        hostReady,
      );
      return startPlugin();
    }
    case 'task': {
      const task = message.task;
      const result = host!.run(task);
      if (result instanceof Promise) void result.then((r) => answer(task.s, r));
      else answer(task.s, result);
      return;
    }
    case 'reply': {
      const resolve = calls.get(message.seq);
      calls.delete(message.seq);
      return resolve?.(message.response);
    }
    case 'fetched': {
      const resolve = fetches.get(message.seq);
      fetches.delete(message.seq);
      return resolve?.(message.reply);
    }
    case 'stop':
      return void host?.stop();
    case 'flags':
      return host?.setFlags(message.flags);
    case 'abandon':
      return host?.abandon(message.slot);
    case 'health':
      return void host?.answerHealth(message.seq);
    case 'live':
      return host ? onLiveFrame(message.f) : undefined;
  }
}

process.on('exit', (code) => {
  // A frame still being written would be cut by this one: then the host learns of the exit by itself.
  if (channel.writableLength > 0) return;
  try {
    // Synchronous: the event loop is done, a socket write would never be flushed.
    writeSync(CHANNEL_FD, encodeFrame({ pgw: 'exiting', code }));
  } catch {
    // The channel is closed or full: the host sees the exit anyway.
  }
});
// The host is gone (a process outside bwrap has no --die-with-parent): nothing left to serve.
channel.on('end', () => process.exit(0));
channel.on('error', () => process.exit(0));
note({ pgw: 'hello', v: PROTOCOL_VERSION });
