//! When things run: each job on its own interval ([`Scheduler`]), each plugin call on
//! a bounded pool of worker threads ([`WorkerPool`]).
//!
//! This crate knows nothing of plugins, stores or the engine: a job is a name, an
//! interval and an async function that says whether the run succeeded.
//!
//! Per job: the first run waits a start jitter derived from the job's name (so
//! restarts spread the same way and jobs do not fire together); a job never overlaps
//! itself (one task per job); a run that overruns its interval is followed by one run
//! at once, not by the ticks it missed; a failed run is retried after a capped,
//! growing delay (the one retry policy) that never touches other jobs; success resets it.

mod pool;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use syncer_retry::RetryPolicy;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use pool::{PoolClosed, WorkerPool};

/// A job run: resolves to `true` when the run succeeded.
pub type RunFuture = Pin<Box<dyn Future<Output = bool> + Send>>;

/// One scheduled job.
#[derive(Clone)]
pub struct Job {
    /// Unique name, e.g. `demo/Instance`.
    pub name: String,
    /// Time between the starts of two successful runs.
    pub interval: Duration,
    /// Delay of the first run (see [`jitter_for`]).
    pub jitter: Duration,
    /// Wait before retrying after the first failure; doubles per failure up to the
    /// interval.
    pub retry_initial: Duration,
    /// Changes whenever anything about the job changes; a reload restarts only jobs
    /// whose fingerprint changed.
    pub fingerprint: u64,
    /// Starts one run.
    pub run: Arc<dyn Fn() -> RunFuture + Send + Sync>,
}

/// A start jitter in `[0, max)` derived from the job's name alone (FNV-1a), so every
/// restart and every replica spreads the same jobs the same way.
pub fn jitter_for(name: &str, max: Duration) -> Duration {
    let millis = max.as_millis() as u64;
    if millis == 0 {
        return Duration::ZERO;
    }
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    Duration::from_millis(hash % millis)
}

struct Running {
    fingerprint: u64,
    stop: watch::Sender<bool>,
    handle: JoinHandle<()>,
}

/// The running jobs. [`Scheduler::apply`] replaces the job set (start-up and reload);
/// [`Scheduler::shutdown`] stops it.
#[derive(Default)]
pub struct Scheduler {
    running: HashMap<String, Running>,
}

impl Scheduler {
    /// An empty scheduler.
    pub fn new() -> Self {
        Self::default()
    }

    /// Names of the jobs now scheduled, sorted.
    pub fn job_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.running.keys().cloned().collect();
        names.sort();
        names
    }

    /// Makes `jobs` the job set: new jobs start, removed jobs stop after their current
    /// run, changed jobs restart once their current run has finished (never
    /// overlapping it), unchanged jobs go on undisturbed.
    pub fn apply(&mut self, jobs: Vec<Job>) {
        let wanted: HashMap<String, Job> = jobs.into_iter().map(|j| (j.name.clone(), j)).collect();
        let names: Vec<String> = self.running.keys().cloned().collect();
        let mut finishing: HashMap<String, JoinHandle<()>> = HashMap::new();
        for name in names {
            let keep = wanted
                .get(&name)
                .is_some_and(|j| j.fingerprint == self.running[&name].fingerprint);
            if !keep {
                let old = self.running.remove(&name).expect("listed");
                let _ = old.stop.send(true);
                tracing::info!(job = %name, "job stops after its current run");
                finishing.insert(name, old.handle);
            }
        }
        for (name, job) in wanted {
            if self.running.contains_key(&name) {
                continue;
            }
            let (stop, stop_rx) = watch::channel(false);
            let previous = finishing.remove(&name);
            let fingerprint = job.fingerprint;
            let handle = tokio::spawn(job_loop(job, stop_rx, previous));
            self.running.insert(
                name,
                Running {
                    fingerprint,
                    stop,
                    handle,
                },
            );
        }
    }

    /// Stops every job: no new runs; running ones get `grace` to finish, then are
    /// abandoned. Returns the names of abandoned jobs.
    pub async fn shutdown(self, grace: Duration) -> Vec<String> {
        for running in self.running.values() {
            let _ = running.stop.send(true);
        }
        let deadline = Instant::now() + grace;
        let mut abandoned = Vec::new();
        for (name, running) in self.running {
            let mut handle = running.handle;
            if tokio::time::timeout_at(deadline, &mut handle)
                .await
                .is_err()
            {
                handle.abort();
                abandoned.push(name);
            }
        }
        abandoned.sort();
        if !abandoned.is_empty() {
            tracing::warn!(jobs = ?abandoned, grace_secs = grace.as_secs(), "runs abandoned after the grace period");
        }
        abandoned
    }
}

async fn job_loop(job: Job, mut stop: watch::Receiver<bool>, previous: Option<JoinHandle<()>>) {
    if let Some(previous) = previous {
        // The job's old definition is finishing a run: never overlap it.
        let _ = previous.await;
    }
    let backoff = RetryPolicy {
        attempts: u32::MAX,
        initial_delay: job.retry_initial,
        max_delay: job.interval.max(job.retry_initial),
    };
    let mut next = Instant::now() + job.jitter;
    let mut failures = 0u32;
    loop {
        tokio::select! {
            biased;
            _ = stop.wait_for(|stopped| *stopped) => break,
            _ = tokio::time::sleep_until(next) => {}
        }
        let scheduled = next;
        let ok = (job.run)().await;
        let now = Instant::now();
        if ok {
            failures = 0;
            // Missed ticks coalesce: an overrun is followed by one run at once.
            next = (scheduled + job.interval).max(now);
        } else {
            failures = failures.saturating_add(1);
            let delay = backoff.delay_after(failures);
            tracing::warn!(job = %job.name, failures, retry_in_secs = delay.as_secs_f64(), "run failed; retrying later");
            next = now + delay;
        }
    }
}

/// Runs `jobs` until `shutdown` resolves, then stops them with `grace`.
pub async fn run_jobs(jobs: Vec<Job>, shutdown: impl Future<Output = ()>, grace: Duration) {
    let mut scheduler = Scheduler::new();
    scheduler.apply(jobs);
    shutdown.await;
    scheduler.shutdown(grace).await;
}

#[cfg(test)]
mod tests;
