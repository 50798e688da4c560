//! WebSocket connections against the crate, the test playing the gateway: handlers in turn, each
//! answered `done`; a failing handler closes 1011; what the gateway would refuse is refused here.

mod common;

use common::{Gateway, field, session, v};
use std::sync::mpsc;
use veza_plugin::{
    Context, Error, Message, Plugin, SOCKET_CLOSED, Value, WebSocket, WebSocketHandler,
};

fn live(g: &mut Gateway, f: &[(&str, Value)]) {
    g.send(v(&[("ctl", Value::from("live")), ("f", v(f))]));
}

fn open(g: &mut Gateway, c: i64, key: &str) {
    let r = v(&[
        ("id", Value::from("r-ws")),
        ("method", Value::from("GET")),
        ("path", Value::from("/ws")),
        ("headers", v(&[])),
    ]);
    live(
        g,
        &[
            ("k", Value::from("open")),
            ("c", Value::from(c)),
            ("key", Value::from(key)),
            ("r", r),
        ],
    );
}

/// The next connection note of kind `k`, skipping the others.
fn note(g: &mut Gateway, k: &str) -> Value {
    loop {
        let n = field(&g.next("live"), "n").clone();
        if field(&n, "k").as_str() == Some(k) {
            return n;
        }
    }
}

struct Upper {
    release: std::sync::Mutex<mpsc::Receiver<()>>,
}

impl WebSocketHandler for Upper {
    fn open(&self, _ctx: &Context, ws: &WebSocket) -> Result<(), Error> {
        ws.data().insert("n".into(), Value::from(0));
        // The messages that come meanwhile wait their turn.
        self.release.lock().unwrap().recv()?;
        Ok(())
    }

    fn message(&self, _ctx: &Context, ws: &WebSocket, msg: Message) -> Result<(), Error> {
        let n = ws.data()["n"].as_i64().unwrap() + 1;
        ws.data().insert("n".into(), Value::from(n));
        match msg {
            Message::Text(t) => ws.send(t.to_uppercase()),
            Message::Binary(_) => Err("bad input".into()),
        }
    }

    fn close(&self, ctx: &Context, ws: &WebSocket, code: u16, _reason: &str) {
        let late = ws.send("late").unwrap_err().to_string();
        ws.publish("room", "left").unwrap();
        let n = ws.data()["n"].clone();
        let fields = v(&[
            ("code", Value::from(code)),
            ("n", n),
            ("late", Value::from(late)),
        ]);
        ctx.log(veza_plugin::Level::Info, "closed", fields);
    }
}

#[test]
fn handlers_run_in_turn_and_answer_done() {
    let (release, wait) = mpsc::channel();
    let mut g = session(Plugin::new().websocket(
        "GET /ws",
        Upper {
            release: std::sync::Mutex::new(wait),
        },
    ));
    open(&mut g, 7, "GET /ws");
    for d in ["a", "b"] {
        live(
            &mut g,
            &[
                ("k", Value::from("msg")),
                ("c", Value::from(7)),
                ("d", Value::from(d)),
            ],
        );
    }
    release.send(()).unwrap();
    note(&mut g, "done");
    for want in ["A", "B"] {
        let sent = note(&mut g, "send");
        assert_eq!(field(&sent, "d"), &Value::from(want));
        assert_eq!(field(&sent, "c"), &Value::from(7));
        note(&mut g, "done");
    }
    // A binary message fails the handler: 1011, then its done.
    live(
        &mut g,
        &[
            ("k", Value::from("msg")),
            ("c", Value::from(7)),
            ("d", Value::Binary(vec![1])),
        ],
    );
    let log = g.next("log");
    assert!(field(&log, "msg").as_str().unwrap().contains("bad input"));
    let close = note(&mut g, "close");
    assert_eq!(field(&close, "code"), &Value::from(1011));
    note(&mut g, "done");
    live(
        &mut g,
        &[
            ("k", Value::from("closed")),
            ("c", Value::from(7)),
            ("code", Value::from(1011)),
            ("reason", Value::from("plugin error")),
        ],
    );
    assert_eq!(field(&note(&mut g, "pub"), "d"), &Value::from("left"));
    let line = g.next("log");
    let fields = field(&line, "fields");
    assert_eq!(field(fields, "code"), &Value::from(1011));
    assert_eq!(field(fields, "n"), &Value::from(3));
    assert_eq!(field(fields, "late"), &Value::from(SOCKET_CLOSED));
    assert_eq!(field(&line, "requestId"), &Value::from("r-ws"));
    note(&mut g, "done");
}

struct Checks(mpsc::Sender<Vec<String>>);

impl WebSocketHandler for Checks {
    fn open(&self, _ctx: &Context, ws: &WebSocket) -> Result<(), Error> {
        let long = "t".repeat(257);
        let refused: Vec<String> = [
            ws.close(1001, ""),
            ws.close(1000, &"r".repeat(124)),
            ws.subscribe(""),
            ws.subscribe(&long),
            ws.send(vec![0u8; 2048]), // over maxResponseBytes (1024 here): closes 1011
            ws.send("after closing"),
        ]
        .into_iter()
        .map(|r| r.map_or_else(|e| e.to_string(), |()| "accepted".into()))
        .collect();
        for i in 0..256 {
            ws.subscribe(&format!("topic-{i}"))?;
        }
        let extra = ws.subscribe("one too many").is_err();
        ws.unsubscribe("topic-0");
        let kept = (ws.topics().len(), ws.is_subscribed("topic-0"), extra);
        let _ = self
            .0
            .send(refused.into_iter().chain([format!("{kept:?}")]).collect());
        Ok(())
    }
}

#[test]
fn refuses_what_the_gateway_would() {
    let (tx, rx) = mpsc::channel();
    let mut g = session(Plugin::new().websocket("GET /ws", Checks(tx)));
    open(&mut g, 1, "GET /ws");
    let close = note(&mut g, "close");
    assert_eq!(field(&close, "reason"), &Value::from("message too large"));
    let said = rx.recv().unwrap();
    assert!(said[..5].iter().all(|s| s != "accepted"), "{said:?}");
    assert_eq!(said[5], SOCKET_CLOSED);
    assert_eq!(said[6], "(255, false, true)");
    // 256 subscriptions and one unsubscribe went to the gateway (a closing connection may still
    // hold its topics until the gateway says it closed).
    let mut subs = 0;
    loop {
        let n = field(&g.next("live"), "n").clone();
        match field(&n, "k").as_str() {
            Some("sub") => subs += 1,
            Some("unsub") => break,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(subs, 256);
    note(&mut g, "done");
}

#[test]
fn an_unknown_key_closes_1011() {
    let mut g = session(Plugin::new());
    open(&mut g, 3, "GET /nowhere");
    let log = g.next("log");
    assert!(
        field(&log, "msg")
            .as_str()
            .unwrap()
            .contains("GET /nowhere")
    );
    let close = note(&mut g, "close");
    assert_eq!(field(&close, "reason"), &Value::from("no handler"));
    assert_eq!(field(&close, "c"), &Value::from(3));
}
