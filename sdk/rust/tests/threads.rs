//! Alone in its test binary: it counts the process's threads.

use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use veza_plugin::{Plugin, Response, Value, encode_frame, read_frame};

struct Gateway(UnixStream);

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
        .unwrap()
        .iter()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
        .unwrap_or(&Value::Nil)
}

fn deadline() -> Value {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        + 60_000;
    Value::from(ms)
}

impl Gateway {
    fn send(&mut self, m: Value) {
        use std::io::Write;
        self.0.write_all(&encode_frame(&m).unwrap()).unwrap();
    }

    /// The next note of kind `pgw`, skipping `started`.
    fn next(&mut self, pgw: &str) -> Value {
        loop {
            let m = read_frame(&mut self.0, 1 << 20).unwrap().expect("a note");
            let kind = field(&m, "pgw").as_str().unwrap().to_owned();
            if kind == pgw {
                return m;
            }
            assert_eq!(kind, "started", "waiting for {pgw}, got {m}");
        }
    }

    fn task(&mut self, task: &[(&str, Value)]) {
        let mut fields = task.to_vec();
        fields.push(("d", deadline()));
        self.send(v(&[("ctl", Value::from("task")), ("task", v(&fields))]));
    }
}

fn session(plugin: Plugin) -> Gateway {
    let (host, side) = UnixStream::pair().unwrap();
    host.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let writer = side.try_clone().unwrap();
    std::thread::spawn(move || plugin.serve_conn(side, writer));
    let mut g = Gateway(host);
    assert_eq!(field(&g.next("hello"), "v"), &Value::from(1));
    let data = v(&[
        ("name", Value::from("t")),
        ("version", Value::from("1.0.0")),
        ("flags", v(&[("beta", Value::from(true))])),
        ("settings", v(&[])),
        ("publish", Value::Array(vec![Value::from("t.*")])),
        ("maxResponseBytes", Value::from(1024)),
        ("logLinesPerSecond", Value::from(100)),
    ]);
    g.send(v(&[
        ("ctl", Value::from("start")),
        ("v", Value::from(1)),
        ("data", data),
    ]));
    g
}

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
