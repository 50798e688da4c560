/**
 * The shapes of live connections: an endpoint's `stream` and `websocket` settings, and the connections
 * a plugin's versions hold.
 * @module
 */

/** An endpoint's `stream` settings in plugin.yaml, defaults filled in. */
export interface StreamSettings {
  /** Until the plugin's handler returns its response (status and headers). @default '30s' */
  first_byte_timeout: string;
  /** Between two chunks (an SSE heartbeat counts); past it the stream is ended. @default '60s' */
  idle_timeout: string;
  /** The whole stream; past it, ended. @default '1h' */
  total_timeout: string;
  /** Largest chunk the plugin may hand the host at once; a larger one ends the stream. @default 1 MiB */
  max_chunk_bytes: number;
  /**
   * The handler reads the request body as a stream (`req.body` an async iterable of `Uint8Array`
   * chunks, handed over as it reads them) instead of whole. @default false
   */
  request_body: boolean;
  /**
   * Streams of this endpoint open at once on one plugin instance; past it the caller gets 503
   * `PGW_ERR_TOO_MANY_CONNECTIONS`. @default none for worker and process plugins; 16 for wasm plugins,
   * where each open stream holds a thread and an instance of the module (docs/decisions/0180)
   */
  max_connections?: number;
  /** With `request_body`, the largest body: past it, 413 and the upload is aborted. @default 1 GiB */
  max_request_bytes: number;
}

/** An endpoint's `websocket` settings in plugin.yaml, defaults filled in. */
export interface WebSocketSettings {
  /** Largest message a client may send; a larger one closes the connection 1009. @default 1 MiB */
  max_message_bytes: number;
  /**
   * Bytes the host may hold for one connection that the client has not read yet; past it the
   * connection is closed 1013. @default 1 MiB
   */
  max_buffered_bytes: number;
  /** Open connections of this endpoint (all callers); past it, upgrades answer 503. @default 10000 */
  max_connections: number;
  /** Messages per connection, e.g. `50/sec`; past it the connection is closed 1008. None by default. */
  message_rate_limit?: string;
  /**
   * Browser origins admitted (`Origin` header); `*` admits any. @default same origin as the `Host`
   * header, and clients that send no `Origin` (not browsers)
   */
  origins?: readonly string[];
  /** A connection that sends nothing (not even a pong) for this long is ended. @default '60s' */
  idle_timeout: string;
}

/** One version's open connections, in `PluginInfo.connections`. */
export interface VersionConnections {
  /** Semver version, from its manifest. */
  version: string;
  /** Its open WebSockets and streamed responses. */
  active_connections: number;
  /**
   * For a version a swap replaced: when its connections still open are closed 1012 (ISO 8601).
   * New connections go to the version serving.
   */
  draining_until?: string;
}
