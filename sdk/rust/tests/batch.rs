//! The tasks the gateway writes together: read with one system call, their `started` notes sent in
//! one write, each before its handler runs.

mod common;

use common::{Gateway, deadline, field, v};
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use veza_plugin::{Plugin, Response, Value, encode_frame, read_frame};

/// Counts the plugin's read calls on the channel.
struct CountingReader(UnixStream, Arc<Mutex<usize>>);

impl Read for CountingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        *self.1.lock().unwrap() += 1;
        self.0.read(buf)
    }
}

/// Keeps what each of the plugin's write calls carried.
struct RecordingWriter(UnixStream, Arc<Mutex<Vec<Vec<u8>>>>);

impl Write for RecordingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.1.lock().unwrap().push(buf.to_vec());
        self.0.write_all(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The frames of each write call so far.
fn notes(writes: &Mutex<Vec<Vec<u8>>>) -> Vec<Vec<Value>> {
    writes
        .lock()
        .unwrap()
        .iter()
        .map(|w| {
            let mut r: &[u8] = w;
            let mut frames = Vec::new();
            while let Some(frame) = read_frame(&mut r, 1 << 20).expect("whole frames") {
                frames.push(frame);
            }
            frames
        })
        .collect()
}

fn is_started(note: &Value, slot: Option<&str>) -> bool {
    field(note, "pgw").as_str() == Some("started")
        && slot
            .is_none_or(|s| field(note, "s").as_i64().map(|n| n.to_string()).as_deref() == Some(s))
}

#[test]
fn tasks_read_together_send_their_started_notes_in_one_write_before_their_handlers_run() {
    const TASKS: usize = 32;
    let (host, side) = UnixStream::pair().unwrap();
    host.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let reads = Arc::new(Mutex::new(0));
    let writes = Arc::new(Mutex::new(Vec::new()));
    let reader = CountingReader(side.try_clone().unwrap(), Arc::clone(&reads));
    let writer = RecordingWriter(side, Arc::clone(&writes));
    let seen = Arc::clone(&writes);
    let plugin = Plugin::new().route("POST /n", move |_, req| {
        let started = notes(&seen)
            .iter()
            .flatten()
            .any(|n| is_started(n, Some(&req.id)));
        Ok(Response::json(if started { 200 } else { 500 }, ()))
    });
    std::thread::spawn(move || plugin.serve_conn(reader, writer));
    let mut g = Gateway(host);
    g.next("hello");
    g.send(v(&[
        ("ctl", Value::from("start")),
        ("v", Value::from(1)),
        (
            "data",
            v(&[
                ("name", Value::from("t")),
                ("version", Value::from("1.0.0")),
                ("maxResponseBytes", Value::from(1024)),
                ("logLinesPerSecond", Value::from(100)),
            ]),
        ),
    ]));
    g.send(v(&[
        ("ctl", Value::from("health")),
        ("seq", Value::from(1)),
    ]));
    g.next("health");
    let mut batch = Vec::new();
    for slot in 0..TASKS {
        let task = v(&[
            ("t", Value::from("req")),
            ("k", Value::from("POST /n")),
            ("s", Value::from(slot)),
            ("d", deadline()),
            ("r", v(&[("id", Value::from(slot.to_string()))])),
        ]);
        batch.extend(encode_frame(&v(&[("ctl", Value::from("task")), ("task", task)])).unwrap());
    }
    let reads_before = *reads.lock().unwrap();
    g.0.write_all(&batch).unwrap();
    for _ in 0..TASKS {
        let result = g.next("result");
        assert_eq!(
            field(field(&result, "r"), "statusCode"),
            &Value::from(200),
            "a handler ran before its started note was written"
        );
    }
    // Two each before the channel was read through a buffer: a frame's length, then its value.
    let reads = *reads.lock().unwrap() - reads_before;
    assert!(
        reads <= 3,
        "{reads} reads for {TASKS} tasks written at once"
    );
    let started_writes: Vec<usize> = notes(&writes)
        .iter()
        .map(|w| w.iter().filter(|n| is_started(n, None)).count())
        .filter(|&n| n > 0)
        .collect();
    assert_eq!(started_writes, vec![TASKS], "the started notes' writes");
}
