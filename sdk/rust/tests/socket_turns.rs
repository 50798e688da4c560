//! Connections take turns on the socket threads: a connection whose queue never empties (the gateway
//! refills it after each `done`) does not keep the others from being served.

mod common;

use common::{Gateway, field, session, v};
use std::time::Duration;
use veza_plugin::{Context, Error, Message, Plugin, Value, WebSocket, WebSocketHandler};

const BUSY: i64 = 8;
const QUEUED: usize = 40;

struct Slow;

impl WebSocketHandler for Slow {
    fn message(&self, _ctx: &Context, _ws: &WebSocket, _msg: Message) -> Result<(), Error> {
        std::thread::sleep(Duration::from_millis(5));
        Ok(())
    }
}

fn live(g: &mut Gateway, f: &[(&str, Value)]) {
    g.send(v(&[("ctl", Value::from("live")), ("f", v(f))]));
}

fn open(g: &mut Gateway, c: i64) {
    let r = v(&[("id", Value::from(format!("r-{c}")))]);
    let f = [
        ("k", Value::from("open")),
        ("c", Value::from(c)),
        ("key", Value::from("GET /ws")),
        ("r", r),
    ];
    live(g, &f);
}

fn message(g: &mut Gateway, c: i64) {
    let f = [
        ("k", Value::from("msg")),
        ("c", Value::from(c)),
        ("d", Value::from("m")),
    ];
    live(g, &f);
}

/// The connection of the next `done`.
fn done(g: &mut Gateway) -> i64 {
    loop {
        let n = field(&g.next("live"), "n").clone();
        if field(&n, "k").as_str() == Some("done") {
            return field(&n, "c").as_i64().unwrap();
        }
    }
}

/// 8 connections (as many as the threads) each with 40 messages queued: a 9th connection's open, then
/// its message, are run within a round of the others, not after their 320 messages.
#[test]
fn a_busy_connection_takes_turns_with_the_others() {
    let mut g = session(Plugin::new().websocket("GET /ws", Slow));
    for c in 1..=BUSY {
        open(&mut g, c);
        for _ in 0..QUEUED {
            message(&mut g, c);
        }
    }
    // Eight dones in: every thread is at work on a busy connection.
    let mut opened = 0;
    while opened < BUSY {
        done(&mut g);
        opened += 1;
    }
    open(&mut g, 99);
    message(&mut g, 99);
    let mut busy_done = 0;
    let mut late_done = 0;
    while late_done < 2 {
        match done(&mut g) {
            99 => late_done += 1,
            _ => busy_done += 1,
        }
    }
    // Run to the end, the busy ones would answer 320 dones first; taking turns, the late one is
    // served after about one message of each busy connection per handler of its own.
    assert!(
        busy_done <= 4 * BUSY as usize,
        "{busy_done} busy messages ran before the late connection's open and message"
    );
}
