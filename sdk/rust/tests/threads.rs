//! Alone in its test binary: it counts the process's threads.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use veza_plugin::{Plugin, Response, Value};

mod common;
use common::{session, v};

/// Threads of this test process (each test's own plugin threads included).
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

/// A plugin's process lives under a pids limit (64 in the sandbox): tasks share a fixed set of
/// threads, however many arrive at once.
#[test]
fn runs_many_tasks_on_a_bounded_set_of_threads() {
    use std::sync::atomic::AtomicUsize;
    static WAITING: AtomicUsize = AtomicUsize::new(0);
    static RELEASE: AtomicBool = AtomicBool::new(false);
    let before = threads();
    let mut g = session(Plugin::new().route("GET /block", |_, _| {
        WAITING.fetch_add(1, Ordering::SeqCst);
        while !RELEASE.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(2));
        }
        Ok(Response::json(200, ()))
    }));
    for slot in 0..200 {
        g.task(&[
            ("t", Value::from("req")),
            ("k", Value::from("GET /block")),
            ("s", Value::from(slot)),
            ("r", v(&[])),
        ]);
    }
    while WAITING.load(Ordering::SeqCst) < 16 {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        threads() - before <= 24,
        "{} threads for 200 waiting tasks",
        threads() - before
    );
    RELEASE.store(true, Ordering::SeqCst);
    for _ in 0..200 {
        g.next("result");
    }
}
