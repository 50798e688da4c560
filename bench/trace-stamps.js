// The thread's side of bench/sequential-trace.micro.ts: when each step of a request happened in this
// thread, in `performance.now()` of this thread (the host adds this thread's `timeOrigin`; the sum
// itself, ~1.7e12 ms, keeps only quarter-microsecond precision). Loaded
// by the bare pool's task file before Piscina listens on its task port (so the port's message event
// is stamped too) and by the gateway's plugin after it (so there it is not); in a wasm plugin's
// thread by bench/trace-wasm-thread.cjs, which stamps the module's `handle` export as the handler.
import { MessagePort } from 'node:worker_threads';

const now = () => performance.now();
const stamps = { received: [], start: [], end: [], posted: [] };
let replyDue = false;
/** Stamps are taken between `/arm` and `/dump` only. */
let armed = false;

const post = MessagePort.prototype.postMessage;
MessagePort.prototype.postMessage = function (...args) {
  if (replyDue) {
    replyDue = false;
    stamps.posted.push(now());
  }
  return post.apply(this, args);
};
const on = MessagePort.prototype.on;
MessagePort.prototype.on = function (event, listener) {
  if (event !== 'message') return on.call(this, event, listener);
  return on.call(this, event, function (...args) {
    if (armed) stamps.received.push(now());
    return listener.apply(this, args);
  });
};

/** The stamps so far (with this thread's clock origin), emptied; stamping goes on only when `rearm`. */
export function takeStamps(rearm) {
  const body = { origin: performance.timeOrigin, ...stamps };
  for (const key of Object.keys(stamps)) stamps[key] = [];
  armed = rearm;
  return body;
}

/** `handler`, its start and end stamped while armed; the next message posted is its reply. */
export function stamped(handler) {
  return function (...args) {
    if (!armed) return handler.apply(this, args);
    stamps.start.push(now());
    const res = handler.apply(this, args);
    stamps.end.push(now());
    replyDue = true;
    return res;
  };
}

const echo = stamped((req) => ({
  statusCode: 200,
  headers: { 'content-type': 'application/json' },
  body: req.body,
}));

/** The bench's echo, stamped after `/arm`; `/dump` answers the stamps and stops stamping. */
export function tracedEcho(req) {
  if (req.path === '/arm' || req.path === '/dump') {
    return { statusCode: 200, body: takeStamps(req.path === '/arm') };
  }
  return echo(req);
}
