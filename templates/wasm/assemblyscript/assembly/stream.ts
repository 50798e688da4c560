// Streamed responses and Server-Sent Events for a `stream:` endpoint (docs/wasm-plugins.md, "Streams").
// During the call of `handle`, write the body chunk by chunk: each write waits until the client has
// taken enough of what came before, and answers STREAM_CLOSED once the client went away or a deadline
// passed: then return from `handle`.

@external('extism:host/user', 'pgw_stream_head')
declare function pgw_stream_head(ptr: u64, len: u64): i32;
@external('extism:host/user', 'pgw_stream_write')
declare function pgw_stream_write(ptr: u64, len: u64): i32;

/** The chunk went out (or the head was taken). */
export const STREAM_OK: i32 = 0;
/** The stream is over (client gone, deadline passed): return from `handle`. */
export const STREAM_CLOSED: i32 = -1;
/** This call is not a `stream:` endpoint's. */
export const STREAM_NONE: i32 = -2;
/** Refused and the stream cut: a chunk over `max_chunk_bytes`, or a bad head. */
export const STREAM_REFUSED: i32 = -3;

function writeBuffer(buffer: ArrayBuffer): i32 {
  return pgw_stream_write(changetype<usize>(buffer) as u64, buffer.byteLength as u64);
}

/** Status and headers (a JSON object of text values), before the first chunk; else 200 and none. */
export function streamHead(status: i32, headersJson: string = '{}'): i32 {
  const head = String.UTF8.encode('{"statusCode":' + status.toString() + ',"headers":' + headersJson + '}');
  return pgw_stream_head(changetype<usize>(head) as u64, head.byteLength as u64);
}

/** One chunk of text (UTF-8). */
export function streamWrite(text: string): i32 {
  return writeBuffer(String.UTF8.encode(text));
}

/** One chunk of bytes. */
export function streamWriteBytes(bytes: Uint8Array): i32 {
  return pgw_stream_write(bytes.dataStart as u64, bytes.byteLength as u64);
}

/** Server-Sent Events: `event:`/`id:`/`data:` frames, heartbeats, and the client's Last-Event-ID. */
export class SSE {
  /** The head of an event stream: 200, text/event-stream, no caching. */
  static start(): i32 {
    return streamHead(
      200,
      '{"content-type":"text/event-stream; charset=utf-8","cache-control":"no-cache"}',
    );
  }

  /** One event; `data` may hold several lines (each becomes a `data:` line). */
  static send(data: string, event: string = '', id: string = ''): i32 {
    let frame = '';
    if (event.length > 0) frame += 'event: ' + event + '\n';
    if (id.length > 0) frame += 'id: ' + id + '\n';
    const lines = data.split('\n');
    for (let i = 0; i < lines.length; i++) frame += 'data: ' + lines[i] + '\n';
    return streamWrite(frame + '\n');
  }

  /** A comment line, which clients ignore: a heartbeat that keeps the stream within its idle_timeout. */
  static heartbeat(text: string = ''): i32 {
    return streamWrite(': ' + text + '\n\n');
  }

  /**
   * The `Last-Event-ID` the client reconnected with, from `handle`'s input (header names come
   * lower-case), or "" when it sent none. Ids are read up to the first quote or backslash: keep them
   * plain (digits, letters).
   */
  static lastEventId(input: string): string {
    const marker = '"last-event-id":"';
    const at = input.indexOf(marker);
    if (at < 0) return '';
    const start = at + marker.length;
    let end = start;
    while (end < input.length) {
      const c = input.charCodeAt(end);
      if (c == 34 || c == 92) break;
      end++;
    }
    return input.substring(start, end);
  }
}
