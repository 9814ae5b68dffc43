//! When things run: each job on its own interval ([`run_jobs`]), each plugin call on a
//! bounded pool of worker threads ([`WorkerPool`]).
//!
//! This crate knows nothing of plugins, stores or the engine: a job is a name, an
//! interval and an async function that says whether the run succeeded.

mod pool;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

pub use pool::{PoolClosed, WorkerPool};

/// A job run: resolves to `true` when the run succeeded.
pub type RunFuture = Pin<Box<dyn Future<Output = bool> + Send>>;

/// One scheduled job.
#[derive(Clone)]
pub struct Job {
    /// Unique name, e.g. `demo/Instance`.
    pub name: String,
    /// Time between the starts of two runs.
    pub interval: Duration,
    /// Starts one run.
    pub run: Arc<dyn Fn() -> RunFuture + Send + Sync>,
}

/// Runs every job on its interval until `shutdown` resolves, then lets running runs
/// finish for up to `grace` and returns.
///
/// Each job runs in its own task, so a job never overlaps itself and a slow job never
/// delays another. A run that overruns its interval delays the next tick instead of
/// queueing more: missed ticks coalesce into one run.
pub async fn run_jobs(jobs: Vec<Job>, shutdown: impl Future<Output = ()>, grace: Duration) {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    for job in jobs {
        let mut stop = stop_rx.clone();
        tasks.spawn(async move {
            let mut ticker = tokio::time::interval(job.interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    biased;
                    _ = stop.wait_for(|stopped| *stopped) => break,
                    _ = ticker.tick() => {}
                }
                tracing::debug!(job = %job.name, "run starting");
                let ok = (job.run)().await;
                tracing::debug!(job = %job.name, ok, "run finished");
            }
        });
    }
    shutdown.await;
    tracing::info!("shutting down: no new runs; waiting for running ones");
    let _ = stop_tx.send(true);
    let drained =
        tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(
            grace_secs = grace.as_secs(),
            "runs still going after the grace period; abandoning them"
        );
        tasks.abort_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn counting_job(
        name: &str,
        interval: Duration,
        work: Duration,
        runs: Arc<AtomicUsize>,
        running: Arc<AtomicUsize>,
    ) -> Job {
        Job {
            name: name.into(),
            interval,
            run: Arc::new(move || {
                let runs = runs.clone();
                let running = running.clone();
                Box::pin(async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    assert_eq!(now, 1, "a job overlapped itself");
                    tokio::time::sleep(work).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                    runs.fetch_add(1, Ordering::SeqCst);
                    true
                })
            }),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn each_job_runs_on_its_own_interval() {
        let fast = Arc::new(AtomicUsize::new(0));
        let slow = Arc::new(AtomicUsize::new(0));
        let jobs = vec![
            counting_job(
                "fast",
                Duration::from_secs(10),
                Duration::from_millis(1),
                fast.clone(),
                Arc::default(),
            ),
            counting_job(
                "slow",
                Duration::from_secs(60),
                Duration::from_millis(1),
                slow.clone(),
                Arc::default(),
            ),
        ];
        // Runs at t = 0, 10, ..., 120 (fast) and t = 0, 60, 120 (slow); stop at 125 s.
        run_jobs(
            jobs,
            tokio::time::sleep(Duration::from_secs(125)),
            Duration::from_secs(5),
        )
        .await;
        assert_eq!(fast.load(Ordering::SeqCst), 13);
        assert_eq!(slow.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_run_never_overlaps_and_missed_ticks_coalesce() {
        let runs = Arc::new(AtomicUsize::new(0));
        // Every run takes 35 s on a 10 s interval: without coalescing, ticks would pile up.
        let job = counting_job(
            "slow",
            Duration::from_secs(10),
            Duration::from_secs(35),
            runs.clone(),
            Arc::default(),
        );
        run_jobs(
            vec![job],
            tokio::time::sleep(Duration::from_secs(100)),
            Duration::from_secs(60),
        )
        .await;
        // Starts at 0, 35, 70, then the run started at 70 finishes at 105 inside the grace.
        assert_eq!(runs.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_lets_a_running_run_finish_within_the_grace_period() {
        let runs = Arc::new(AtomicUsize::new(0));
        let job = counting_job(
            "long",
            Duration::from_secs(600),
            Duration::from_secs(20),
            runs.clone(),
            Arc::default(),
        );
        run_jobs(
            vec![job.clone()],
            tokio::time::sleep(Duration::from_secs(1)),
            Duration::from_secs(30),
        )
        .await;
        assert_eq!(
            runs.load(Ordering::SeqCst),
            1,
            "the running run was not allowed to finish"
        );

        let abandoned = Arc::new(AtomicUsize::new(0));
        let job = counting_job(
            "long",
            Duration::from_secs(600),
            Duration::from_secs(20),
            abandoned.clone(),
            Arc::default(),
        );
        run_jobs(
            vec![job],
            tokio::time::sleep(Duration::from_secs(1)),
            Duration::from_secs(5),
        )
        .await;
        assert_eq!(
            abandoned.load(Ordering::SeqCst),
            0,
            "a run past the grace period was not abandoned"
        );
    }
}
