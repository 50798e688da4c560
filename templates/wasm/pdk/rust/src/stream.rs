//! Streamed responses and Server-Sent Events, for an endpoint with `stream:` in plugin.yaml (which
//! grants these host functions). The handler writes its body during its call: each write waits until
//! the client has taken enough of what came before, and fails with [`StreamError::Closed`] once the
//! client went away or a deadline passed: the handler then returns [`streamed`].

use std::fmt;

use crate::{Request, Response};

#[link(wasm_import_module = "extism:host/user")]
extern "C" {
    fn pgw_stream_head(ptr: u64, len: u64) -> i32;
    fn pgw_stream_write(ptr: u64, len: u64) -> i32;
}

/// Why a write did not go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamError {
    /// The stream is over (the client went away, a deadline passed): return.
    Closed,
    /// The endpoint being served has no `stream:` in plugin.yaml.
    NotStream,
    /// The gateway refused the write (a chunk over `max_chunk_bytes`, a bad head) and cut the stream.
    Refused,
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StreamError::Closed => "the stream is closed",
            StreamError::NotStream => "this endpoint does not stream (plugin.yaml stream:)",
            StreamError::Refused => "the gateway refused the write and cut the stream",
        })
    }
}

impl std::error::Error for StreamError {}

/// The bytes' address in the module's memory: the gateway copies them out during the call.
fn send(f: unsafe extern "C" fn(u64, u64) -> i32, bytes: &[u8]) -> Result<(), StreamError> {
    if bytes.is_empty() {
        return Ok(());
    }
    match unsafe { f(bytes.as_ptr() as usize as u64, bytes.len() as u64) } {
        0 => Ok(()),
        -1 => Err(StreamError::Closed),
        -2 => Err(StreamError::NotStream),
        _ => Err(StreamError::Refused),
    }
}

/// Sends the status and headers, before the first write (without it: 200, no headers).
pub fn stream_head(status: u16, headers: &[(&str, &str)]) -> Result<(), StreamError> {
    let headers: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
        .collect();
    let head = serde_json::json!({ "statusCode": status, "headers": headers }).to_string();
    send(pgw_stream_head, head.as_bytes())
}

/// Sends one chunk of the body (at most the endpoint's `max_chunk_bytes`).
pub fn stream_write(chunk: &[u8]) -> Result<(), StreamError> {
    send(pgw_stream_write, chunk)
}

/// What a handler that streamed returns: the gateway ignores it, the head went first.
pub fn streamed() -> Result<Response, extism_pdk::Error> {
    Ok(Response {
        status_code: 200,
        headers: Default::default(),
        body: None,
    })
}

/// The response body as a [`std::io::Write`]: each `write` is one chunk.
pub struct Stream;

impl std::io::Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        stream_write(buf).map_err(std::io::Error::other)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes Server-Sent Events.
pub struct Sse(());

impl Sse {
    /// Sends the head of an event stream: 200, text/event-stream, no caching.
    pub fn start() -> Result<Sse, StreamError> {
        stream_head(
            200,
            &[
                ("content-type", "text/event-stream; charset=utf-8"),
                ("cache-control", "no-cache"),
            ],
        )?;
        Ok(Sse(()))
    }

    /// One event; `data` may hold several lines.
    pub fn send(
        &self,
        event: Option<&str>,
        id: Option<&str>,
        data: &str,
    ) -> Result<(), StreamError> {
        let mut frame = String::new();
        if let Some(event) = event {
            frame += &format!("event: {event}\n");
        }
        if let Some(id) = id {
            frame += &format!("id: {id}\n");
        }
        for line in data.split('\n') {
            frame += &format!("data: {line}\n");
        }
        frame.push('\n');
        stream_write(frame.as_bytes())
    }

    /// A comment, which clients ignore: it keeps the stream within its idle_timeout.
    pub fn heartbeat(&self, comment: &str) -> Result<(), StreamError> {
        stream_write(format!(": {comment}\n\n").as_bytes())
    }
}

impl Request {
    /// The id the client reconnected with (its `Last-Event-ID` header).
    pub fn last_event_id(&self) -> Option<&str> {
        self.headers.get("last-event-id")?.as_str()
    }
}
