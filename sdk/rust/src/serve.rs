//! The plugin's side of a session: the handshake, tasks in threads of their own, the gateway's
//! answers to calls and fetches, flags, health and stop.

use crate::context::{Context, Level, task_flags, task_traceparent};
use crate::frames::{FrameError, MAX_FRAME_BYTES, encode_frame, read_frame};
use crate::stream::Streams;
use crate::values::{Event, Health, Info, Request, bools, entries, get, int, map, text};
use crate::{Error, PROTOCOL_VERSION, Plugin};
use rmpv::Value;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufReader, Read, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod batch;
mod outbox;
mod pool;
mod tasks;

use batch::Batch;
use outbox::Outbox;
use pool::TaskPool;

/// What a frame to the gateway may hold on top of `maxResponseBytes`.
const ENVELOPE_BYTES: i64 = 64 * 1024;
/// At most what a result note holds besides its answer.
const RESULT_ENVELOPE: i64 = 32;
/// Where a log message is cut.
const MAX_LOG_MESSAGE: usize = 64 * 1024;
/// The channel's read buffer, bytes: the tasks the gateway wrote together, in one system call.
const READ_BUFFER: usize = 64 * 1024;
/// Threads running tasks: a thread per task would pass the sandbox's pids limit (64) under load.
pub(crate) const TASK_THREADS: usize = 16;

/// One task the plugin works on: answered once, by the plugin or by the gateway's abandon.
#[derive(Default)]
pub(crate) struct TaskState {
    answered: AtomicBool,
    abandoned: AtomicBool,
}

impl TaskState {
    pub(crate) fn is_abandoned(&self) -> bool {
        self.abandoned.load(Ordering::Relaxed)
    }

    /// The gateway gave up on it (a stream's cancel): `Context::is_done` says so.
    pub(crate) fn abandon(&self) {
        self.abandoned.store(true, Ordering::Relaxed);
    }
}

#[derive(Default)]
struct LineBudget {
    per_second: i64,
    window: Option<Instant>,
    lines: i64,
    dropped: i64,
}

pub(crate) struct Session {
    plugin: Plugin,
    outbox: Outbox,
    info: RwLock<Info>,
    flags: RwLock<BTreeMap<String, bool>>,
    publish: RwLock<Vec<String>>,
    max_response: AtomicI64,
    frame_limit: AtomicI64,
    /// The init and start hooks' outcome, once they ran.
    ready: (Mutex<Option<Result<(), String>>>, Condvar),
    seq: AtomicI64,
    waiting: Mutex<HashMap<i64, mpsc::Sender<Value>>>,
    tasks: Mutex<HashMap<i64, Arc<TaskState>>>,
    lines: Mutex<LineBudget>,
    stopping: AtomicBool,
    streams: Streams,
    sockets: crate::socket_serve::Sockets,
}

fn failure(kind: &str, message: &str) -> Value {
    map([
        ("__pgw", Value::from(kind)),
        ("message", Value::from(message)),
    ])
}

pub(crate) fn guard<T>(work: impl FnOnce() -> Result<T, Error>) -> Result<T, String> {
    match catch_unwind(AssertUnwindSafe(work)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(error.to_string()),
        Err(panic) => Err(match panic.downcast_ref::<&str>() {
            Some(s) => format!("panic: {s}"),
            None => match panic.downcast_ref::<String>() {
                Some(s) => format!("panic: {s}"),
                None => "panic".to_owned(),
            },
        }),
    }
}

/// Speaks the protocol on `reader`/`writer` until the gateway closes the channel (`Ok`), or it carries
/// what the protocol does not allow (the error).
pub(crate) fn serve_conn(
    plugin: Plugin,
    reader: impl Read,
    writer: impl Write + Send + 'static,
) -> Result<(), FrameError> {
    let session = Arc::new(Session {
        plugin,
        outbox: Outbox::new(Box::new(writer)),
        info: RwLock::default(),
        flags: RwLock::default(),
        publish: RwLock::default(),
        max_response: AtomicI64::new(i64::MAX / 2),
        frame_limit: AtomicI64::new(i64::MAX / 2),
        ready: (Mutex::new(None), Condvar::new()),
        seq: AtomicI64::new(0),
        waiting: Mutex::default(),
        tasks: Mutex::default(),
        lines: Mutex::default(),
        stopping: AtomicBool::new(false),
        streams: Streams::default(),
        sockets: crate::socket_serve::Sockets::default(),
    });
    let hello = map([
        ("pgw", Value::from("hello")),
        ("v", Value::from(PROTOCOL_VERSION)),
        // It serves WebSocket connections: the gateway lets it declare websocket endpoints.
        ("caps", Value::Array(vec![Value::from("ws")])),
    ]);
    session.send(&hello).map_err(|e| FrameError {
        kind: "unfinished",
        reason: format!("cannot write: {e}"),
    })?;
    let mut started = false;
    let pool = TaskPool::new(TASK_THREADS);
    // The gateway writes the tasks of a turn of its event loop together: they are read together, and
    // their `started` notes go out in one write before the pool has them.
    let mut reader = BufReader::with_capacity(READ_BUFFER, reader);
    let mut batch = Batch::default();
    while let Some(message) = read_frame(&mut reader, MAX_FRAME_BYTES)? {
        if !message.is_map() {
            return Err(FrameError {
                kind: "malformed",
                reason: "a frame that is not a message".into(),
            });
        }
        if text(&message, "ctl") != "task" || !batch.take(&session, &message) {
            batch.dispatch(&session, &pool);
            Session::control(&session, &message, &mut started, &pool);
        }
        if !batch::frame_buffered(reader.buffer()) {
            batch.dispatch(&session, &pool);
        }
    }
    batch.dispatch(&session, &pool);
    Ok(())
}

impl Session {
    fn control(this: &Arc<Self>, m: &Value, started: &mut bool, pool: &TaskPool) {
        // Lifecycle work (boot, health, stop) gets a thread of its own: tasks in the pool wait for boot.
        let spawn = |work: Box<dyn FnOnce(Arc<Session>) + Send>| {
            let session = Arc::clone(this);
            let _ = std::thread::Builder::new().spawn(move || work(session));
        };
        match text(m, "ctl").as_str() {
            "start" if !*started => {
                *started = true;
                let data = get(m, "data");
                let flags = bools(get(data, "flags"));
                *this.info.write().unwrap() = Info {
                    name: text(data, "name"),
                    version: text(data, "version"),
                    flags: flags.clone(),
                    settings: entries(get(data, "settings")),
                };
                *this.flags.write().unwrap() = flags;
                *this.publish.write().unwrap() = get(data, "publish")
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p.as_str().map(str::to_owned))
                    .collect();
                let max_response = int(data, "maxResponseBytes");
                this.max_response.store(max_response, Ordering::Relaxed);
                this.frame_limit
                    .store(max_response + ENVELOPE_BYTES, Ordering::Relaxed);
                this.lines.lock().unwrap().per_second = int(data, "logLinesPerSecond").max(1);
                spawn(Box::new(|s| s.boot()));
            }
            "task" => {
                let task = get(m, "task").clone();
                let session = Arc::clone(this);
                pool.submit(Box::new(move || session.run(&task)));
            }
            "abandon" => {
                let slot = int(m, "slot");
                let task = this.tasks.lock().unwrap().get(&slot).cloned();
                if let Some(task) = task {
                    task.abandoned.store(true, Ordering::Relaxed);
                    if !task.answered.swap(true, Ordering::AcqRel) {
                        this.result(slot, failure("timeout", "deadline passed"));
                    }
                }
            }
            "reply" | "fetched" | "kv" => {
                let answer = this.waiting.lock().unwrap().remove(&int(m, "seq"));
                if let Some(answer) = answer {
                    let _ = answer.send(m.clone());
                }
            }
            "flags" => *this.flags.write().unwrap() = bools(get(m, "flags")),
            "health" => {
                let seq = int(m, "seq");
                spawn(Box::new(move |s| {
                    let status = s.health();
                    let _ = s.send(&map([
                        ("pgw", Value::from("health")),
                        ("seq", Value::from(seq)),
                        ("status", status),
                    ]));
                }));
            }
            "live" => {
                let f = get(m, "f");
                match text(f, "k").as_str() {
                    "open" | "msg" | "closed" => crate::socket_serve::live(this, f),
                    _ => crate::stream::live(this, f),
                }
            }
            "stop" if !this.stopping.swap(true, Ordering::AcqRel) => spawn(Box::new(|s| s.stop())),
            _ => {}
        }
    }

    pub(crate) fn info(&self) -> Info {
        self.info.read().unwrap().clone()
    }

    pub(crate) fn flags(&self) -> BTreeMap<String, bool> {
        self.flags.read().unwrap().clone()
    }

    pub(crate) fn streams(&self) -> &Streams {
        &self.streams
    }

    pub(crate) fn sockets(&self) -> &crate::socket_serve::Sockets {
        &self.sockets
    }

    pub(crate) fn max_response(&self) -> i64 {
        self.max_response.load(Ordering::Relaxed)
    }

    pub(crate) fn plugin(&self) -> &Plugin {
        &self.plugin
    }

    pub(crate) fn base(self: &Arc<Self>) -> Context {
        Context {
            session: Arc::clone(self),
            request_id: String::new(),
            user_id: Value::Nil,
            serving: false,
            traceparent: String::new(),
            flags: None,
            deadline: None,
            task: None,
        }
    }

    fn boot(self: Arc<Self>) {
        let ctx = self.base();
        let info = self.info();
        let outcome = guard(|| {
            if let Some(init) = &self.plugin.init {
                init(&ctx, &info)?;
            }
            if let Some(start) = &self.plugin.start {
                start(&ctx)?;
            }
            Ok(())
        });
        *self.ready.0.lock().unwrap() = Some(outcome);
        self.ready.1.notify_all();
    }

    /// Whether init and start finished well (without waiting for them).
    fn is_ready(&self) -> bool {
        matches!(*self.ready.0.lock().unwrap(), Some(Ok(())))
    }

    pub(crate) fn wait_ready(&self) -> Result<(), String> {
        let mut ready = self.ready.0.lock().unwrap();
        while ready.is_none() {
            ready = self.ready.1.wait(ready).unwrap();
        }
        ready.clone().unwrap()
    }

    fn stop(self: Arc<Self>) {
        let ready = self.wait_ready();
        crate::socket_serve::wait_idle(&self);
        let mut note = vec![("pgw", Value::from("stopped"))];
        if let (Ok(()), Some(stop)) = (ready, &self.plugin.stop) {
            let ctx = self.base();
            if let Err(why) = guard(|| stop(&ctx)) {
                note.push(("error", Value::from(why)));
            }
        }
        let _ = self.send(&map(note));
    }

    fn health(self: &Arc<Self>) -> Value {
        let status = match self.wait_ready() {
            Err(why) => Err(why),
            Ok(()) => match &self.plugin.health {
                None => Ok(Health::Healthy),
                Some(health) => {
                    let ctx = self.base();
                    guard(|| Ok(health(&ctx)))
                }
            },
        };
        match status {
            Ok(h) => map([("status", Value::from(h.name()))]),
            Err(why) => map([
                ("status", Value::from("unhealthy")),
                ("details", map([("error", Value::from(why))])),
            ]),
        }
    }
}
