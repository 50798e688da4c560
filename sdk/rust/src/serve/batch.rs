//! The tasks of one read: their `started` notes go out in one write, then the pool runs them.

use super::pool::{Job, TaskPool};
use super::tasks::{deadline_of, started_frame};
use super::{Session, failure};
use crate::values::{get, int};
use rmpv::Value;
use std::sync::Arc;

#[derive(Default)]
pub(super) struct Batch {
    started: Vec<u8>,
    jobs: Vec<Job>,
}

impl Batch {
    /// Takes a `task` message to run at the next `dispatch`; false while the plugin's init and start
    /// have not finished (the task then waits for them in the pool, as `Session::run`).
    pub(super) fn take(&mut self, session: &Arc<Session>, message: &Value) -> bool {
        if !session.is_ready() {
            return false;
        }
        let task = get(message, "task").clone();
        let slot = int(&task, "s");
        let Some(deadline) = deadline_of(&task) else {
            session.result(slot, failure("timeout", "deadline passed"));
            return true;
        };
        let state = session.begin(slot);
        self.started.extend_from_slice(&started_frame(slot));
        let session = Arc::clone(session);
        self.jobs.push(Box::new(move || {
            session.execute(&task, slot, deadline, state)
        }));
        true
    }

    /// Sends the taken tasks' `started` notes, then hands the tasks to the pool.
    pub(super) fn dispatch(&mut self, session: &Session, pool: &TaskPool) {
        if self.jobs.is_empty() {
            return;
        }
        // A broken channel ends the session at its next read; the tasks run as `Session::run` would.
        let _ = session.outbox.deliver(&self.started);
        self.started.clear();
        pool.submit_all(self.jobs.drain(..));
    }
}

/// Whether `buffered` begins with a whole frame: read without a system call, it joins the batch.
pub(super) fn frame_buffered(buffered: &[u8]) -> bool {
    match buffered.first_chunk::<4>() {
        Some(header) => buffered.len() - 4 >= u32::from_be_bytes(*header) as usize,
        None => false,
    }
}
