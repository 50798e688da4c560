// One export, `handle`, serves every endpoint: its input is {"key":"METHOD /path","request":{...}},
// with `key` first, so the route is known from the start of the text without a JSON parser.
import { Host, LogLevel, Memory } from '@extism/as-pdk';
import { length } from '@extism/as-pdk/lib/env';
import { SSE, STREAM_OK } from './stream';

// The gateway's key/value store, granted by resources.disk in plugin.yaml.
@external('extism:host/user', 'pgw_kv_get')
declare function pgw_kv_get(key: u64): u64;
@external('extism:host/user', 'pgw_kv_set')
declare function pgw_kv_set(key: u64, value: u64): void;

function kvGet(key: string): string | null {
  const at = pgw_kv_get(Memory.allocateString(key).offset);
  return at == 0 ? null : new Memory(at, length(at)).toString();
}

function kvSet(key: string, value: string): void {
  pgw_kv_set(Memory.allocateString(key).offset, Memory.allocateString(value).offset);
}

function reply(status: i32, body: string): void {
  Host.outputString(
    '{"statusCode":' +
      status.toString() +
      ',"headers":{"content-type":"application/json"},"body":' +
      body +
      '}',
  );
}

export function handle(): i32 {
  const input = Host.inputString();
  if (input.startsWith('{"key":"POST /echo"')) {
    reply(200, input);
  } else if (input.startsWith('{"key":"GET /hits"')) {
    const before = kvGet('hits');
    const hits = (before == null ? 0 : I32.parseInt(before)) + 1;
    kvSet('hits', hits.toString());
    Host.log(LogLevel.Info, 'hit ' + hits.toString());
    reply(200, '{"hits":' + hits.toString() + '}');
  } else if (input.startsWith('{"key":"GET /events"')) {
    // Three Server-Sent Events after the client's Last-Event-ID (a `stream:` endpoint).
    const last = SSE.lastEventId(input);
    const after = last.length > 0 ? I32.parseInt(last) : 0;
    SSE.start();
    for (let n = after + 1; n <= after + 3; n++) {
      if (SSE.send('{"n":' + n.toString() + '}', 'tick', n.toString()) != STREAM_OK) break;
    }
  } else {
    reply(404, '{"error":"no such route"}');
  }
  return 0;
}
