//! Alone in its test binary: it counts the process's threads while many connections wait.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use veza_plugin::{Context, Error, Plugin, Value, WebSocket, WebSocketHandler};

mod common;
use common::{session, v};

static WAITING: AtomicUsize = AtomicUsize::new(0);
static RELEASE: AtomicBool = AtomicBool::new(false);

/// Threads of this test process (its plugin's threads included).
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

struct Blocks;

impl WebSocketHandler for Blocks {
    fn open(&self, _ctx: &Context, _ws: &WebSocket) -> Result<(), Error> {
        WAITING.fetch_add(1, Ordering::SeqCst);
        while !RELEASE.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(2));
        }
        Ok(())
    }
}

/// A plugin's process lives under a pids limit (64 in the sandbox): connections' handlers share a
/// pool of threads, however many connections are open.
#[test]
fn serves_many_connections_on_a_bounded_set_of_threads() {
    let before = threads();
    let mut g = session(Plugin::new().websocket("GET /ws", Blocks));
    for c in 1..=200 {
        let r = v(&[("id", Value::from(format!("r-{c}")))]);
        let f = v(&[
            ("k", Value::from("open")),
            ("c", Value::from(c)),
            ("key", Value::from("GET /ws")),
            ("r", r),
        ]);
        g.send(v(&[("ctl", Value::from("live")), ("f", f)]));
    }
    while WAITING.load(Ordering::SeqCst) < 8 {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(100));
    // The 16 task threads, the 8 of the connections, the session's own, the boot's.
    let added = threads() - before;
    assert!(added <= 28, "{added} threads for 200 waiting connections");
    assert_eq!(WAITING.load(Ordering::SeqCst), 8);
    RELEASE.store(true, Ordering::SeqCst);
    let mut done = 0;
    while done < 200 {
        let note = g.next("live");
        if common::field(common::field(&note, "n"), "k").as_str() == Some("done") {
            done += 1;
        }
    }
}
