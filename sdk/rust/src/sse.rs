//! Server-Sent Events on a stream: the headers, one event per chunk, and a heartbeat comment after
//! a silence, so that proxies and the endpoint's `idle_timeout` see the stream alive.

use crate::Error;
use crate::stream::Stream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One Server-Sent Event.
#[derive(Debug, Clone, Default)]
pub struct SseEvent {
    /// Its data: text, split into `data:` lines (use `SseEvent::json` for a value).
    pub data: String,
    /// Its type, for `EventSource.addEventListener`; empty: `message`.
    pub event: String,
    /// What the client sends back as `Last-Event-ID` when it reconnects; empty: none.
    pub id: String,
    /// How long the client waits before reconnecting; `None`: not said.
    pub retry: Option<Duration>,
}

impl SseEvent {
    /// An event of text.
    pub fn new(data: impl Into<String>) -> Self {
        SseEvent {
            data: data.into(),
            ..Default::default()
        }
    }

    /// An event whose data is `value` as JSON.
    pub fn json(value: impl serde::Serialize) -> Self {
        SseEvent::new(
            serde_json::to_string(&value).unwrap_or_else(|e| format!("{:?}", e.to_string())),
        )
    }

    /// Sets its type.
    pub fn event(mut self, event: &str) -> Self {
        self.event = event.to_owned();
        self
    }

    /// Sets its id.
    pub fn id(mut self, id: impl ToString) -> Self {
        self.id = id.to_string();
        self
    }

    /// The event's text: `id:`, `event:`, `retry:` and `data:` lines, then a blank line.
    pub fn frame(&self) -> String {
        let one_line = |s: &str| s.replace(['\r', '\n'], " ");
        let mut frame = String::new();
        if !self.id.is_empty() {
            frame += &format!("id: {}\n", one_line(&self.id));
        }
        if !self.event.is_empty() {
            frame += &format!("event: {}\n", one_line(&self.event));
        }
        if let Some(retry) = self.retry {
            frame += &format!("retry: {}\n", retry.as_millis());
        }
        for line in self
            .data
            .replace("\r\n", "\n")
            .replace('\r', "\n")
            .split('\n')
        {
            frame += &format!("data: {line}\n");
        }
        frame + "\n"
    }
}

/// A `text/event-stream` response on `stream`. Dropping it stops the heartbeat.
pub struct Sse {
    stream: Stream,
    last: Arc<Mutex<Instant>>,
    stop: Arc<AtomicBool>,
    beat: Option<std::thread::Thread>,
}

impl Sse {
    /// Answers `stream` as `text/event-stream`, with a heartbeat after `heartbeat` of silence (15 s
    /// when `None`). A reconnecting client's `Last-Event-ID` is in `req.headers["last-event-id"]`.
    pub fn new(stream: Stream, heartbeat: Option<Duration>) -> Self {
        stream.header("content-type", "text/event-stream; charset=utf-8");
        stream.header("cache-control", "no-cache");
        stream.header("x-accel-buffering", "no");
        let mut sse = Sse {
            stream,
            last: Arc::new(Mutex::new(Instant::now())),
            stop: Arc::new(AtomicBool::new(false)),
            beat: None,
        };
        let every = heartbeat.unwrap_or(Duration::from_secs(15));
        let (stream, last, stop) = (
            sse.stream.clone(),
            Arc::clone(&sse.last),
            Arc::clone(&sse.stop),
        );
        // Without a thread for it, no heartbeat: the events still go.
        let beat = std::thread::Builder::new()
            .name("veza-sse".into())
            .spawn(move || {
                loop {
                    let idle = last.lock().unwrap().elapsed();
                    if idle < every {
                        std::thread::park_timeout(every - idle);
                    }
                    if stop.load(Ordering::Acquire) || stream.is_closed() {
                        return;
                    }
                    if last.lock().unwrap().elapsed() >= every {
                        *last.lock().unwrap() = Instant::now();
                        if stream.send(": heartbeat\n\n").is_err() {
                            return;
                        }
                    }
                }
            });
        sse.beat = beat.ok().map(|handle| handle.thread().clone());
        sse
    }

    /// Sends one event; it waits for credit as `Stream::send` does.
    pub fn send(&self, event: &SseEvent) -> Result<(), Error> {
        *self.last.lock().unwrap() = Instant::now();
        self.stream.send(event.frame())
    }
}

impl Drop for Sse {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(beat) = &self.beat {
            beat.unpark();
        }
    }
}
