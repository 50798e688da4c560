//! The shared scripted session (test/protocol-vectors/session.json): the test plays the host, step
//! by step, against the plugin the session describes, written with this crate.

use std::collections::BTreeMap;
use std::os::unix::net::UnixStream;
use std::time::Duration;
use veza_plugin::{
    Context, Error, Level, Message, Plugin, Response, ServiceRequest, Value, WebSocket,
    WebSocketHandler, encode_frame, read_frame,
};

/// The session's room: open subscribes and greets, a text message is published and echoed, a
/// binary one sent back, close logs its code.
struct Room;

impl WebSocketHandler for Room {
    fn open(&self, _ctx: &Context, ws: &WebSocket) -> Result<(), Error> {
        let room = ws.request().params["room"].clone();
        ws.data().insert("room".into(), Value::from(room.as_str()));
        ws.subscribe(&room)?;
        ws.send(format!("joined {room}"))
    }

    fn message(&self, _ctx: &Context, ws: &WebSocket, msg: Message) -> Result<(), Error> {
        match msg {
            Message::Binary(_) => ws.send(msg),
            Message::Text(text) => {
                let room = ws.data()["room"].as_str().unwrap_or_default().to_owned();
                ws.publish(&room, text.as_str())?;
                ws.send(format!("echo:{text}"))
            }
        }
    }

    fn close(&self, ctx: &Context, _ws: &WebSocket, code: u16, _reason: &str) {
        ctx.log(
            Level::Info,
            "left",
            object(vec![("code", Value::from(code))]),
        );
    }
}

fn object(fields: Vec<(&str, Value)>) -> Value {
    Value::Map(
        fields
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect(),
    )
}

fn session_plugin() -> Plugin {
    Plugin::new()
        .route("GET /s/{name}", |ctx, req| {
            let name = req.params["name"].clone();
            ctx.log(
                Level::Info,
                "hello",
                object(vec![("name", Value::from(name.as_str()))]),
            );
            let profile = ctx.call("profiles", ServiceRequest::new("GET", "/p"))?;
            let seen = ctx.kv_get("seen")?.is_some();
            ctx.kv_set("seen", &name)?;
            let mut res = Response::json(200, ());
            res.body = object(vec![
                ("name", Value::from(name.as_str())),
                ("profile", profile.body),
                ("seen", Value::from(seen)),
            ]);
            Ok(res)
        })
        .route("GET /fail", |_, _| Err("boom".into()))
        .stream("GET /feed", |ctx, _, out| {
            out.header("content-type", "text/plain");
            // The stream's context, as a request handler's: its traceparent and per-request flags.
            out.header("x-traceparent", ctx.traceparent());
            out.header("x-beta", &ctx.flag("beta").to_string());
            for n in 0..10 {
                out.send(n.to_string())?;
            }
            Ok(())
        })
        .websocket("GET /room/{room}", Room)
}

/// The session's JSON as the value a frame decodes to: `{"$bin": hex}` as bytes.
fn from_json(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::from(*b),
        serde_json::Value::Number(n) => n
            .as_i64()
            .map(Value::from)
            .unwrap_or_else(|| Value::from(n.as_f64().unwrap())),
        serde_json::Value::String(s) => Value::from(s.as_str()),
        serde_json::Value::Array(a) => Value::Array(a.iter().map(from_json).collect()),
        serde_json::Value::Object(o) => match o.get("$bin").and_then(|b| b.as_str()) {
            Some(hex) if o.len() == 1 => Value::Binary(
                (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                    .collect(),
            ),
            _ => Value::Map(
                o.iter()
                    .map(|(k, v)| (Value::from(k.as_str()), from_json(v)))
                    .collect(),
            ),
        },
    }
}

fn as_int(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_u64().map(|u| u as i64))
}

/// Puts the integers the plugin chose in place of `"$seq:NAME"`.
fn bind(v: &Value, seqs: &BTreeMap<String, i64>) -> Value {
    match v {
        Value::String(s) => s
            .as_str()
            .and_then(|s| seqs.get(s))
            .map_or_else(|| v.clone(), |n| Value::from(*n)),
        Value::Map(m) => Value::Map(m.iter().map(|(k, x)| (k.clone(), bind(x, seqs))).collect()),
        _ => v.clone(),
    }
}

/// A plugin note against the session's: `"$seq:NAME"` matches any integer and names it; lists at an
/// `unordered` path compare as sets; numbers by value.
fn matches(
    want: &Value,
    got: &Value,
    seqs: &mut BTreeMap<String, i64>,
    path: &str,
    unordered: &[String],
) -> bool {
    if let Some(name) = want.as_str().filter(|s| s.starts_with("$seq:")) {
        let Some(n) = as_int(got) else { return false };
        return *seqs.entry(name.to_owned()).or_insert(n) == n;
    }
    match (want, got) {
        (Value::Map(w), Value::Map(g)) => {
            w.len() == g.len()
                && w.iter().all(|(k, x)| {
                    let key = k.as_str().unwrap();
                    let at = if path.is_empty() {
                        key.to_owned()
                    } else {
                        format!("{path}.{key}")
                    };
                    g.iter()
                        .find(|(gk, _)| gk.as_str() == Some(key))
                        .is_some_and(|(_, y)| matches(x, y, seqs, &at, unordered))
                })
        }
        (Value::Array(w), Value::Array(g)) if unordered.iter().any(|u| u == path) => {
            w.len() == g.len() && w.iter().all(|x| g.contains(x))
        }
        (Value::Array(w), Value::Array(g)) => {
            w.len() == g.len()
                && w.iter()
                    .zip(g)
                    .all(|(x, y)| matches(x, y, seqs, path, unordered))
        }
        _ => match (as_int(want), as_int(got)) {
            (Some(a), Some(b)) => a == b,
            _ => want == got,
        },
    }
}

#[test]
fn plays_the_scripted_session() {
    let text = std::fs::read_to_string("../../test/protocol-vectors/session.json")
        .expect("the shared session");
    let file: serde_json::Value = serde_json::from_str(&text).unwrap();
    let unordered: Vec<String> = file["unordered"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap().to_owned())
        .collect();
    let (mut host, side) = UnixStream::pair().unwrap();
    let writer = side.try_clone().unwrap();
    std::thread::spawn(move || session_plugin().serve_conn(side, writer));
    let mut seqs = BTreeMap::new();
    for (i, step) in file["steps"].as_array().unwrap().iter().enumerate() {
        let want = from_json(&step["value"]);
        if step["from"] == "host" {
            if step["quiet"] == true {
                host.set_read_timeout(Some(Duration::from_millis(200)))
                    .unwrap();
                if let Ok(Some(early)) = read_frame(&mut host, 1 << 20) {
                    panic!("step {i}: the plugin sent {early} before the host's {want}");
                }
            }
            use std::io::Write;
            host.write_all(&encode_frame(&bind(&want, &seqs)).unwrap())
                .unwrap();
            continue;
        }
        host.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let got = read_frame(&mut host, 1 << 20)
            .unwrap_or_else(|e| panic!("step {i}: waiting for {want}: {e}"))
            .expect("a note");
        assert!(
            matches(&want, &got, &mut seqs, "", &unordered),
            "step {i}: got {got}, want {want}"
        );
    }
}
