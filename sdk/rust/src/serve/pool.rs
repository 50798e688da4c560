//! The fixed set of threads that run tasks.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};

pub(super) type Job = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    closed: bool,
    /// Threads waiting on the queue's condition: nobody to wake (no system call) when 0.
    idle: usize,
}

#[derive(Default)]
struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
}

/// Task threads fed by one queue: an idle thread waits on the queue's condition and a task wakes
/// exactly one. (A receiver behind a mutex, as before, woke a second thread for every task, to take the
/// lock the first let go of: ~2 context switches per request more.) Dropping it lets the threads end once
/// the queue is empty.
pub(super) struct TaskPool {
    shared: Arc<Shared>,
}

impl TaskPool {
    pub(super) fn new(threads: usize) -> Self {
        let shared = Arc::new(Shared::default());
        for _ in 0..threads {
            let shared = Arc::clone(&shared);
            let worker = std::thread::Builder::new()
                .name("veza-task".into())
                .spawn(move || {
                    while let Some(job) = shared.next() {
                        job();
                    }
                });
            // Fewer threads than asked is fewer tasks at once, not a failure.
            drop(worker);
        }
        TaskPool { shared }
    }

    pub(super) fn submit(&self, job: Job) {
        self.submit_all(std::iter::once(job));
    }

    /// Queues jobs and wakes one idle thread: a thread that takes a job and sees more wakes the next
    /// (so a batch of cheap tasks is run by the few threads that get there, not one wake-up each).
    pub(super) fn submit_all(&self, jobs: impl IntoIterator<Item = Job>) {
        let wake = {
            let mut queue = self.shared.queue.lock().unwrap();
            queue.jobs.extend(jobs);
            queue.idle > 0 && !queue.jobs.is_empty()
        };
        // Woken after the lock is let go, the thread does not sleep again on the mutex (a switch more).
        if wake {
            self.shared.ready.notify_one();
        }
    }
}

impl Shared {
    /// The next job, waiting for one; `None` once the pool is dropped and the queue empty.
    fn next(&self) -> Option<Job> {
        let mut queue = self.queue.lock().unwrap();
        loop {
            if let Some(job) = queue.jobs.pop_front() {
                let wake = queue.idle > 0 && !queue.jobs.is_empty();
                drop(queue);
                if wake {
                    self.ready.notify_one();
                }
                return Some(job);
            }
            if queue.closed {
                return None;
            }
            queue.idle += 1;
            queue = self.ready.wait(queue).unwrap();
            queue.idle -= 1;
        }
    }
}

impl Drop for TaskPool {
    fn drop(&mut self) {
        self.shared.queue.lock().unwrap().closed = true;
        self.shared.ready.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::TaskPool;
    use std::sync::mpsc;

    /// Voluntary context switches of this process's task threads, and how many there are.
    fn task_threads() -> (u64, usize) {
        let (mut switches, mut count) = (0, 0);
        for task in std::fs::read_dir("/proc/self/task").unwrap() {
            let dir = task.unwrap().path();
            let name = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
            if name.trim() != "veza-task" {
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

    /// One task wakes one idle thread, which goes back to wait: about one switch per task (a
    /// receiver behind a mutex made it two, the second thread taking the lock). Dropped, the threads end.
    #[test]
    fn a_task_wakes_one_thread_and_a_dropped_pool_ends_them() {
        const JOBS: u64 = 300;
        let pool = TaskPool::new(16);
        let (done, finished) = mpsc::channel();
        // Every thread started and waiting.
        while task_threads().1 < 16 {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        let before = task_threads().0;
        for _ in 0..JOBS {
            let done = done.clone();
            pool.submit(Box::new(move || done.send(()).unwrap()));
            finished.recv().unwrap();
        }
        let per_task = (task_threads().0 - before) as f64 / JOBS as f64;
        assert!(
            per_task < 1.5,
            "{per_task} switches of task threads per task"
        );
        drop(pool);
        for _ in 0..200 {
            if task_threads().1 == 0 {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!(
            "{} task threads left after the pool was dropped",
            task_threads().1
        );
    }
}
