//! The one retry policy of syncer: a bounded number of attempts, waiting a capped,
//! exponentially growing delay between them, for errors the caller says are transient.
//! Everything that retries (the MongoDB store, and later the cloud clients and the
//! scheduler's failure backoff) uses this, so "how long until we give up" has one answer.

use std::future::Future;
use std::time::Duration;

/// How to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, including the first (at least 1).
    pub attempts: u32,
    /// Wait before the second attempt.
    pub initial_delay: Duration,
    /// The longest wait between two attempts.
    pub max_delay: Duration,
}

impl RetryPolicy {
    /// The wait before attempt `n + 1`, after `n` failed attempts (n >= 1): the initial
    /// delay doubled each time, capped.
    pub fn delay_after(&self, failures: u32) -> Duration {
        let factor = 2u32.saturating_pow(failures.saturating_sub(1));
        self.initial_delay
            .saturating_mul(factor)
            .min(self.max_delay)
    }

    /// The longest time all waits of a give-up can add up to.
    pub fn total_delay(&self) -> Duration {
        (1..self.attempts.max(1)).map(|n| self.delay_after(n)).sum()
    }

    /// Runs `op` until it succeeds, fails with an error `is_transient` rejects, or the
    /// attempts run out; returns the last error then. `op` receives the attempt number
    /// (1-based), so an operation can tell a retry from a first try.
    pub async fn run<T, E, F, Fut>(
        &self,
        mut is_transient: impl FnMut(&E) -> bool,
        mut op: F,
    ) -> Result<T, E>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let attempts = self.attempts.max(1);
        let mut attempt = 1;
        loop {
            match op(attempt).await {
                Ok(value) => return Ok(value),
                Err(error) if attempt < attempts && is_transient(&error) => {
                    tokio::time::sleep(self.delay_after(attempt)).await;
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    const POLICY: RetryPolicy = RetryPolicy {
        attempts: 5,
        initial_delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(500),
    };

    #[test]
    fn delays_double_up_to_the_cap() {
        let delays: Vec<u128> = (1..=5).map(|n| POLICY.delay_after(n).as_millis()).collect();
        assert_eq!(delays, vec![100, 200, 400, 500, 500]);
        assert_eq!(POLICY.total_delay(), Duration::from_millis(1200));
    }

    #[tokio::test(start_paused = true)]
    async fn retries_transient_errors_until_success() {
        let calls = Cell::new(0);
        let started = tokio::time::Instant::now();
        let result: Result<u32, &str> = POLICY
            .run(
                |_| true,
                |attempt| {
                    calls.set(calls.get() + 1);
                    async move {
                        if attempt < 3 {
                            Err("down")
                        } else {
                            Ok(attempt)
                        }
                    }
                },
            )
            .await;
        assert_eq!(result, Ok(3));
        assert_eq!(calls.get(), 3);
        assert_eq!(started.elapsed(), Duration::from_millis(300));
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_the_attempts_and_at_once_on_permanent_errors() {
        let calls = Cell::new(0);
        let result: Result<(), &str> = POLICY
            .run(
                |_| true,
                |_| {
                    calls.set(calls.get() + 1);
                    async { Err("down") }
                },
            )
            .await;
        assert_eq!((result, calls.get()), (Err("down"), 5));

        calls.set(0);
        let result: Result<(), &str> = POLICY
            .run(
                |e: &&str| *e != "bad request",
                |_| {
                    calls.set(calls.get() + 1);
                    async { Err("bad request") }
                },
            )
            .await;
        assert_eq!((result, calls.get()), (Err("bad request"), 1));
    }
}
