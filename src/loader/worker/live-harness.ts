/**
 * Inside a plugin's live thread: the frames the host sends on the thread's live port, served with the
 * plugin's `websockets` handlers (`live-sockets.ts`) and streamed routes (`live-stream-harness.ts`).
 * @module
 */
import type { MessagePort } from 'node:worker_threads';
import type { PluginHost } from '../harness/plugin-host.js';
import type { LiveFrame, LiveNote, LiveServing } from './live-protocol.js';
import { HarnessSockets } from './live-sockets.js';
import { ThreadStreams } from './live-stream-harness.js';

/**
 * Serves the live frames arriving on `port` with the plugin `host` runs in this thread.
 * @param refreshFlags reads the host's flag cells into the plugin's `ctx.flags` (as a task does)
 */
export function serveLive(port: MessagePort, host: PluginHost, refreshFlags: () => void): void {
  const post = (note: LiveNote, transfer?: ArrayBuffer[]) => port.postMessage(note, transfer);
  let serving: LiveServing | undefined;
  const ready = host.live().then((s) => void (serving = s));
  const sockets = new HarnessSockets(post, refreshFlags);
  const streams = new ThreadStreams(post, true);

  // Every frame waits for the plugin to start; `then` callbacks keep the frames' order.
  port.on('message', (frame: LiveFrame) => void ready.then(() => handle(frame)));

  function handle(frame: LiveFrame): void {
    // The request's traceparent and flag values (`tp`, `f`) go to the handler's ctx.
    if (frame.k === 'req')
      return void streams.serve(serving, frame.c, frame.key, frame.r, frame.b, frame);
    if (frame.k === 'more') return streams.more(frame.c, frame.b);
    if (frame.k === 'body') return streams.body(frame.c, frame.d);
    if (frame.k === 'bodyend') return streams.bodyEnd(frame.c, frame.e);
    if (frame.k === 'cancel') return streams.cancel(frame.c);
    sockets.handle(serving, frame);
  }
}
