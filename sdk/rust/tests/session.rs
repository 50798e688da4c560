//! A whole session against the crate, the test playing the gateway over a socket pair.

use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use veza_plugin::{Event, Health, Plugin, Response, ServiceRequest, Value, read_frame};

mod common;
use common::{field, session, v};

#[test]
fn serves_a_whole_session() {
    let stopped = Arc::new(AtomicBool::new(false));
    let seen_stop = Arc::clone(&stopped);
    let mut g = session(
        Plugin::new()
            .route("GET /x/{id}", |ctx, req| {
                ctx.info("serving");
                assert!(ctx.publish(Event::new("other.thing", ())).is_err());
                ctx.publish(Event::new("t.seen", &req.params["id"]))?;
                let answer = ctx.call("profiles", ServiceRequest::new("GET", "/p"))?;
                let mut body = std::collections::BTreeMap::new();
                body.insert("id", Value::from(req.params["id"].as_str()));
                body.insert("beta", Value::from(ctx.flag("beta")));
                body.insert("profile", answer.body);
                Ok(Response {
                    status_code: 200,
                    headers: Default::default(),
                    body: Value::Map(body.into_iter().map(|(k, v)| (Value::from(k), v)).collect()),
                })
            })
            .route("GET /panic", |_, _| panic!("boom"))
            .route("GET /big", |_, _| Ok(Response::json(200, vec![0u8; 4096])))
            .route("GET /wait", |ctx, _| {
                while !ctx.is_done() {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err("gave up".into())
            })
            .on_event(|_, e| Err(format!("bad {}", e.kind).into()))
            .health(|_| Health::Degraded)
            .stop(move |_| {
                seen_stop.store(true, Ordering::SeqCst);
                Ok(())
            }),
    );

    g.task(&[("t", Value::from("boot")), ("s", Value::from(0))]);
    let boot = field(&g.next("result"), "r").clone();
    assert_eq!(field(&boot, "routes").as_array().unwrap().len(), 4);
    assert_eq!(field(&boot, "handlesEvents"), &Value::from(true));

    let request = v(&[
        ("id", Value::from("r-1")),
        ("method", Value::from("GET")),
        ("path", Value::from("/x/7")),
        ("headers", v(&[])),
        ("params", v(&[("id", Value::from("7"))])),
        ("userId", Value::from("ada")),
    ]);
    g.task(&[
        ("t", Value::from("req")),
        ("k", Value::from("GET /x/{id}")),
        ("s", Value::from(1)),
        ("r", request),
    ]);
    let line = g.next("log");
    assert_eq!(field(&line, "requestId"), &Value::from("r-1"));
    let publish = g.next("publish");
    assert_eq!(field(field(&publish, "event"), "source"), &Value::from("t"));
    let call = g.next("call");
    assert_eq!(field(&call, "requestId"), &Value::from("r-1"));
    assert_eq!(field(&call, "userId"), &Value::from("ada"));
    let seq = field(&call, "seq").clone();
    g.send(v(&[
        ("ctl", Value::from("reply")),
        ("seq", seq),
        (
            "response",
            v(&[("statusCode", Value::from(200)), ("body", Value::from("P"))]),
        ),
    ]));
    let response = field(&g.next("result"), "r").clone();
    assert_eq!(field(&response, "statusCode"), &Value::from(200));
    assert_eq!(
        field(field(&response, "body"), "profile"),
        &Value::from("P")
    );
    assert_eq!(field(field(&response, "body"), "beta"), &Value::from(true));

    for (key, kind) in [
        ("GET /panic", "threw"),
        ("GET /nowhere", "no-route"),
        ("GET /big", "too-large"),
    ] {
        g.task(&[
            ("t", Value::from("req")),
            ("k", Value::from(key)),
            ("s", Value::from(2)),
            ("r", v(&[])),
        ]);
        assert_eq!(
            field(field(&g.next("result"), "r"), "__pgw"),
            &Value::from(kind),
            "{key}"
        );
    }

    g.task(&[
        ("t", Value::from("req")),
        ("k", Value::from("GET /wait")),
        ("s", Value::from(3)),
        ("r", v(&[])),
    ]);
    g.next("started");
    g.send(v(&[
        ("ctl", Value::from("abandon")),
        ("slot", Value::from(3)),
    ]));
    let abandoned = g.next("result");
    assert_eq!(field(&abandoned, "s"), &Value::from(3));
    assert_eq!(
        field(field(&abandoned, "r"), "__pgw"),
        &Value::from("timeout")
    );

    g.task(&[
        ("t", Value::from("evt")),
        ("s", Value::from(0)),
        ("e", v(&[("type", Value::from("t.x"))])),
    ]);
    assert_eq!(
        field(field(&g.next("result"), "r"), "message"),
        &Value::from("bad t.x")
    );
    g.send(v(&[
        ("ctl", Value::from("health")),
        ("seq", Value::from(5)),
    ]));
    let health = g.next("health");
    assert_eq!(
        field(field(&health, "status"), "status"),
        &Value::from("degraded")
    );
    g.send(v(&[("ctl", Value::from("stop"))]));
    assert_eq!(field(&g.next("stopped"), "error"), &Value::Nil);
    assert!(stopped.load(Ordering::SeqCst));
}

#[test]
fn answers_init_to_every_task_when_init_failed() {
    let mut g = session(Plugin::new().init(|_, _| Err("no db".into())));
    g.task(&[("t", Value::from("boot")), ("s", Value::from(0))]);
    let r = field(&g.next("result"), "r").clone();
    assert_eq!(field(&r, "__pgw"), &Value::from("init"));
    assert_eq!(field(&r, "message"), &Value::from("no db"));
}

#[test]
fn ends_on_a_broken_channel() {
    use std::io::Write;
    let (mut host, side) = UnixStream::pair().unwrap();
    let writer = side.try_clone().unwrap();
    let served = std::thread::spawn(move || Plugin::new().serve_conn(side, writer));
    read_frame(&mut host, 1 << 20).unwrap();
    host.write_all(&[0, 0, 0, 1, 0xc1]).unwrap();
    assert_eq!(served.join().unwrap().unwrap_err().kind, "malformed");
}
