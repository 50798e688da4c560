//! Streams against the crate, the test playing the gateway: Sse's heartbeat after a silence, and the
//! cap on streams served at once (each holds a thread; the sandbox counts threads).

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::time::Duration;
use veza_plugin::{Plugin, Sse, SseEvent, Value, encode_frame, read_frame};

fn v(pairs: &[(&str, Value)]) -> Value {
    Value::Map(
        pairs
            .iter()
            .map(|(k, v)| (Value::from(*k), v.clone()))
            .collect(),
    )
}

fn field<'a>(m: &'a Value, key: &str) -> &'a Value {
    m.as_map()
        .and_then(|m| m.iter().find(|(k, _)| k.as_str() == Some(key)))
        .map_or(&Value::Nil, |(_, v)| v)
}

struct Gateway(UnixStream);

impl Gateway {
    fn send(&mut self, m: Value) {
        self.0.write_all(&encode_frame(&m).unwrap()).unwrap();
    }

    /// The next stream note (`n`), skipping other notes.
    fn live(&mut self) -> Value {
        loop {
            let m = read_frame(&mut self.0, 1 << 20).unwrap().expect("a note");
            if field(&m, "pgw").as_str() == Some("live") {
                return field(&m, "n").clone();
            }
        }
    }

    fn open(&mut self, c: i64, key: &str) {
        let r = v(&[
            ("id", Value::from("r")),
            ("method", Value::from("GET")),
            ("path", Value::from("/s")),
            ("headers", v(&[])),
        ]);
        let f = v(&[
            ("k", Value::from("req")),
            ("c", Value::from(c)),
            ("key", Value::from(key)),
            ("r", r),
        ]);
        self.send(v(&[("ctl", Value::from("live")), ("f", f)]));
    }
}

fn session(plugin: Plugin) -> Gateway {
    let (host, side) = UnixStream::pair().unwrap();
    host.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let writer = side.try_clone().unwrap();
    std::thread::spawn(move || plugin.serve_conn(side, writer));
    let mut g = Gateway(host);
    read_frame(&mut g.0, 1 << 20).unwrap().expect("hello");
    let data = v(&[
        ("name", Value::from("t")),
        ("maxResponseBytes", Value::from(1 << 20)),
        ("logLinesPerSecond", Value::from(100)),
    ]);
    g.send(v(&[
        ("ctl", Value::from("start")),
        ("v", Value::from(1)),
        ("data", data),
    ]));
    g
}

fn text(n: &Value) -> String {
    match field(n, "d") {
        Value::Binary(b) => String::from_utf8_lossy(b).into_owned(),
        other => other.to_string(),
    }
}

#[test]
fn sse_sends_a_heartbeat_after_a_silence() {
    let mut g = session(Plugin::new().stream("GET /quiet", |ctx, _, out| {
        let events = Sse::new(out, Some(Duration::from_millis(20)));
        events.send(&SseEvent::new("first"))?;
        while !ctx.is_done() {
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }));
    g.open(1, "GET /quiet");
    let head = g.live();
    assert_eq!(field(&head, "k").as_str(), Some("head"));
    assert_eq!(
        field(field(&head, "h"), "content-type").as_str(),
        Some("text/event-stream; charset=utf-8")
    );
    assert_eq!(text(&g.live()), "data: first\n\n");
    assert_eq!(text(&g.live()), ": heartbeat\n\n");
}

#[test]
fn serves_at_most_sixteen_streams_at_once() {
    let mut g = session(Plugin::new().stream("GET /forever", |_, _, out| {
        loop {
            out.send("x")?;
        }
    }));
    for c in 1..=16 {
        g.open(c, "GET /forever");
    }
    // Each of the 16 sends its head and its 8 chunks of credit, then waits.
    for _ in 0..16 * 9 {
        assert_ne!(field(&g.live(), "k").as_str(), Some("end"));
    }
    g.open(17, "GET /forever");
    let refused: Vec<Value> = (0..2).map(|_| g.live()).collect();
    assert_eq!(field(&refused[0], "k").as_str(), Some("head"));
    assert_eq!(field(&refused[1], "k").as_str(), Some("end"));
    assert_eq!(field(&refused[1], "c"), &Value::from(17));
    assert!(
        field(&refused[1], "e")
            .as_str()
            .unwrap()
            .contains("16 streams at once")
    );
    // One ends (the client went away): a new stream is served again.
    g.send(v(&[
        ("ctl", Value::from("live")),
        (
            "f",
            v(&[("k", Value::from("cancel")), ("c", Value::from(1))]),
        ),
    ]));
    // Its thread returns on its own time: open streams until one is served (its first chunk comes).
    let served = (18..268).any(|c| {
        g.open(c, "GET /forever");
        assert_eq!(field(&g.live(), "k").as_str(), Some("head"));
        let refused = field(&g.live(), "k").as_str() == Some("end");
        if refused {
            std::thread::sleep(Duration::from_millis(20));
        }
        !refused
    });
    assert!(served);
}
