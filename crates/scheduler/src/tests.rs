//! The scheduler on tokio's paused clock: time only moves when every task waits, so
//! run times are exact and no test sleeps for real.

use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Start times (seconds since the test began) of one job's runs.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u64>>>);

impl Log {
    fn times(&self) -> Vec<u64> {
        self.0.lock().unwrap().clone()
    }
}

struct Spec {
    name: &'static str,
    interval: u64,
    jitter: u64,
    work: u64,
    /// Outcomes of successive runs; `true` once exhausted.
    outcomes: Vec<bool>,
}

fn job(spec: Spec, log: Log, origin: Instant, running: Arc<AtomicUsize>) -> Job {
    let outcomes = Arc::new(Mutex::new(spec.outcomes.into_iter()));
    Job {
        name: spec.name.into(),
        interval: Duration::from_secs(spec.interval),
        jitter: Duration::from_secs(spec.jitter),
        retry_initial: Duration::from_secs(10),
        fingerprint: spec.interval,
        run: Arc::new(move || {
            let (log, running, outcomes) = (log.clone(), running.clone(), outcomes.clone());
            let work = Duration::from_secs(spec.work);
            Box::pin(async move {
                assert_eq!(
                    running.fetch_add(1, Ordering::SeqCst),
                    0,
                    "a job overlapped itself"
                );
                log.0.lock().unwrap().push(origin.elapsed().as_secs());
                tokio::time::sleep(work).await;
                running.fetch_sub(1, Ordering::SeqCst);
                outcomes.lock().unwrap().next().unwrap_or(true)
            })
        }),
    }
}

fn simple(name: &'static str, interval: u64, jitter: u64, work: u64) -> Spec {
    Spec {
        name,
        interval,
        jitter,
        work,
        outcomes: vec![],
    }
}

async fn run_for(specs: Vec<Spec>, seconds: u64, grace: u64) -> Vec<Log> {
    let origin = Instant::now();
    let logs: Vec<Log> = specs.iter().map(|_| Log::default()).collect();
    let jobs = specs
        .into_iter()
        .zip(&logs)
        .map(|(spec, log)| job(spec, log.clone(), origin, Arc::default()))
        .collect();
    run_jobs(
        jobs,
        tokio::time::sleep(Duration::from_secs(seconds)),
        Duration::from_secs(grace),
    )
    .await;
    logs
}

#[tokio::test(start_paused = true)]
async fn each_job_runs_on_its_own_interval_after_its_jitter() {
    let logs = run_for(
        vec![simple("fast", 10, 3, 0), simple("slow", 60, 0, 0)],
        125,
        5,
    )
    .await;
    assert_eq!(
        logs[0].times(),
        vec![3, 13, 23, 33, 43, 53, 63, 73, 83, 93, 103, 113, 123]
    );
    assert_eq!(logs[1].times(), vec![0, 60, 120]);
}

#[test]
fn jitter_is_deterministic_and_spread() {
    let max = Duration::from_secs(60);
    let jitters: Vec<Duration> = (0..50)
        .map(|i| jitter_for(&format!("cloud/Collection{i}"), max))
        .collect();
    let again: Vec<Duration> = (0..50)
        .map(|i| jitter_for(&format!("cloud/Collection{i}"), max))
        .collect();
    assert_eq!(jitters, again, "jitter must be the same on every start");
    assert!(jitters.iter().all(|j| *j < max));
    // 50 jobs over 60 s: they land in at least 8 of the 10 six-second buckets.
    let buckets: std::collections::BTreeSet<u64> =
        jitters.iter().map(|j| j.as_secs() / 6).collect();
    assert!(buckets.len() >= 8, "jitter is not spread: {buckets:?}");
    assert_eq!(jitter_for("x", Duration::ZERO), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn a_slow_run_never_overlaps_and_missed_ticks_coalesce() {
    // Every run takes 35 s on a 10 s interval: the ticks it misses do not pile up.
    let logs = run_for(vec![simple("slow", 10, 0, 35)], 100, 60).await;
    assert_eq!(logs[0].times(), vec![0, 35, 70]);
}

#[tokio::test(start_paused = true)]
async fn a_long_stall_is_followed_by_one_run_then_the_normal_rhythm() {
    let spec = Spec {
        name: "stall",
        interval: 10,
        jitter: 0,
        work: 0,
        outcomes: vec![],
    };
    let origin = Instant::now();
    let log = Log::default();
    let stalled = Arc::new(AtomicUsize::new(0));
    let inner = job(spec, log.clone(), origin, Arc::default());
    // The second run stalls for 95 s (nine and a half intervals).
    let run = inner.run.clone();
    let stalling = Job {
        run: Arc::new(move || {
            let (run, stalled) = (run.clone(), stalled.clone());
            Box::pin(async move {
                let ok = run().await;
                if stalled.fetch_add(1, Ordering::SeqCst) == 1 {
                    tokio::time::sleep(Duration::from_secs(95)).await;
                }
                ok
            })
        }),
        ..inner
    };
    run_jobs(
        vec![stalling],
        tokio::time::sleep(Duration::from_secs(131)),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(log.times(), vec![0, 10, 105, 115, 125]);
}

#[tokio::test(start_paused = true)]
async fn failures_back_off_exponentially_up_to_the_interval_and_success_resets() {
    let spec = Spec {
        name: "flaky",
        interval: 100,
        jitter: 0,
        work: 0,
        outcomes: vec![false, false, false, false, false, true, false, true],
    };
    let logs = run_for(vec![spec], 400, 5).await;
    // Fail at 0 (retry in 10), 10 (20), 30 (40), 70 (80), 150 (100, capped),
    // succeed at 250, fail at 350 (retry in 10, reset), succeed at 360.
    assert_eq!(logs[0].times(), vec![0, 10, 30, 70, 150, 250, 350, 360]);
}

#[tokio::test(start_paused = true)]
async fn a_failing_job_never_delays_another() {
    let failing = Spec {
        name: "down",
        interval: 30,
        jitter: 0,
        work: 20,
        outcomes: vec![false; 100],
    };
    let logs = run_for(vec![failing, simple("fine", 30, 0, 0)], 95, 30).await;
    assert_eq!(logs[1].times(), vec![0, 30, 60, 90]);
    assert!(
        logs[0].times().len() >= 3,
        "a failing job must keep being retried: {:?}",
        logs[0].times()
    );
}

#[tokio::test(start_paused = true)]
async fn shutdown_lets_a_running_run_finish_within_the_grace_period() {
    let logs = run_for(vec![simple("long", 600, 0, 20)], 1, 30).await;
    assert_eq!(logs[0].times(), vec![0]);

    let origin = Instant::now();
    let finished = Arc::new(AtomicUsize::new(0));
    let done = finished.clone();
    let long = Job {
        name: "long".into(),
        interval: Duration::from_secs(600),
        jitter: Duration::ZERO,
        retry_initial: Duration::from_secs(1),
        fingerprint: 0,
        run: Arc::new(move || {
            let done = done.clone();
            Box::pin(async move {
                tokio::time::sleep(Duration::from_secs(20)).await;
                done.fetch_add(1, Ordering::SeqCst);
                true
            })
        }),
    };
    let mut scheduler = Scheduler::new();
    scheduler.apply(vec![long.clone()]);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        scheduler.shutdown(Duration::from_secs(30)).await,
        Vec::<String>::new()
    );
    assert_eq!(
        finished.load(Ordering::SeqCst),
        1,
        "the running run was not allowed to finish"
    );

    let mut scheduler = Scheduler::new();
    scheduler.apply(vec![long]);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        scheduler.shutdown(Duration::from_secs(5)).await,
        vec!["long".to_string()]
    );
    assert_eq!(
        finished.load(Ordering::SeqCst),
        1,
        "a run past the grace period was not abandoned"
    );
    assert!(origin.elapsed() < Duration::from_secs(60));
}

#[tokio::test(start_paused = true)]
async fn apply_starts_stops_and_restarts_only_what_changed() {
    let origin = Instant::now();
    let (a, b, c) = (Log::default(), Log::default(), Log::default());
    let running_b = Arc::new(AtomicUsize::new(0));
    let mut scheduler = Scheduler::new();
    scheduler.apply(vec![
        job(simple("a", 10, 0, 0), a.clone(), origin, Arc::default()),
        job(simple("b", 10, 0, 8), b.clone(), origin, running_b.clone()),
    ]);
    tokio::time::sleep(Duration::from_secs(25)).await;
    // At 25 s: `a` unchanged, `b` now every 20 s (it is mid-run: 20..28), `c` new.
    scheduler.apply(vec![
        job(simple("a", 10, 0, 0), a.clone(), origin, Arc::default()),
        job(simple("b", 20, 0, 8), b.clone(), origin, running_b.clone()),
        job(simple("c", 10, 0, 0), c.clone(), origin, Arc::default()),
    ]);
    assert_eq!(scheduler.job_names(), vec!["a", "b", "c"]);
    tokio::time::sleep(Duration::from_secs(40)).await;
    // At 65 s: `a` removed.
    scheduler.apply(vec![
        job(simple("b", 20, 0, 8), b.clone(), origin, running_b.clone()),
        job(simple("c", 10, 0, 0), c.clone(), origin, Arc::default()),
    ]);
    tokio::time::sleep(Duration::from_secs(30)).await;
    scheduler.shutdown(Duration::from_secs(10)).await;

    assert_eq!(
        a.times(),
        vec![0, 10, 20, 30, 40, 50, 60],
        "a was disturbed, or not stopped"
    );
    // b's run started at 20 finished at 28; the new b starts then (no overlap) and
    // keeps its new 20 s rhythm.
    assert_eq!(b.times(), vec![0, 10, 20, 28, 48, 68, 88]);
    // The tick at 95 s meets the shutdown; stopping wins.
    assert_eq!(c.times(), vec![25, 35, 45, 55, 65, 75, 85]);
}

// Real time here: the pool's threads are real, and a paused clock would leap ahead
// while the runtime waits for them. Each job runs once at once; completion, not time,
// ends the test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_jobs_never_run_more_plugin_calls_than_the_pool_has_workers() {
    let pool = WorkerPool::new(4);
    let busy = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel();
    let jobs = (0..50)
        .map(|i| {
            let (pool, busy, peak, done_tx) =
                (pool.clone(), busy.clone(), peak.clone(), done_tx.clone());
            Job {
                name: format!("job{i}"),
                interval: Duration::from_secs(3600),
                jitter: Duration::ZERO,
                retry_initial: Duration::from_secs(1),
                fingerprint: 0,
                run: Arc::new(move || {
                    let (pool, busy, peak, done_tx) =
                        (pool.clone(), busy.clone(), peak.clone(), done_tx.clone());
                    Box::pin(async move {
                        pool.run(move || {
                            let now = busy.fetch_add(1, Ordering::SeqCst) + 1;
                            peak.fetch_max(now, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(5));
                            busy.fetch_sub(1, Ordering::SeqCst);
                        })
                        .await
                        .unwrap();
                        done_tx.send(()).unwrap();
                        true
                    })
                }),
            }
        })
        .collect();
    let mut scheduler = Scheduler::new();
    scheduler.apply(jobs);
    for _ in 0..50 {
        done_rx.recv().await.unwrap();
    }
    assert!(scheduler.shutdown(Duration::from_secs(5)).await.is_empty());
    let peak = peak.load(Ordering::SeqCst);
    assert!(peak <= 4, "{peak} plugin calls ran at once on a pool of 4");
    assert!(peak >= 2, "the pool never ran calls in parallel");
}
