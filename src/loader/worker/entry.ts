/**
 * The harness that runs inside each worker thread of a plugin: the thread's transport — Piscina's
 * tasks, the parent port for notes and control, the shared slot table — around the plugin serving of
 * `harness/plugin-host.ts`. Everything the plugin does wrong is caught there and answered as a value;
 * only a dying thread reaches the host as a crash.
 * @module
 */
import type { FetchReply } from '../host-fetch.js';
import { MessageChannel, parentPort, threadId, workerData } from 'node:worker_threads';
import type { PluginResponse } from '../../shared/types.js';
import type { ControlMessage, HarnessData, Task, TaskBatch, WorkerNote } from './protocol.js';
import { threadRunner, type PiscinaAnswer } from './thread-batch.js';
import { lockdown } from './lockdown.js';
import { parseNetworkGrants } from '../../shared/network-allowlist.js';
import { servePlugin } from '../harness/plugin-host.js';
import { serveLive } from './live-harness.js';

const data = workerData as HarnessData;
/**
 * The slot table decides a thread's fate on the host (which thread to end after a deadline, whether a
 * lost task may run again): it is taken out of `workerData` before any plugin code runs, and written
 * with `Atomics.store` as it was when this module loaded, so that the plugin can neither write it nor
 * see it being written.
 */
const slots = data.slots;
delete (data as Partial<HarnessData>).slots;
const storeSlot = Atomics.store;
// Before anything of the plugin's runs (its module is imported once the host says "start").
lockdown(parseNetworkGrants(data.network));
const port = parentPort!;

function note(message: WorkerNote): void {
  try {
    port.postMessage(message);
  } catch {
    // Fields that cannot be cloned: send the line without them rather than lose it.
    if (message.pgw === 'log')
      port.postMessage({ ...message, fields: { unserializable: String(message.fields) } });
  }
}

/**
 * Host-to-thread control arrives on this thread's parent port, which only the host holds. Piscina's
 * own listener there only takes its start-up message, which it has had by the time this module runs
 * (it is loading it): from now on every message is the host's control.
 */
port.removeAllListeners('message');
let startPlugin: () => void;
/** The host says "start" once it has taken over this thread's stdout and stderr. */
const hostReady = new Promise<void>((resolve) => (startPlugin = resolve));

const flagNames = Object.keys(data.flags);
let flagsSeen = 0;
/** The host's flag values in the shared cells (`setFlag()`), or undefined when unchanged since last read. */
function readFlagCells(): Record<string, boolean> | undefined {
  const cells = data.flagCells;
  const version = Atomics.load(cells, 0);
  if (version === flagsSeen) return undefined;
  const flags: Record<string, boolean> = {};
  flagNames.forEach((name, i) => (flags[name] = Atomics.load(cells, i + 1) === 1));
  // Written meanwhile: the next task reads them again.
  if (Atomics.load(cells, 0) === version) flagsSeen = version;
  return flags;
}
// A thread started after a change: its initialize() already sees the current values.
data.flags = readFlagCells() ?? data.flags;

const host = servePlugin(
  data,
  {
    note,
    /** The host answers on a port of this call's own. */
    call(service, request, requestId, userId) {
      const { port1, port2 } = new MessageChannel();
      return new Promise<PluginResponse>((resolve, reject) => {
        port1.once('message', (response: PluginResponse) => {
          port1.close();
          resolve(response);
        });
        try {
          port.postMessage(
            { pgw: 'call', service, request, requestId, userId, port: port2 } satisfies WorkerNote,
            [port2],
          );
        } catch (error) {
          port1.close();
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      });
    },
    /** The host fetches on the host and answers on a port of this fetch's own. */
    fetch(request) {
      const { port1, port2 } = new MessageChannel();
      return new Promise<FetchReply>((resolve) => {
        port1.once('message', (reply: FetchReply) => {
          port1.close();
          resolve(reply);
        });
        try {
          port.postMessage({ pgw: 'fetch', request, port: port2 } satisfies WorkerNote, [port2]);
        } catch (error) {
          port1.close();
          resolve({ error: error instanceof Error ? error.message : String(error) });
        }
      });
    },
    enter: (slot) => storeSlot(slots, slot, threadId),
    leave: (slot) => storeSlot(slots, slot, -threadId),
  },
  hostReady,
);

if (data.livePort) {
  serveLive(data.livePort, host, () => {
    const flags = readFlagCells();
    if (flags) host.setFlags(flags);
  });
  // The plugin's code, imported later, does not find the port in `workerData`.
  delete data.livePort;
}

port.on('message', (message: ControlMessage) => {
  switch (message?.ctl) {
    case 'start':
      return startPlugin();
    case 'stop':
      return void host.stop();
    case 'abandon':
      return host.abandon(message.slot);
    case 'health':
      return void host.answerHealth(message.seq);
    case 'ping':
      return note({ pgw: 'pong', seq: message.seq });
    case 'task': {
      const flags = readFlagCells();
      if (flags) host.setFlags(flags);
      return runner.port(message.task);
    }
  }
});

process.on('exit', (code) => note({ pgw: 'exiting', code }));

// Answers are posted so that a failure to send throws: the runner then sends what it can in their place.
const runner = threadRunner(host.run, data.concurrency, (answer) => port.postMessage(answer));
const runTask = runner.piscina;

/**
 * Piscina calls this for every task, one request or a batch of them. Synchronous work is answered
 * without a promise or a timer; asynchronous work waits until it settles or the host abandons it.
 */
export default function run(task: Task | TaskBatch): PiscinaAnswer | Promise<PiscinaAnswer> {
  const flags = readFlagCells();
  if (flags) host.setFlags(flags);
  return runTask(task);
}
