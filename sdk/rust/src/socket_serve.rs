//! The session's WebSocket connections: each connection's handlers run in turn on a small pool of
//! threads (a thread per connection would pass the sandbox's pids limit), each settled `open`,
//! message or close answered with `done`, which is what lets the gateway read that client's next
//! message.

use crate::serve::{Session, guard};
use crate::socket::{Message, SocketState, WebSocket, WebSocketHandler};
use crate::values::{Request, get, int, text};
use rmpv::Value;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock, mpsc};

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
    /// Work not run yet, and whether a thread is running this connection's work now.
    queue: Mutex<(VecDeque<Work>, bool)>,
}

/// The connections the session serves now, by the gateway's number.
#[derive(Default)]
pub(crate) struct Sockets {
    open: Mutex<BTreeMap<i64, Arc<Connection>>>,
    pool: OnceLock<Mutex<mpsc::Sender<Arc<Connection>>>>,
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

/// Queues work after the connection's earlier handlers; a pool thread runs the queue when idle.
fn enqueue(session: &Arc<Session>, connection: Arc<Connection>, work: Work) {
    {
        let mut queue = connection.queue.lock().unwrap();
        queue.0.push_back(work);
        if std::mem::replace(&mut queue.1, true) {
            return;
        }
    }
    let pool = session
        .sockets()
        .pool
        .get_or_init(|| Mutex::new(socket_pool()));
    let _ = pool.lock().unwrap().send(connection);
}

fn socket_pool() -> mpsc::Sender<Arc<Connection>> {
    let (jobs, queue) = mpsc::channel::<Arc<Connection>>();
    let queue = Arc::new(Mutex::new(queue));
    for _ in 0..SOCKET_THREADS {
        let queue = Arc::clone(&queue);
        let worker = std::thread::Builder::new()
            .name("veza-socket".into())
            .spawn(move || {
                loop {
                    let next = queue.lock().unwrap().recv();
                    match next {
                        Ok(connection) => drain(&connection),
                        Err(_) => return,
                    }
                }
            });
        // Fewer threads than asked is fewer handlers at once, not a failure.
        drop(worker);
    }
    jobs
}

/// Runs the connection's queued work, one item at a time, each followed by its `done`.
fn drain(connection: &Connection) {
    loop {
        let work = {
            let mut queue = connection.queue.lock().unwrap();
            match queue.0.pop_front() {
                Some(work) => work,
                None => {
                    queue.1 = false;
                    return;
                }
            }
        };
        run(connection, work);
        let _ = connection.ws.note(vec![("k", Value::from("done"))]);
    }
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
