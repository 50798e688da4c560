//! Alone in its test binary: it counts the context switches of the process's socket threads.

mod common;

use common::{Gateway, field, session, v};
use veza_plugin::{Context, Error, Message, Plugin, Value, WebSocket, WebSocketHandler};

struct Quiet;

impl WebSocketHandler for Quiet {
    fn message(&self, _ctx: &Context, _ws: &WebSocket, _msg: Message) -> Result<(), Error> {
        Ok(())
    }
}

/// Voluntary context switches of this process's socket threads, and how many there are.
fn socket_threads() -> (u64, usize) {
    let (mut switches, mut count) = (0, 0);
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let dir = task.unwrap().path();
        let name = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if name.trim() != "veza-socket" {
            continue;
        }
        count += 1;
        let status = std::fs::read_to_string(dir.join("status")).unwrap_or_default();
        for line in status.lines() {
            if let Some(n) = line.strip_prefix("voluntary_ctxt_switches:") {
                switches += n.trim().parse::<u64>().unwrap();
            }
        }
    }
    (switches, count)
}

fn live(g: &mut Gateway, f: &[(&str, Value)]) {
    g.send(v(&[("ctl", Value::from("live")), ("f", v(f))]));
}

fn done(g: &mut Gateway) {
    loop {
        let n = field(&g.next("live"), "n").clone();
        if field(&n, "k").as_str() == Some("done") {
            return;
        }
    }
}

/// A connection's message, coming while the socket threads are idle, wakes one of them, which goes
/// back to wait: about one switch per message (a channel's receiver behind a mutex made it two, the
/// second thread taking the lock the first let go of).
#[test]
fn a_message_wakes_one_socket_thread() {
    const MESSAGES: u64 = 300;
    let mut g = session(Plugin::new().websocket("GET /ws", Quiet));
    let r = v(&[("id", Value::from("r-1"))]);
    let open = [
        ("k", Value::from("open")),
        ("c", Value::from(1)),
        ("key", Value::from("GET /ws")),
        ("r", r),
    ];
    live(&mut g, &open);
    done(&mut g);
    while socket_threads().1 < 8 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    std::thread::sleep(std::time::Duration::from_millis(50));
    let before = socket_threads().0;
    for _ in 0..MESSAGES {
        let msg = [
            ("k", Value::from("msg")),
            ("c", Value::from(1)),
            ("d", Value::from("m")),
        ];
        live(&mut g, &msg);
        done(&mut g);
    }
    let per_message = (socket_threads().0 - before) as f64 / MESSAGES as f64;
    assert!(
        per_message < 1.5,
        "{per_message} switches of socket threads per message"
    );
}
