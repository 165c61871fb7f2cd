//! Pacing requests within Alpaca's rate limit: a token bucket shared by every concurrent
//! request (Alpaca's own limit behaves like one: 200 per minute on the free plan), tightened
//! by the `x-ratelimit-remaining`/`x-ratelimit-reset` headers Alpaca sends on successes.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::Mutex;

#[derive(Debug)]
pub struct Pacer {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    capacity: f64,
    refill_per_sec: f64,
    tokens: f64,
    refilled_at: Instant,
    /// Set when the server said the budget is spent: wait until then.
    paused_until: Option<Instant>,
}

/// The longest pause a reset header may impose; a wrong server clock must not stall us.
const MAX_HEADER_PAUSE: Duration = Duration::from_secs(60);

impl Pacer {
    /// A bucket allowing `per_minute` requests per minute, starting full.
    pub fn new(per_minute: u32) -> Self {
        let capacity = f64::from(per_minute.max(1));
        Self {
            state: Mutex::new(State {
                capacity,
                refill_per_sec: capacity / 60.0,
                tokens: capacity,
                refilled_at: Instant::now(),
                paused_until: None,
            }),
        }
    }

    /// Waits until a request may be sent. Returns how long it waited because of the
    /// server's headers (for reporting).
    pub async fn acquire(&self) -> Duration {
        let mut header_wait = Duration::ZERO;
        loop {
            let wait = {
                let mut s = self.state.lock().await;
                let now = Instant::now();
                if let Some(until) = s.paused_until.filter(|u| *u > now) {
                    let d = until - now;
                    header_wait += d;
                    d
                } else {
                    s.paused_until = None;
                    let elapsed = now.duration_since(s.refilled_at).as_secs_f64();
                    s.tokens = (s.tokens + elapsed * s.refill_per_sec).min(s.capacity);
                    s.refilled_at = now;
                    if s.tokens >= 1.0 {
                        s.tokens -= 1.0;
                        return header_wait;
                    }
                    Duration::from_secs_f64((1.0 - s.tokens) / s.refill_per_sec)
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// Takes Alpaca's rate-limit headers into account: when nothing remains, pause until
    /// the reset time (Unix seconds).
    pub async fn observe(&self, remaining: Option<u64>, reset_unix: Option<u64>) {
        if remaining != Some(0) {
            return;
        }
        let now_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let pause =
            Duration::from_secs(reset_unix.map_or(1, |r| r.saturating_sub(now_unix).max(1)))
                .min(MAX_HEADER_PAUSE);
        let mut s = self.state.lock().await;
        s.paused_until = Some(Instant::now() + pause);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bucket_allows_a_burst_then_paces() {
        let pacer = Pacer::new(600); // 10 per second
        let start = Instant::now();
        for _ in 0..600 {
            pacer.acquire().await;
        }
        assert!(
            start.elapsed() < Duration::from_millis(500),
            "the burst is immediate"
        );
        let before = Instant::now();
        pacer.acquire().await;
        pacer.acquire().await;
        assert!(
            before.elapsed() >= Duration::from_millis(150),
            "then about 100 ms per request"
        );
    }
}
