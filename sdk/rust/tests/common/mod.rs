//! The gateway's side of a session, for the test binaries that play it over a socket pair.
// Each test binary compiles this module on its own and uses part of it.
#![allow(dead_code)]

use std::os::unix::net::UnixStream;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use veza_plugin::{Plugin, Value, encode_frame, read_frame};

pub struct Gateway(pub UnixStream);

pub fn v(pairs: &[(&str, Value)]) -> Value {
    Value::Map(
        pairs
            .iter()
            .map(|(k, v)| (Value::from(*k), v.clone()))
            .collect(),
    )
}

pub fn field<'a>(m: &'a Value, key: &str) -> &'a Value {
    m.as_map()
        .unwrap()
        .iter()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
        .unwrap_or(&Value::Nil)
}

pub fn deadline() -> Value {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        + 60_000;
    Value::from(ms)
}

impl Gateway {
    pub fn send(&mut self, m: Value) {
        use std::io::Write;
        self.0.write_all(&encode_frame(&m).unwrap()).unwrap();
    }

    /// The next note of kind `pgw`, skipping `started`.
    pub fn next(&mut self, pgw: &str) -> Value {
        loop {
            let m = read_frame(&mut self.0, 1 << 20).unwrap().expect("a note");
            let kind = field(&m, "pgw").as_str().unwrap().to_owned();
            if kind == pgw {
                return m;
            }
            assert_eq!(kind, "started", "waiting for {pgw}, got {m}");
        }
    }

    pub fn task(&mut self, task: &[(&str, Value)]) {
        let mut fields = task.to_vec();
        fields.push(("d", deadline()));
        self.send(v(&[("ctl", Value::from("task")), ("task", v(&fields))]));
    }
}

pub fn session(plugin: Plugin) -> Gateway {
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
