//! A native plugin for the Veza gateway, built on its Rust SDK.

use std::collections::BTreeMap;
use veza_plugin::{Context, Error, Message, Plugin, Request, Response, WebSocket, WebSocketHandler};

fn hello(ctx: &Context, req: Request) -> Result<Response, Error> {
    let who = req.query.get("name").and_then(|n| n.as_str()).unwrap_or("world").to_owned();
    let mut greeting = format!("hello, {who}");
    if ctx.flag("shout") {
        greeting = greeting.to_uppercase();
    }
    ctx.info("greeted");
    Ok(Response::json(200, BTreeMap::from([("greeting", greeting)])))
}

/// Serves the WebSocket endpoint /echo: each message goes back to the client that sent it. The gateway
/// holds the socket; `ws.subscribe` and `ws.publish` make rooms of clients.
struct Echo;

impl WebSocketHandler for Echo {
    fn message(&self, _ctx: &Context, ws: &WebSocket, msg: Message) -> Result<(), Error> {
        ws.send(msg)
    }
}

fn plugin() -> Plugin {
    Plugin::new().route("GET /hello", hello).websocket("GET /echo", Echo)
}

fn main() {
    plugin().serve();
}

#[cfg(test)]
mod tests {
    use std::os::unix::net::UnixStream;
    use std::time::{SystemTime, UNIX_EPOCH};
    use veza_plugin::{encode_frame, read_frame, Value};

    fn map(fields: Vec<(&str, Value)>) -> Value {
        Value::Map(fields.into_iter().map(|(k, v)| (Value::from(k), v)).collect())
    }

    fn field<'a>(m: &'a Value, key: &str) -> &'a Value {
        m.as_map().unwrap().iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v).unwrap()
    }

    /// Serves the plugin on a socket pair, started as the gateway would; the gateway's end.
    fn session() -> UnixStream {
        use std::io::Write;
        let (mut host, side) = UnixStream::pair().unwrap();
        let writer = side.try_clone().unwrap();
        std::thread::spawn(move || super::plugin().serve_conn(side, writer));
        read_frame(&mut host, 1 << 20).unwrap();
        let data = map(vec![("name", Value::from("t")), ("maxResponseBytes", Value::from(1 << 20))]);
        host.write_all(&encode_frame(&map(vec![("ctl", Value::from("start")), ("data", data)])).unwrap()).unwrap();
        host
    }

    /// Drives the plugin over the protocol, as the gateway would.
    #[test]
    fn says_hello() {
        use std::io::Write;
        let mut host = session();
        let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64 + 60_000;
        let request = map(vec![("query", map(vec![("name", Value::from("ada"))]))]);
        let task = map(vec![
            ("t", Value::from("req")),
            ("k", Value::from("GET /hello")),
            ("s", Value::from(0)),
            ("d", Value::from(deadline)),
            ("r", request),
        ]);
        host.write_all(&encode_frame(&map(vec![("ctl", Value::from("task")), ("task", task)])).unwrap()).unwrap();
        loop {
            let note = read_frame(&mut host, 1 << 20).unwrap().unwrap();
            if field(&note, "pgw").as_str() == Some("result") {
                let body = field(field(&note, "r"), "body");
                assert_eq!(field(body, "greeting").as_str(), Some("hello, ada"));
                return;
            }
        }
    }

    /// Opens a WebSocket connection as the gateway would, and sends it a message.
    #[test]
    fn echoes() {
        use std::io::Write;
        let mut host = session();
        let live = |f: Value| encode_frame(&map(vec![("ctl", Value::from("live")), ("f", f)])).unwrap();
        let request = map(vec![("id", Value::from("r")), ("path", Value::from("/echo"))]);
        let open = map(vec![("k", Value::from("open")), ("c", Value::from(1)), ("key", Value::from("GET /echo")), ("r", request)]);
        host.write_all(&live(open)).unwrap();
        host.write_all(&live(map(vec![("k", Value::from("msg")), ("c", Value::from(1)), ("d", Value::from("hi"))]))).unwrap();
        loop {
            let note = read_frame(&mut host, 1 << 20).unwrap().unwrap();
            if field(&note, "pgw").as_str() != Some("live") {
                continue;
            }
            let n = field(&note, "n");
            if field(n, "k").as_str() == Some("send") {
                assert_eq!(field(n, "d").as_str(), Some("hi"));
                return;
            }
        }
    }
}
