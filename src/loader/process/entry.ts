/**
 * The harness of a `runtime.type: process` plugin: the child process's side of the IPC channel
 * around the plugin serving of `harness/plugin-host.ts`. Node's permission model (and, on Linux,
 * bubblewrap) is the wall; the lockdown of the worker harness adds its network guard and its refusals
 * of process-wide levers. Tasks arrive as `task` messages and are answered as `result` notes.
 * @module
 */
import type { FetchReply } from '../host-fetch.js';
import type { PluginResponse } from '../../shared/types.js';
import { parseNetworkGrants } from '../../shared/network-allowlist.js';
import { servePlugin, type PluginHost } from '../harness/plugin-host.js';
import { lockdown } from '../worker/lockdown.js';
import type { TaskResult } from '../worker/protocol.js';
import type { ProcessControl, ProcessNote } from './protocol.js';

// The channel is the host's; Node's own `process.send` is kept before the plugin can replace it.
const send = process.send!.bind(process);

function note(message: ProcessNote): void {
  try {
    send(message);
  } catch {
    // Fields that cannot be cloned: send the line without them rather than lose it.
    if (message.pgw === 'log')
      send({ ...message, fields: { unserializable: String(message.fields) } });
    else if (message.pgw === 'result') {
      send({
        pgw: 'result',
        s: message.s,
        r: { __pgw: 'bad-response', message: 'the answer cannot be cloned' },
      });
    }
  }
}

let host: PluginHost | undefined;
let startPlugin: () => void;
const hostReady = new Promise<void>((resolve) => (startPlugin = resolve));
const calls = new Map<number, (response: PluginResponse) => void>();
const fetches = new Map<number, (reply: FetchReply) => void>();
let callSeq = 0;

function answer(slot: number, result: TaskResult): void {
  note({ pgw: 'result', s: slot, r: result });
}

process.on('message', (message: ProcessControl) => {
  switch (message?.ctl) {
    case 'start': {
      if (host) return;
      lockdown(parseNetworkGrants(message.data.network));
      host = servePlugin(
        message.data,
        {
          note,
          call(service, request, requestId, userId) {
            const seq = ++callSeq;
            return new Promise<PluginResponse>((resolve) => {
              calls.set(seq, resolve);
              note({ pgw: 'call', seq, service, request, requestId, userId });
            });
          },
          fetch(request) {
            const seq = ++callSeq;
            return new Promise<FetchReply>((resolve) => {
              fetches.set(seq, resolve);
              note({ pgw: 'fetch', seq, request });
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
  }
});

process.on('exit', (code) => {
  try {
    note({ pgw: 'exiting', code });
  } catch {
    // The channel is closed: the host sees the exit anyway.
  }
});
// The host is gone (a process outside bwrap has no --die-with-parent): nothing left to serve.
process.on('disconnect', () => process.exit(0));
note({ pgw: 'ready' });
