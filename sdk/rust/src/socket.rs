//! WebSocket connections (endpoints plugin.yaml declares with `websocket:`): the plugin's side of the
//! protocol's connection frames (docs/plugin-protocol.md, "WebSockets"). The gateway holds the
//! client's socket, its limits and the plugin's topics; the plugin sees a [`WebSocket`] per
//! connection and serves it with a [`WebSocketHandler`].

use crate::Error;
use crate::context::Context;
use crate::serve::Session;
use crate::values::{Request, map};
use rmpv::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

/// Most topics one connection may hold.
const MAX_TOPICS: usize = 256;
/// A topic's longest length, in UTF-16 code units as the gateway counts them.
const MAX_TOPIC_CHARS: usize = 256;
/// A close reason's longest length (RFC 6455: 125 bytes, 2 of them the code).
const MAX_REASON_BYTES: usize = 123;

/// The error the methods of [`WebSocket`] give once the connection is closing or closed.
pub const SOCKET_CLOSED: &str = "the WebSocket connection is closed";

/// One message, from the client or to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text frame.
    Text(String),
    /// A binary frame.
    Binary(Vec<u8>),
}

impl Message {
    /// The message's bytes (a text message's UTF-8).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Message::Text(s) => s.as_bytes(),
            Message::Binary(b) => b,
        }
    }

    pub(crate) fn from_wire(d: &Value) -> Message {
        match d {
            Value::String(s) => Message::Text(s.as_str().unwrap_or_default().to_owned()),
            Value::Binary(b) => Message::Binary(b.clone()),
            _ => Message::Binary(Vec::new()),
        }
    }

    fn to_wire(&self) -> Value {
        match self {
            Message::Text(s) => Value::from(s.as_str()),
            Message::Binary(b) => Value::Binary(b.clone()),
        }
    }
}

impl From<&str> for Message {
    fn from(s: &str) -> Self {
        Message::Text(s.to_owned())
    }
}

impl From<String> for Message {
    fn from(s: String) -> Self {
        Message::Text(s)
    }
}

impl From<Vec<u8>> for Message {
    fn from(b: Vec<u8>) -> Self {
        Message::Binary(b)
    }
}

/// Serves one WebSocket endpoint. Every method has a default that does nothing (`error` logs). A
/// connection's handlers run one after another, never two at once; the gateway reads the client's
/// next messages only as they finish, so a slow handler slows its own client, never the gateway.
pub trait WebSocketHandler: Send + Sync + 'static {
    /// The gateway admitted the connection (auth, roles, rate limits, origin).
    fn open(&self, _ctx: &Context, _ws: &WebSocket) -> Result<(), Error> {
        Ok(())
    }

    /// A client message, at most the endpoint's `max_message_bytes`.
    fn message(&self, _ctx: &Context, _ws: &WebSocket, _msg: Message) -> Result<(), Error> {
        Ok(())
    }

    /// The connection closed: `code` is the client's, or the gateway's (1001 the plugin stops, 1008
    /// a policy such as a message rate, 1009 a message too large, 1011 an error, 1012 a swap's drain
    /// ended, 1013 the client does not read what it is sent). `send` fails there; `publish` still
    /// reaches the others (to say who left).
    fn close(&self, _ctx: &Context, _ws: &WebSocket, _code: u16, _reason: &str) {}

    /// `open` or `message` failed (an error or a panic): the connection is closed 1011 after this.
    fn error(&self, ctx: &Context, ws: &WebSocket, error: &str) {
        let fields = map([("connection", Value::from(ws.id()))]);
        ctx.log(
            crate::Level::Error,
            &format!("websocket handler failed: {error}"),
            fields,
        );
    }
}

#[derive(PartialEq, Eq, Clone, Copy)]
pub(crate) enum SocketState {
    Open,
    Closing,
    Closed,
}

/// One WebSocket connection, held by the gateway: the plugin sees its number, never the socket.
/// Cheap to clone; usable from other threads, also after it closed (its methods then fail with
/// [`SOCKET_CLOSED`]).
#[derive(Clone)]
pub struct WebSocket {
    pub(crate) inner: Arc<SocketInner>,
}

pub(crate) struct SocketInner {
    pub(crate) session: Arc<Session>,
    pub(crate) id: i64,
    pub(crate) request: Request,
    pub(crate) state: Mutex<SocketShared>,
    data: Mutex<BTreeMap<String, Value>>,
}

pub(crate) struct SocketShared {
    pub(crate) state: SocketState,
    topics: BTreeSet<String>,
}

impl WebSocket {
    pub(crate) fn new(session: Arc<Session>, id: i64, request: Request) -> Self {
        WebSocket {
            inner: Arc::new(SocketInner {
                session,
                id,
                request,
                state: Mutex::new(SocketShared {
                    state: SocketState::Open,
                    topics: BTreeSet::new(),
                }),
                data: Mutex::default(),
            }),
        }
    }

    /// The id of the upgrade request, which the gateway's logs name the connection by.
    pub fn id(&self) -> &str {
        &self.inner.request.id
    }

    /// The upgrade request: its path, `params`, `query`, `headers` and `user_id`.
    pub fn request(&self) -> &Request {
        &self.inner.request
    }

    /// The connection's own data, kept from one handler to the next.
    pub fn data(&self) -> MutexGuard<'_, BTreeMap<String, Value>> {
        self.inner.data.lock().unwrap()
    }

    /// Sends a message to the client. The gateway holds what the client has not read yet up to the
    /// endpoint's `max_buffered_bytes`, then closes the connection 1013; `send` does not wait. A
    /// message larger than the gateway's `maxResponseBytes` closes the connection 1011.
    pub fn send(&self, msg: impl Into<Message>) -> Result<(), Error> {
        let msg = msg.into();
        if msg.as_bytes().len() as i64 > self.inner.session.max_response() {
            self.close_with(1011, "message too large");
            return Err("the WebSocket message is larger than the channel takes".into());
        }
        let shared = self.inner.state.lock().unwrap();
        if shared.state != SocketState::Open {
            return Err(SOCKET_CLOSED.into());
        }
        self.note(vec![("k", Value::from("send")), ("d", msg.to_wire())])
    }

    /// Closes the connection with `code` (1000, or 3000-4999 for the plugin's own) and a reason of
    /// at most 123 bytes. The gateway closes it; the handler's `close` runs then.
    pub fn close(&self, code: u16, reason: &str) -> Result<(), Error> {
        if code != 1000 && !(3000..=4999).contains(&code) {
            return Err(format!("close code must be 1000 or 3000-4999, got {code}").into());
        }
        if reason.len() > MAX_REASON_BYTES {
            return Err(format!("a close reason is at most {MAX_REASON_BYTES} bytes").into());
        }
        if self.close_with(code, reason) {
            Ok(())
        } else {
            Err(SOCKET_CLOSED.into())
        }
    }

    /// Asks the gateway to close the connection, once; false when it was closing already.
    pub(crate) fn close_with(&self, code: u16, reason: &str) -> bool {
        let mut shared = self.inner.state.lock().unwrap();
        if shared.state != SocketState::Open {
            return false;
        }
        shared.state = SocketState::Closing;
        let _ = self.note(vec![
            ("k", Value::from("close")),
            ("code", Value::from(code)),
            ("reason", Value::from(reason)),
        ]);
        true
    }

    /// Subscribes the connection to `topic` (1 to 256 characters; at most 256 topics a
    /// connection): every `publish` to it from another connection of the plugin, on any process or
    /// version, reaches this client.
    pub fn subscribe(&self, topic: &str) -> Result<(), Error> {
        check_topic(topic)?;
        let mut shared = self.inner.state.lock().unwrap();
        if shared.state == SocketState::Closed {
            return Err(SOCKET_CLOSED.into());
        }
        if shared.topics.contains(topic) {
            return Ok(());
        }
        if shared.topics.len() >= MAX_TOPICS {
            return Err(format!("a connection holds at most {MAX_TOPICS} topics").into());
        }
        shared.topics.insert(topic.to_owned());
        self.note(vec![("k", Value::from("sub")), ("t", Value::from(topic))])
    }

    /// Unsubscribes the connection from `topic`.
    pub fn unsubscribe(&self, topic: &str) {
        let mut shared = self.inner.state.lock().unwrap();
        if shared.state != SocketState::Closed && shared.topics.remove(topic) {
            let _ = self.note(vec![("k", Value::from("unsub")), ("t", Value::from(topic))]);
        }
    }

    /// Whether the connection is subscribed to `topic`.
    pub fn is_subscribed(&self, topic: &str) -> bool {
        self.inner.state.lock().unwrap().topics.contains(topic)
    }

    /// The topics the connection is subscribed to, sorted.
    pub fn topics(&self) -> Vec<String> {
        let shared = self.inner.state.lock().unwrap();
        shared.topics.iter().cloned().collect()
    }

    /// Sends a message to every other connection of the plugin subscribed to `topic` (this one need
    /// not be), on any of its processes or versions; the gateway holds the topics, so a plugin
    /// reaches only its own.
    pub fn publish(&self, topic: &str, msg: impl Into<Message>) -> Result<(), Error> {
        check_topic(topic)?;
        let msg = msg.into();
        if msg.as_bytes().len() as i64 > self.inner.session.max_response() {
            return Err("the WebSocket message is larger than the channel takes".into());
        }
        let shared = self.inner.state.lock().unwrap();
        if shared.state == SocketState::Closed {
            return Err(SOCKET_CLOSED.into());
        }
        self.note(vec![
            ("k", Value::from("pub")),
            ("t", Value::from(topic)),
            ("d", msg.to_wire()),
        ])
    }

    /// Sends one connection note; the gateway refuses notes for a connection it closed.
    pub(crate) fn note(&self, mut n: Vec<(&'static str, Value)>) -> Result<(), Error> {
        n.push(("c", Value::from(self.inner.id)));
        self.inner
            .session
            .send(&map([("pgw", Value::from("live")), ("n", map(n))]))
    }
}

fn check_topic(topic: &str) -> Result<(), Error> {
    let units = topic.encode_utf16().count();
    if units == 0 || units > MAX_TOPIC_CHARS {
        return Err(format!("a topic is 1 to {MAX_TOPIC_CHARS} characters").into());
    }
    Ok(())
}
