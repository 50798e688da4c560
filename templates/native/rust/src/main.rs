//! A native plugin for the Veza gateway, built on its Rust SDK.

use std::collections::BTreeMap;
use veza_plugin::{Context, Error, Plugin, Request, Response};

fn hello(ctx: &Context, req: Request) -> Result<Response, Error> {
    let who = req.query.get("name").and_then(|n| n.as_str()).unwrap_or("world").to_owned();
    let mut greeting = format!("hello, {who}");
    if ctx.flag("shout") {
        greeting = greeting.to_uppercase();
    }
    ctx.info("greeted");
    Ok(Response::json(200, BTreeMap::from([("greeting", greeting)])))
}

fn main() {
    Plugin::new().route("GET /hello", hello).serve();
}

#[cfg(test)]
mod tests {
    use std::os::unix::net::UnixStream;
    use std::time::{SystemTime, UNIX_EPOCH};
    use veza_plugin::{encode_frame, read_frame, Plugin, Value};

    fn map(fields: Vec<(&str, Value)>) -> Value {
        Value::Map(fields.into_iter().map(|(k, v)| (Value::from(k), v)).collect())
    }

    fn field<'a>(m: &'a Value, key: &str) -> &'a Value {
        m.as_map().unwrap().iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v).unwrap()
    }

    /// Drives the plugin over the protocol, as the gateway would.
    #[test]
    fn says_hello() {
        use std::io::Write;
        let (mut host, side) = UnixStream::pair().unwrap();
        let writer = side.try_clone().unwrap();
        std::thread::spawn(move || Plugin::new().route("GET /hello", super::hello).serve_conn(side, writer));
        read_frame(&mut host, 1 << 20).unwrap();
        let data = map(vec![("name", Value::from("t")), ("maxResponseBytes", Value::from(1 << 20))]);
        host.write_all(&encode_frame(&map(vec![("ctl", Value::from("start")), ("data", data)])).unwrap()).unwrap();
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
}
