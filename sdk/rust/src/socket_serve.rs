//! The session's WebSocket connections: each connection's handlers run in turn on a small pool of
//! threads (a thread per connection would pass the sandbox's pids limit), each settled `open`,
//! message or close answered with `done`, which is what lets the gateway read that client's next
//! message. The pool takes connections round-robin, one handler each (decision 0281).

use crate::serve::{Session, guard};
use crate::socket::{Message, SocketState, WebSocket, WebSocketHandler};
use crate::values::{Request, get, int, text};
use rmpv::Value;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

/// Threads running connection handlers, started with the first connection; a handler that blocks
/// holds one of them.
pub(crate) const SOCKET_THREADS: usize = 8;

enum Work {
    Open(String),
    Message(Message),
    Closed(u16, String),
}

struct Connection {
    ws: WebSocket,
    ctx: crate::Context,
    handler: Mutex<Option<Arc<dyn WebSocketHandler>>>,
    /// Work not run yet, and whether the connection is in the pool now (waiting its turn or running).
    queue: Mutex<(VecDeque<Work>, bool)>,
}

/// The connections the session serves now, by the gateway's number.
#[derive(Default)]
pub(crate) struct Sockets {
    open: Mutex<BTreeMap<i64, Arc<Connection>>>,
    pool: OnceLock<SocketPool>,
    /// Connections in the pool now (work waiting or running): `stop` waits for none, so that the
    /// close handler of a connection the gateway closed before `stop` runs, and is heard, first.
    busy: Mutex<usize>,
    idle: Condvar,
}

/// Waits until no connection's handler is waiting or running.
pub(crate) fn wait_idle(session: &Arc<Session>) {
    let sockets = session.sockets();
    let mut busy = sockets.busy.lock().unwrap();
    while *busy > 0 {
        busy = sockets.idle.wait(busy).unwrap();
    }
}

/// A connection left the pool (no work left).
fn left(session: &Arc<Session>) {
    let sockets = session.sockets();
    let mut busy = sockets.busy.lock().unwrap();
    *busy -= 1;
    if *busy == 0 {
        sockets.idle.notify_all();
    }
}

/// One connection frame from the gateway (`open`, `msg`, `closed`).
pub(crate) fn live(session: &Arc<Session>, f: &Value) {
    let c = int(f, "c");
    let sockets = session.sockets();
    let known = sockets.open.lock().unwrap().get(&c).cloned();
    match (text(f, "k").as_str(), known) {
        ("open", None) => {
            let request = Request::from_value(get(f, "r"));
            let mut ctx = session.base();
            ctx.request_id = request.id.clone();
            ctx.user_id = request.user_id.clone();
            ctx.serving = true;
            let connection = Arc::new(Connection {
                ws: WebSocket::new(Arc::clone(session), c, request),
                ctx,
                handler: Mutex::new(None),
                queue: Mutex::new((VecDeque::new(), false)),
            });
            sockets
                .open
                .lock()
                .unwrap()
                .insert(c, Arc::clone(&connection));
            enqueue(session, connection, Work::Open(text(f, "key")));
        }
        ("msg", Some(connection)) => {
            let msg = Message::from_wire(get(f, "d"));
            enqueue(session, connection, Work::Message(msg));
        }
        ("closed", Some(connection)) => {
            sockets.open.lock().unwrap().remove(&c);
            // From now on `send` fails: a handler still running (a flood) learns its client is gone.
            let mut shared = connection.ws.inner.state.lock().unwrap();
            if shared.state == SocketState::Open {
                shared.state = SocketState::Closing;
            }
            drop(shared);
            let code = u16::try_from(int(f, "code")).unwrap_or(1005);
            let work = Work::Closed(code, text(f, "reason"));
            enqueue(session, connection, work);
        }
        _ => {}
    }
}

/// Queues work after the connection's earlier handlers; the connection joins the end of the pool's
/// turns unless it is there already.
fn enqueue(session: &Arc<Session>, connection: Arc<Connection>, work: Work) {
    {
        let mut queue = connection.queue.lock().unwrap();
        queue.0.push_back(work);
        if std::mem::replace(&mut queue.1, true) {
            return;
        }
    }
    *session.sockets().busy.lock().unwrap() += 1;
    session
        .sockets()
        .pool
        .get_or_init(SocketPool::start)
        .join(connection);
}

#[derive(Default)]
struct Turns {
    /// Connections with work waiting, none of them running; and whether the session ended.
    waiting: Mutex<(VecDeque<Arc<Connection>>, bool)>,
    ready: Condvar,
}

/// The threads running connections' handlers. A thread runs one handler of the connection at the
/// front, then puts the connection back at the end if it has more: a client that keeps sending (the
/// gateway refills its queue after each `done`) takes a turn like the others instead of holding a
/// thread, and a connection's handlers still run one at a time, in order. Dropped with the session,
/// it lets its threads end once no connection waits.
struct SocketPool {
    turns: Arc<Turns>,
}

impl SocketPool {
    fn start() -> Self {
        let turns = Arc::new(Turns::default());
        for _ in 0..SOCKET_THREADS {
            let turns = Arc::clone(&turns);
            let worker = std::thread::Builder::new()
                .name("veza-socket".into())
                .spawn(move || {
                    let mut next = turns.next(None);
                    while let Some(connection) = next {
                        let more = run_one(&connection);
                        next = turns.next(more.then_some(connection));
                    }
                });
            // Fewer threads than asked is fewer handlers at once, not a failure.
            drop(worker);
        }
        SocketPool { turns }
    }

    fn join(&self, connection: Arc<Connection>) {
        self.turns.waiting.lock().unwrap().0.push_back(connection);
        self.turns.ready.notify_one();
    }
}

impl Drop for SocketPool {
    fn drop(&mut self) {
        self.turns.waiting.lock().unwrap().1 = true;
        self.turns.ready.notify_all();
    }
}

impl Turns {
    /// Puts `back` (a connection with more work) at the end and takes the front, waiting for one;
    /// `None` once the session ended and no connection waits. The thread that puts one back takes one
    /// under the same lock, so no other thread is woken for it.
    fn next(&self, back: Option<Arc<Connection>>) -> Option<Arc<Connection>> {
        let mut waiting = self.waiting.lock().unwrap();
        if let Some(connection) = back {
            waiting.0.push_back(connection);
        }
        loop {
            if let Some(connection) = waiting.0.pop_front() {
                return Some(connection);
            }
            if waiting.1 {
                return None;
            }
            waiting = self.ready.wait(waiting).unwrap();
        }
    }
}

/// Runs the connection's next queued work, then its `done`; whether more work is queued (else the
/// connection leaves the pool until its next work).
fn run_one(connection: &Connection) -> bool {
    let session = &connection.ws.inner.session;
    let work = {
        let mut queue = connection.queue.lock().unwrap();
        match queue.0.pop_front() {
            Some(work) => work,
            None => {
                queue.1 = false;
                drop(queue);
                left(session);
                return false;
            }
        }
    };
    run(connection, work);
    let _ = connection.ws.note(vec![("k", Value::from("done"))]);
    let mut queue = connection.queue.lock().unwrap();
    if queue.0.is_empty() {
        queue.1 = false;
        drop(queue);
        left(session);
        return false;
    }
    true
}

fn run(connection: &Connection, work: Work) {
    let (ws, ctx) = (&connection.ws, &connection.ctx);
    let session = &ws.inner.session;
    let handler = connection.handler.lock().unwrap().clone();
    let outcome = match (work, handler) {
        (Work::Open(key), _) => {
            if session.wait_ready().is_err() {
                ws.close_with(1011, "plugin failed to start");
                return;
            }
            let Some(handler) = session.plugin().websockets.get(&key).cloned() else {
                ctx.log(
                    crate::Level::Error,
                    &format!("no websocket handler for \"{key}\""),
                    Value::Nil,
                );
                ws.close_with(1011, "no handler");
                return;
            };
            *connection.handler.lock().unwrap() = Some(Arc::clone(&handler));
            guard(|| handler.open(ctx, ws)).map_err(|e| (handler, e))
        }
        (Work::Message(msg), Some(handler)) => {
            guard(|| handler.message(ctx, ws, msg)).map_err(|e| (handler, e))
        }
        (Work::Closed(code, reason), handler) => {
            // `close` may still publish to the room it leaves; once it returned, the number is spent.
            if let Some(handler) = handler {
                let _ = guard(|| {
                    handler.close(ctx, ws, code, &reason);
                    Ok(())
                });
            }
            ws.inner.state.lock().unwrap().state = SocketState::Closed;
            return;
        }
        (Work::Message(_), None) => return,
    };
    if let Err((handler, error)) = outcome {
        let _ = guard(|| {
            handler.error(ctx, ws, &error);
            Ok(())
        });
        ws.close_with(1011, "plugin error");
    }
}
