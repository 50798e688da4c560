//! A task read while the 16 pool threads are busy, whose deadline passes while it waits in
//! the pool, must not run its handler (the gateway has answered the client `timeout` already).
//! `Session::execute` checks the deadline and the abandon when a pool thread takes the task.

mod common;

use common::{deadline, field, session, v};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use veza_plugin::{Plugin, Response, Value};

const BUSY: usize = 16; // TASK_THREADS

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn a_task_that_expired_while_queued_in_the_pool_never_runs_its_handler() {
    let ran = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&ran);
    let plugin = Plugin::new()
        .route("POST /slow", |_, _| {
            std::thread::sleep(Duration::from_millis(1500));
            Ok(Response::json(200, ()))
        })
        .route("POST /charge", move |_, _| {
            counted.fetch_add(1, Ordering::SeqCst);
            Ok(Response::json(200, ()))
        });
    let mut g = session(plugin);
    g.0.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    g.send(v(&[
        ("ctl", Value::from("health")),
        ("seq", Value::from(1)),
    ]));
    g.next("health");
    for slot in 0..BUSY {
        g.send(v(&[
            ("ctl", Value::from("task")),
            (
                "task",
                v(&[
                    ("t", Value::from("req")),
                    ("k", Value::from("POST /slow")),
                    ("s", Value::from(slot)),
                    ("d", deadline()),
                    ("r", v(&[("id", Value::from(slot.to_string()))])),
                ]),
            ),
        ]));
    }
    std::thread::sleep(Duration::from_millis(200));
    // Every pool thread sleeps now; this one waits in the pool past its 300 ms deadline.
    g.send(v(&[
        ("ctl", Value::from("task")),
        (
            "task",
            v(&[
                ("t", Value::from("req")),
                ("k", Value::from("POST /charge")),
                ("s", Value::from(BUSY)),
                ("d", Value::from(now_ms() + 300)),
                ("r", v(&[("id", Value::from("charge"))])),
            ]),
        ),
    ]));
    let mut charge = Value::Nil;
    for _ in 0..=BUSY {
        let r = g.next("result");
        if field(&r, "s") == &Value::from(BUSY) {
            charge = r;
        }
    }
    assert_eq!(
        ran.load(Ordering::SeqCst),
        0,
        "the handler ran for a task whose deadline passed before any thread took it: {charge}"
    );
    assert_eq!(field(field(&charge, "r"), "__pgw"), &Value::from("timeout"));
}
