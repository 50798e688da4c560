//! What goes out on the channel: frames from any thread, whole, coalesced. The first thread with a
//! frame to send writes it itself (no hand-off to another thread); frames that other threads queue
//! meanwhile go out with its next system call, so replies finished together cost one write, not one
//! each.

use std::io::Write;
use std::sync::{Condvar, Mutex};

/// The largest batch buffer kept for the next batch, bytes.
const REUSED_BUFFER: usize = 64 * 1024;

#[derive(Default)]
struct Queue {
    bytes: Vec<u8>,
    /// A thread is writing: it takes what is queued before it lets go.
    flushing: bool,
    failed: Option<String>,
    /// Frames queued so far, and of them written (to the kernel) so far.
    queued: u64,
    written: u64,
    /// Threads waiting for their frames to be written.
    waiters: usize,
}

pub(super) struct Outbox {
    queue: Mutex<Queue>,
    wrote: Condvar,
    writer: Mutex<Box<dyn Write + Send>>,
}

impl Outbox {
    pub(super) fn new(writer: Box<dyn Write + Send>) -> Self {
        Outbox {
            queue: Mutex::default(),
            wrote: Condvar::new(),
            writer: Mutex::new(writer),
        }
    }

    /// Sends frames (each whole) and returns once they are queued: written by this thread, or by the
    /// one writing now, with its next system call.
    pub(super) fn post(&self, frames: &[u8]) -> Result<(), String> {
        self.send(frames, false)
    }

    /// Sends frames and returns once the kernel has them: a `started` note must be out before the
    /// plugin's code sees its task, lest the process die with the note still queued.
    pub(super) fn deliver(&self, frames: &[u8]) -> Result<(), String> {
        self.send(frames, true)
    }

    fn send(&self, frames: &[u8], wait: bool) -> Result<(), String> {
        let mut queue = self.queue.lock().unwrap();
        if let Some(why) = &queue.failed {
            return Err(why.clone());
        }
        queue.bytes.extend_from_slice(frames);
        queue.queued += 1;
        let mine = queue.queued;
        if queue.flushing {
            if !wait {
                return Ok(());
            }
            queue.waiters += 1;
            while queue.written < mine && queue.failed.is_none() {
                queue = self.wrote.wait(queue).unwrap();
            }
            queue.waiters -= 1;
            return match &queue.failed {
                Some(why) if queue.written < mine => Err(why.clone()),
                _ => Ok(()),
            };
        }
        queue.flushing = true;
        let mut spare = Vec::new();
        loop {
            let batch = std::mem::replace(&mut queue.bytes, spare);
            let upto = queue.queued;
            drop(queue);
            let outcome = {
                let mut writer = self.writer.lock().unwrap();
                writer.write_all(&batch).and_then(|()| writer.flush())
            };
            queue = self.queue.lock().unwrap();
            if let Err(e) = outcome {
                queue.failed = Some(e.to_string());
                queue.flushing = false;
                queue.bytes = Vec::new();
                if queue.waiters > 0 {
                    self.wrote.notify_all();
                }
                return Err(e.to_string());
            }
            queue.written = upto;
            if queue.waiters > 0 {
                self.wrote.notify_all();
            }
            spare = batch;
            spare.clear();
            if queue.bytes.is_empty() {
                queue.flushing = false;
                if spare.capacity() <= REUSED_BUFFER {
                    queue.bytes = spare;
                }
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Outbox;
    use std::io::{self, Write};
    use std::sync::mpsc::{Receiver, channel};
    use std::sync::{Arc, Mutex};

    /// A writer that records each write call; the first waits for the test's go.
    struct Recorder {
        writes: Arc<Mutex<Vec<Vec<u8>>>>,
        go: Option<Receiver<()>>,
    }

    impl Write for Recorder {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if let Some(go) = self.go.take() {
                go.recv().unwrap();
            }
            self.writes.lock().unwrap().push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// Frames sent while a write is under way go out together with the next write, whole and each
    /// once; a frame to deliver is written by the time its sender returns.
    #[test]
    fn frames_sent_during_a_write_go_out_in_one_write() {
        let writes = Arc::new(Mutex::new(Vec::new()));
        let (open, go) = channel();
        let outbox = Arc::new(Outbox::new(Box::new(Recorder {
            writes: Arc::clone(&writes),
            go: Some(go),
        })));
        let first = {
            let outbox = Arc::clone(&outbox);
            std::thread::spawn(move || outbox.post(b"first").unwrap())
        };
        while !outbox.queue.lock().unwrap().flushing {
            std::thread::yield_now();
        }
        for i in 0..7u8 {
            let outbox = Arc::clone(&outbox);
            std::thread::spawn(move || outbox.post(&[b'a' + i; 3]).unwrap())
                .join()
                .unwrap();
        }
        let delivered = {
            let (outbox, writes) = (Arc::clone(&outbox), Arc::clone(&writes));
            std::thread::spawn(move || {
                outbox.deliver(b"zzz").unwrap();
                assert!(writes.lock().unwrap().concat().ends_with(b"zzz"));
            })
        };
        while outbox.queue.lock().unwrap().waiters == 0 {
            std::thread::yield_now();
        }
        open.send(()).unwrap();
        first.join().unwrap();
        delivered.join().unwrap();
        let writes = writes.lock().unwrap();
        let mut rest = b"first".to_vec();
        for i in 0..7u8 {
            rest.extend_from_slice(&[b'a' + i; 3]);
        }
        rest.extend_from_slice(b"zzz");
        assert_eq!(writes.concat(), rest);
        assert_eq!(writes.len(), 2, "9 frames, one write under way");
    }
}
