//! A fixed pool of worker threads for plugin calls.
//!
//! Plugin calls block (a dynamic plugin blocks on its own runtime), so they must never
//! run on the host's async workers. Plain threads, rather than tokio's blocking pool,
//! make the bound exact: at most `max_workers` plugin calls run at once, whatever else
//! uses `spawn_blocking`, and no tokio context leaks into plugin code.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

type Task = Box<dyn FnOnce() + Send>;

/// The pool is gone (the host is shutting down) or the call panicked past its guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolClosed;

impl std::fmt::Display for PoolClosed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the worker pool is closed")
    }
}

impl std::error::Error for PoolClosed {}

/// A fixed set of named worker threads fed from one queue.
#[derive(Clone)]
pub struct WorkerPool {
    queue: mpsc::Sender<Task>,
    size: usize,
}

impl WorkerPool {
    /// Starts `size` worker threads (at least one).
    pub fn new(size: usize) -> Self {
        let size = size.max(1);
        let (queue, tasks) = mpsc::channel::<Task>();
        let tasks = Arc::new(Mutex::new(tasks));
        for n in 0..size {
            let tasks = tasks.clone();
            std::thread::Builder::new()
                .name(format!("syncer-worker-{n}"))
                .spawn(move || loop {
                    // The lock is held only while taking a task, never while running it.
                    let task = match tasks.lock() {
                        Ok(queue) => queue.recv(),
                        Err(_) => return,
                    };
                    match task {
                        Ok(task) => task(),
                        Err(_) => return, // every sender dropped: the pool is gone
                    }
                })
                .expect("a worker thread starts");
        }
        WorkerPool { queue, size }
    }

    /// Number of worker threads.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Runs `call` on a worker thread and waits for its result without blocking the
    /// async runtime.
    pub async fn run<T: Send + 'static>(
        &self,
        call: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PoolClosed> {
        let (tx, rx) = oneshot::channel();
        self.queue
            .send(Box::new(move || {
                let _ = tx.send(call());
            }))
            .map_err(|_| PoolClosed)?;
        rx.await.map_err(|_| PoolClosed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Barrier;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn never_runs_more_calls_than_workers() {
        let pool = WorkerPool::new(3);
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        // Three calls meet at a barrier, proving three run at once; the others queue.
        let barrier = Arc::new(Barrier::new(3));
        let mut calls = tokio::task::JoinSet::new();
        for i in 0..12 {
            let (pool, running, peak, barrier) =
                (pool.clone(), running.clone(), peak.clone(), barrier.clone());
            calls.spawn(async move {
                pool.run(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    barrier.wait();
                    running.fetch_sub(1, Ordering::SeqCst);
                    i
                })
                .await
                .unwrap()
            });
        }
        let mut results: Vec<usize> = calls.join_all().await;
        results.sort();
        assert_eq!(results, (0..12).collect::<Vec<_>>());
        assert_eq!(peak.load(Ordering::SeqCst), 3);
    }
}
