//! Streamed responses (endpoints plugin.yaml declares with `stream:`): the plugin's side of the
//! protocol's stream frames (docs/plugin-protocol.md, "Streams"). Each stream runs its handler on a
//! thread of its own; a chunk goes only with the gateway's credit, so a client that reads slowly
//! slows the handler down.

use crate::Error;
use crate::context::{Context, task_flags, task_traceparent};
use crate::serve::{Session, TaskState};
use crate::values::{Request, get, int, map, text};
use rmpv::Value;
use std::collections::BTreeMap;
use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

/// Chunks a stream may send before the gateway's first `more`.
const STREAM_WINDOW: i64 = 8;
/// Request-body chunks the plugin may ask for ahead of reading them.
const BODY_WINDOW: usize = 4;
/// Streams served at once: each holds a thread (two with `Sse`'s heartbeat), beside the 16 task
/// threads, and the sandbox allows 64 processes and threads.
pub(crate) const MAX_STREAMS: usize = 16;

/// A streamed response. Set its status and headers, then `send` its body chunk by chunk (or write
/// to it: it is a `std::io::Write`, one chunk per `write`). Cheap to clone; usable from other
/// threads while the handler runs.
#[derive(Clone)]
pub struct Stream {
    inner: Arc<StreamInner>,
}

pub(crate) struct StreamInner {
    session: Arc<Session>,
    id: i64,
    state: Mutex<StreamState>,
    wake: Condvar,
    task: Arc<TaskState>,
    body: Option<Arc<BodyInner>>,
}

struct StreamState {
    credit: i64,
    closed: bool,
    status: u16,
    headers: BTreeMap<String, String>,
    head_sent: bool,
    ended: bool,
}

/// The error `send` gives once the gateway ended the stream (the client went away, a deadline
/// passed, the plugin stops).
pub const STREAM_CLOSED: &str = "the stream is closed";

impl Stream {
    /// Sets the status (200 unless set); sent with the first chunk.
    pub fn status(&self, status: u16) {
        let mut state = self.inner.state.lock().unwrap();
        if !state.head_sent {
            state.status = status;
        }
    }

    /// Sets a header; sent with the first chunk.
    pub fn header(&self, name: &str, value: &str) {
        let mut state = self.inner.state.lock().unwrap();
        if !state.head_sent {
            state
                .headers
                .insert(name.to_ascii_lowercase(), value.to_owned());
        }
    }

    /// Whether the gateway ended the stream: stop producing.
    pub fn is_closed(&self) -> bool {
        self.inner.state.lock().unwrap().closed
    }

    /// Sends one chunk of the body (at most the endpoint's `max_chunk_bytes`, 1 MiB unless
    /// plugin.yaml says otherwise), once the gateway gives credit for it; an error whose text is
    /// [`STREAM_CLOSED`] once the stream is closed.
    pub fn send(&self, chunk: impl Into<Vec<u8>>) -> Result<(), Error> {
        let inner = &self.inner;
        let mut state = inner.state.lock().unwrap();
        while state.credit == 0 && !state.closed {
            state = inner.wake.wait(state).unwrap();
        }
        if state.closed || state.ended {
            return Err(STREAM_CLOSED.into());
        }
        state.credit -= 1;
        inner.send_head(&mut state)?;
        drop(state);
        inner.note(vec![
            ("k", Value::from("chunk")),
            ("d", Value::Binary(chunk.into())),
        ])
    }

    /// The request's body, when the endpoint declares `stream.request_body: true`: read from the
    /// gateway chunk by chunk, as the handler reads (the client's upload waits meanwhile).
    pub fn request_body(&self) -> Option<RequestBody> {
        let stream = Arc::clone(&self.inner);
        self.inner.body.clone().map(|body| RequestBody {
            body,
            stream,
            chunk: Vec::new(),
            at: 0,
        })
    }
}

impl std::io::Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.send(buf.to_vec())
            .map(|()| buf.len())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::BrokenPipe, e.to_string()))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl StreamInner {
    fn note(&self, mut n: Vec<(&'static str, Value)>) -> Result<(), Error> {
        n.push(("c", Value::from(self.id)));
        self.session
            .send(&map([("pgw", Value::from("live")), ("n", map(n))]))
    }

    fn send_head(&self, state: &mut StreamState) -> Result<(), Error> {
        if state.head_sent {
            return Ok(());
        }
        state.head_sent = true;
        if !(200..=599).contains(&state.status) {
            return Err(format!("stream status {}, expected 200-599", state.status).into());
        }
        let headers = state
            .headers
            .iter()
            .map(|(k, v)| (Value::from(k.as_str()), Value::from(v.as_str())))
            .collect();
        self.note(vec![
            ("k", Value::from("head")),
            ("s", Value::from(state.status)),
            ("h", Value::Map(headers)),
        ])
    }

    fn more(&self) {
        self.state.lock().unwrap().credit += 1;
        self.wake.notify_all();
    }

    fn close(&self) {
        // Abandoned first: a sender woken by the close sees `is_done`.
        self.task.abandon();
        self.state.lock().unwrap().closed = true;
        self.wake.notify_all();
        if let Some(body) = &self.body {
            body.end(Some("the request was cancelled".into()));
        }
    }

    /// Sends what is left of the head, then the end (`failed`: the handler's error).
    fn finish(&self, failed: Option<String>) {
        let mut state = self.state.lock().unwrap();
        if std::mem::replace(&mut state.ended, true) || state.closed {
            return;
        }
        let failed = match self.send_head(&mut state) {
            Err(e) if failed.is_none() => Some(e.to_string()),
            _ => failed,
        };
        let mut end = vec![("k", Value::from("end"))];
        if let Some(why) = failed {
            end.push(("e", Value::from(why)));
        }
        let _ = self.note(end);
    }
}

/// A streamed request body: a `std::io::Read` that asks the gateway for one chunk at a time.
pub struct RequestBody {
    body: Arc<BodyInner>,
    stream: Arc<StreamInner>,
    chunk: Vec<u8>,
    at: usize,
}

#[derive(Default)]
struct BodyInner {
    state: Mutex<BodyState>,
    wake: Condvar,
}

#[derive(Default)]
struct BodyState {
    chunks: std::collections::VecDeque<Vec<u8>>,
    asked: usize,
    /// `Some` once it ended: `None` inside when whole, the gateway's reason when cut.
    end: Option<Option<String>>,
}

impl BodyInner {
    fn push(&self, chunk: Vec<u8>) {
        let mut state = self.state.lock().unwrap();
        if state.end.is_some() || state.asked == 0 || state.chunks.len() >= BODY_WINDOW {
            return;
        }
        state.asked -= 1;
        state.chunks.push_back(chunk);
        self.wake.notify_all();
    }

    fn end(&self, why: Option<String>) {
        let mut state = self.state.lock().unwrap();
        if state.end.is_none() {
            state.end = Some(why);
        }
        self.wake.notify_all();
    }
}

impl Read for RequestBody {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.at == self.chunk.len() {
            let mut state = self.body.state.lock().unwrap();
            loop {
                if let Some(chunk) = state.chunks.pop_front() {
                    self.chunk = chunk;
                    self.at = 0;
                    break;
                }
                match &state.end {
                    Some(None) => return Ok(0),
                    Some(Some(why)) => {
                        return Err(std::io::Error::other(format!(
                            "the request body was cut: {why}"
                        )));
                    }
                    None => {}
                }
                if state.asked == 0 {
                    state.asked += 1;
                    self.stream
                        .note(vec![("k", Value::from("pull"))])
                        .map_err(|e| std::io::Error::other(e.to_string()))?;
                }
                state = self.body.wake.wait(state).unwrap();
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Streams the session serves now, by the gateway's number.
#[derive(Default)]
pub(crate) struct Streams {
    open: Mutex<BTreeMap<i64, Arc<StreamInner>>>,
    running: AtomicUsize,
}

/// One stream frame from the gateway (`req`, `more`, `cancel`, `body`, `bodyend`).
pub(crate) fn live(session: &Arc<Session>, f: &Value) {
    let c = int(f, "c");
    let open = session.streams().open.lock().unwrap().get(&c).cloned();
    match (text(f, "k").as_str(), open) {
        ("req", None) => open_stream(session, c, f),
        ("more", Some(s)) => s.more(),
        ("cancel", Some(s)) => s.close(),
        ("body", Some(s)) => {
            if let (Some(body), Value::Binary(d)) = (&s.body, get(f, "d")) {
                body.push(d.clone());
            }
        }
        ("bodyend", Some(s)) => {
            if let Some(body) = &s.body {
                body.end(get(f, "e").as_str().map(str::to_owned));
            }
        }
        _ => {}
    }
}

/// Registers stream `c` before the next frame is read (its credit or cancel may follow at once), then
/// serves it on a thread of its own.
fn open_stream(session: &Arc<Session>, c: i64, f: &Value) {
    let inner = Arc::new(StreamInner {
        session: Arc::clone(session),
        id: c,
        state: Mutex::new(StreamState {
            credit: STREAM_WINDOW,
            closed: false,
            status: 200,
            headers: BTreeMap::new(),
            head_sent: false,
            ended: false,
        }),
        wake: Condvar::new(),
        task: Arc::new(TaskState::default()),
        body: (get(f, "b").as_bool() == Some(true)).then(|| Arc::new(BodyInner::default())),
    });
    let streams = session.streams();
    if streams.running.fetch_add(1, Ordering::AcqRel) >= MAX_STREAMS {
        streams.running.fetch_sub(1, Ordering::AcqRel);
        return inner.finish(Some(format!(
            "the plugin serves {MAX_STREAMS} streams at once"
        )));
    }
    streams.open.lock().unwrap().insert(c, Arc::clone(&inner));
    let key = text(f, "key");
    let request = Request::from_value(get(f, "r"));
    // The request's traceparent and flag values, as a req task's.
    let (traceparent, flags) = (task_traceparent(f), task_flags(f));
    let session = Arc::clone(session);
    let spawned = std::thread::Builder::new()
        .name("veza-stream".into())
        .spawn({
            let inner = Arc::clone(&inner);
            move || serve_stream(&session, inner, &key, request, (traceparent, flags))
        });
    if spawned.is_err() {
        let streams = inner.session.streams();
        streams.open.lock().unwrap().remove(&c);
        streams.running.fetch_sub(1, Ordering::AcqRel);
        inner.finish(Some("no thread for the stream".into()));
    }
}

type StreamContext = (String, Option<BTreeMap<String, bool>>);

fn serve_stream(
    session: &Arc<Session>,
    inner: Arc<StreamInner>,
    key: &str,
    request: Request,
    (traceparent, flags): StreamContext,
) {
    let outcome = match session.wait_ready() {
        Err(why) => Err(format!("init: {why}")),
        Ok(()) => {
            let mut ctx = session.base();
            ctx.request_id = request.id.clone();
            ctx.user_id = request.user_id.clone();
            ctx.serving = true;
            ctx.traceparent = traceparent;
            ctx.flags = flags;
            ctx.task = Some(Arc::clone(&inner.task));
            let stream = Stream {
                inner: Arc::clone(&inner),
            };
            crate::serve::guard(|| run_stream(session, &ctx, key, request, stream))
        }
    };
    inner.finish(outcome.err());
    let streams = session.streams();
    streams.open.lock().unwrap().remove(&inner.id);
    streams.running.fetch_sub(1, Ordering::AcqRel);
}

/// Runs the stream handler of `key`, or its plain route handler, whose response goes whole as the
/// stream's head and one chunk.
fn run_stream(
    session: &Arc<Session>,
    ctx: &Context,
    key: &str,
    request: Request,
    stream: Stream,
) -> Result<(), Error> {
    let plugin = session.plugin();
    if let Some(handler) = plugin.streams.get(key) {
        return handler(ctx, request, stream);
    }
    let Some(handler) = plugin.routes.get(key) else {
        return Err(format!("plugin \"{}\" has no handler for \"{key}\"", ctx.name()).into());
    };
    let response = handler(ctx, request)?;
    stream.status(response.status_code);
    for (name, value) in &response.headers {
        if let Some(v) = value.as_str() {
            stream.header(name, v);
        }
    }
    let body = match &response.body {
        Value::Nil => return Ok(()),
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Binary(b) => b.clone(),
        other => crate::values::to_json(other).into_bytes(),
    };
    stream.send(body)
}
