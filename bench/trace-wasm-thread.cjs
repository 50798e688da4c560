// bench/sequential-trace.micro.ts's `wasm` variant: preloaded (`--require`) into each thread of the
// wasm plugin, it stamps the module's `handle` export with bench/trace-stamps.js and answers `arm` and
// `dump` on a BroadcastChannel (a wasm module has no /arm or /dump route; the channel is not a
// MessagePort, so it is never stamped). Nothing of it is in the gateway. (`--require` takes CommonJS:
// the built-in modules come from `process.getBuiltinModule`.)
const { BroadcastChannel } = process.getBuiltinModule('node:worker_threads');
const { pathToFileURL } = process.getBuiltinModule('node:url');
const path = process.getBuiltinModule('node:path');

const loading = import(pathToFileURL(path.join(__dirname, 'trace-stamps.js')).href);
const instantiate = WebAssembly.instantiate;
WebAssembly.instantiate = async function (...args) {
  const made = await instantiate.apply(this, args);
  const { stamped } = await loading;
  const instance = 'instance' in made ? made.instance : made;
  const exports = { ...instance.exports };
  if (typeof exports.handle === 'function') exports.handle = stamped(exports.handle);
  const traced = { exports };
  return 'instance' in made ? { module: made.module, instance: traced } : traced;
};

const channel = new BroadcastChannel('pgw-sequential-trace');
channel.unref();
channel.onmessage = async ({ data }) => {
  const { takeStamps } = await loading;
  const body = takeStamps(data === 'arm');
  // A plugin may have more threads than the one serving the bench's requests: only it answers a dump.
  if (data === 'arm' || body.start.length > 0) channel.postMessage({ to: data, body });
};
