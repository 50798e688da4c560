//! Native plugins for @veza/plugin-gateway in Rust.
//!
//! A native plugin is a program the gateway starts in its bubblewrap sandbox (`runtime.type: process`,
//! `runtime.command` in plugin.yaml) and speaks to over the plugin protocol (docs/plugin-protocol.md):
//! length-prefixed MessagePack frames on file descriptor 3. This crate is that protocol's plugin side.
//!
//! ```no_run
//! use veza_plugin::{Plugin, Response};
//!
//! fn main() {
//!     Plugin::new()
//!         .route("GET /hello/{name}", |ctx, req| {
//!             ctx.info("greeting");
//!             Ok(Response::json(200, serde_json_like(&req.params["name"])))
//!         })
//!         .serve();
//! }
//! # fn serde_json_like(s: &str) -> std::collections::BTreeMap<&str, &str> { [("hello", s)].into() }
//! ```
//!
//! Endpoints plugin.yaml declares with `stream:` are served by [`Plugin::stream`]: the handler sends the
//! body on a [`Stream`] chunk by chunk, each send waiting for the gateway's credit ([`Sse`] answers
//! Server-Sent Events). [`Context::kv_get`], `kv_set` and `kv_delete` reach the plugin's key/value
//! store on the gateway, which `resources.disk` grants.
//!
//! Endpoints plugin.yaml declares with `websocket:` are served by [`Plugin::websocket`] with a
//! [`WebSocketHandler`]: its `open`, `message` and `close` run in turn for each connection, given a
//! [`WebSocket`] to send to, close, keep per-connection data on, and subscribe or publish to topics
//! (rooms). The gateway holds the sockets, their limits and the topics; this crate says it serves them
//! in its handshake.
//!
//! Route keys are `"METHOD /path"` as plugin.yaml's endpoints declare them. Each task runs in a thread
//! of its own; `Context::is_done` says when its deadline passed or the gateway gave up on it. A
//! handler's error or panic is answered as the plugin's failure (500), never a crash.

mod context;
mod frames;
mod serve;
mod socket;
mod socket_serve;
mod sse;
mod stream;
mod values;

pub use context::{Context, Level};
pub use frames::{FrameError, MAX_FRAME_BYTES, decode_payload, encode_frame, read_frame};
pub use rmpv::Value;
pub use socket::{Message, SOCKET_CLOSED, WebSocket, WebSocketHandler};
pub use sse::{Sse, SseEvent};
pub use stream::{RequestBody, STREAM_CLOSED, Stream};
pub use values::{
    Event, FetchOptions, FetchResponse, Health, Info, Request, Response, ServiceRequest,
    ServiceResponse, to_value,
};

use std::collections::BTreeMap;
use std::io::{Read, Write};

/// The plugin protocol version this crate speaks.
pub const PROTOCOL_VERSION: i64 = 1;

/// A handler's, hook's or event handler's error: answered as the plugin's failure.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

type Handler = Box<dyn Fn(&Context, Request) -> Result<Response, Error> + Send + Sync>;
type StreamHandler = Box<dyn Fn(&Context, Request, Stream) -> Result<(), Error> + Send + Sync>;
type Hook = Box<dyn Fn(&Context) -> Result<(), Error> + Send + Sync>;
type InitHook = Box<dyn Fn(&Context, &Info) -> Result<(), Error> + Send + Sync>;
type HealthCheck = Box<dyn Fn(&Context) -> Health + Send + Sync>;
type EventHandler = Box<dyn Fn(&Context, Event) -> Result<(), Error> + Send + Sync>;

/// The whole plugin contract: routes, lifecycle hooks, health, events. Every part is optional.
#[derive(Default)]
pub struct Plugin {
    routes: BTreeMap<String, Handler>,
    streams: BTreeMap<String, StreamHandler>,
    pub(crate) websockets: BTreeMap<String, std::sync::Arc<dyn WebSocketHandler>>,
    init: Option<InitHook>,
    start: Option<Hook>,
    stop: Option<Hook>,
    health: Option<HealthCheck>,
    on_event: Option<EventHandler>,
}

impl Plugin {
    pub fn new() -> Self {
        Plugin::default()
    }

    /// Serves the route `key` (`"GET /tracks/{id}"`).
    pub fn route(
        mut self,
        key: &str,
        handler: impl Fn(&Context, Request) -> Result<Response, Error> + Send + Sync + 'static,
    ) -> Self {
        self.routes.insert(key.to_owned(), Box::new(handler));
        self
    }

    /// Serves the endpoint `key` that plugin.yaml declares with `stream:`: the handler sends the body
    /// chunk by chunk on its [`Stream`] and returns when it is done (an error, or a panic, ends the
    /// body as failed, which aborts the client's response). `route` serves such an endpoint too, its
    /// response sent whole. `Context::is_done` turns true when the gateway ends the stream.
    pub fn stream(
        mut self,
        key: &str,
        handler: impl Fn(&Context, Request, Stream) -> Result<(), Error> + Send + Sync + 'static,
    ) -> Self {
        self.streams.insert(key.to_owned(), Box::new(handler));
        self
    }

    /// Serves the endpoint `key` that plugin.yaml declares with `websocket:`: `handler`'s `open`,
    /// `message` and `close` run for each connection, one after another.
    ///
    /// ```no_run
    /// use veza_plugin::{Context, Error, Message, Plugin, WebSocket, WebSocketHandler};
    ///
    /// struct Room;
    /// impl WebSocketHandler for Room {
    ///     fn open(&self, _ctx: &Context, ws: &WebSocket) -> Result<(), Error> {
    ///         ws.subscribe(&ws.request().params["room"])
    ///     }
    ///     fn message(&self, _ctx: &Context, ws: &WebSocket, msg: Message) -> Result<(), Error> {
    ///         ws.publish(&ws.request().params["room"], msg) // to the room's other clients
    ///     }
    /// }
    ///
    /// Plugin::new().websocket("GET /rooms/{room}", Room).serve();
    /// ```
    pub fn websocket(mut self, key: &str, handler: impl WebSocketHandler) -> Self {
        self.websockets
            .insert(key.to_owned(), std::sync::Arc::new(handler));
        self
    }

    /// Runs once, before `start`, with the plugin's name, version, flags and settings.
    pub fn init(
        mut self,
        hook: impl Fn(&Context, &Info) -> Result<(), Error> + Send + Sync + 'static,
    ) -> Self {
        self.init = Some(Box::new(hook));
        self
    }

    pub fn start(
        mut self,
        hook: impl Fn(&Context) -> Result<(), Error> + Send + Sync + 'static,
    ) -> Self {
        self.start = Some(Box::new(hook));
        self
    }

    /// Runs once when the gateway unloads, swaps or idles the plugin out.
    pub fn stop(
        mut self,
        hook: impl Fn(&Context) -> Result<(), Error> + Send + Sync + 'static,
    ) -> Self {
        self.stop = Some(Box::new(hook));
        self
    }

    /// Reports the plugin's health; without it, always healthy.
    pub fn health(mut self, check: impl Fn(&Context) -> Health + Send + Sync + 'static) -> Self {
        self.health = Some(Box::new(check));
        self
    }

    /// Receives the events `permissions.events.subscribe` lets through.
    pub fn on_event(
        mut self,
        handler: impl Fn(&Context, Event) -> Result<(), Error> + Send + Sync + 'static,
    ) -> Self {
        self.on_event = Some(Box::new(handler));
        self
    }

    /// Serves on the channel the gateway opened (fd 3) until the gateway closes it, then exits the
    /// program; a broken channel exits with code 70.
    pub fn serve(self) -> ! {
        use std::fs::File;
        use std::os::fd::FromRawFd;
        // SAFETY: the gateway starts a native plugin with its channel at fd 3, and nothing else in
        // this program owns that descriptor.
        let channel = unsafe { File::from_raw_fd(3) };
        let writer = match channel.try_clone() {
            Ok(w) => w,
            Err(e) => {
                eprintln!(
                    "plugin: no channel on fd 3 ({e}): a native plugin is started by the gateway"
                );
                std::process::exit(2);
            }
        };
        match self.serve_conn(channel, writer) {
            Ok(()) => std::process::exit(0),
            Err(e) => {
                eprintln!("plugin: the gateway's channel carried {e}");
                std::process::exit(70);
            }
        }
    }

    /// Speaks the protocol on `reader`/`writer` until the gateway closes it: `Ok` then, the error when
    /// it carried what the protocol does not allow. Tests drive a plugin through it.
    pub fn serve_conn(
        self,
        reader: impl Read,
        writer: impl Write + Send + 'static,
    ) -> Result<(), FrameError> {
        serve::serve_conn(self, reader, writer)
    }
}
