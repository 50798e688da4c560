// A variant that is not shipped (bench/wasm/floor.bench.ts): preloaded into a plugin's threads, it holds
// every `replies` note the thread posts in one synchronous stretch and posts their answers as one note
// when the stretch ends (a microtask), so that a batch of synchronous calls is answered in one message
// rather than one per answer. It gives up the batch-hostage rule of ADR 0300: an answer waits for the
// calls after it in its batch, and a runaway call among them holds (and, ended, loses) them all.
const { MessagePort } = process.getBuiltinModule('node:worker_threads');

const post = MessagePort.prototype.postMessage;
/** Per port, the answers held for the end of the stretch. */
const held = new Map();
MessagePort.prototype.postMessage = function (message, ...rest) {
  if (message?.pgw !== 'replies') return post.call(this, message, ...rest);
  const answers = held.get(this);
  if (answers !== undefined) {
    answers.push(...message.r);
    return;
  }
  held.set(this, [...message.r]);
  queueMicrotask(() => {
    const r = held.get(this);
    held.delete(this);
    post.call(this, { pgw: 'replies', r });
  });
};
