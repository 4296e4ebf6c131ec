//! Rate limits: a budget of requests per caller and fixed one-minute window, counted in this
//! process's memory. The window of a caller starts at its first request and lasts a minute;
//! then the next request starts a new one. With several API nodes each node counts on its own,
//! so a caller may make up to the budget times the number of nodes.
//!
//! `platform::middleware` decides who the caller is and what its budget is, asks here, and
//! writes the answer as the `RateLimit-*` headers.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long a window lasts.
pub const WINDOW: Duration = Duration::from_secs(60);

/// How many windows are kept before the ended ones are dropped.
const SWEEP_FROM: usize = 10_000;

/// Where one caller stands after a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Whether the request is within the budget, and so may run.
    pub allowed: bool,
    /// The budget of the window.
    pub limit: u64,
    /// What is left of it.
    pub remaining: u64,
    /// Whole seconds until the window ends, at least 1.
    pub reset_seconds: u64,
}

/// One caller's window: when it started and how many requests it let through.
#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    count: u64,
}

impl Window {
    fn new(now: Instant) -> Self {
        Window {
            started: now,
            count: 0,
        }
    }

    fn ended(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.started) >= WINDOW
    }

    /// Counts a request at `now` against `limit`, starting a new window when this one has
    /// ended. A request over the budget is not counted.
    fn hit(&mut self, limit: u64, now: Instant) -> Quota {
        if self.ended(now) {
            *self = Window::new(now);
        }
        let allowed = self.count < limit;
        if allowed {
            self.count += 1;
        }
        let left = WINDOW.saturating_sub(now.saturating_duration_since(self.started));
        let reset_seconds = left.as_secs() + u64::from(left.subsec_nanos() > 0);
        Quota {
            allowed,
            limit,
            remaining: limit.saturating_sub(self.count),
            reset_seconds: reset_seconds.max(1),
        }
    }
}

#[derive(Debug, Default)]
struct Windows {
    by_caller: HashMap<String, Window>,
    /// The size at which the ended windows are next dropped: twice what was left after the
    /// last sweep, so that sweeping stays cheap however many callers are active.
    sweep_at: usize,
}

/// Every caller's current window in this process. Windows that have ended are dropped as new
/// callers come, so the map holds at most about twice the callers of the last minute.
#[derive(Debug, Default)]
pub struct RateLimiter {
    windows: Mutex<Windows>,
}

impl RateLimiter {
    /// Counts one request of `caller` (such as `user:<id>`, `key:<id>` or `address:<ip>`) with
    /// a budget of `limit` requests a minute.
    pub fn hit(&self, caller: &str, limit: u64, now: Instant) -> Quota {
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(window) = windows.by_caller.get_mut(caller) {
            return window.hit(limit, now);
        }
        if windows.by_caller.len() >= windows.sweep_at.max(SWEEP_FROM) {
            windows.by_caller.retain(|_, window| !window.ended(now));
            let kept = windows.by_caller.len();
            windows.sweep_at = kept * 2;
        }
        let mut window = Window::new(now);
        let quota = window.hit(limit, now);
        windows.by_caller.insert(caller.to_owned(), window);
        quota
    }

    /// How many windows are kept.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.windows
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .by_caller
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(start: Instant, millis: u64) -> Instant {
        start + Duration::from_millis(millis)
    }

    #[test]
    fn a_budget_counts_down_and_refuses_beyond_it() {
        let limiter = RateLimiter::default();
        let start = Instant::now();
        let quotas: Vec<Quota> = (0..4)
            .map(|i| limiter.hit("key:a", 3, at(start, i * 100)))
            .collect();
        assert_eq!(
            quotas.iter().map(|q| q.allowed).collect::<Vec<_>>(),
            [true, true, true, false]
        );
        assert_eq!(
            quotas.iter().map(|q| q.remaining).collect::<Vec<_>>(),
            [2, 1, 0, 0]
        );
        assert!(quotas.iter().all(|q| q.limit == 3));
        assert_eq!(
            quotas[0].reset_seconds, 60,
            "a new window has a whole minute left"
        );
        assert_eq!(
            quotas[3].reset_seconds, 60,
            "59.7 seconds left round up to 60"
        );
    }

    #[test]
    fn the_window_ends_a_minute_after_its_first_request() {
        let limiter = RateLimiter::default();
        let start = Instant::now();
        limiter.hit("user:u", 1, start);
        let refused = limiter.hit("user:u", 1, at(start, 59_500));
        assert!(!refused.allowed);
        assert_eq!(refused.reset_seconds, 1, "never 0 while the window lasts");
        let later = limiter.hit("user:u", 1, at(start, 40_000));
        assert_eq!(later.reset_seconds, 20);
        let next = limiter.hit("user:u", 1, at(start, 60_000));
        assert!(next.allowed, "a new window starts");
        assert_eq!((next.remaining, next.reset_seconds), (0, 60));
    }

    #[test]
    fn callers_have_their_own_windows() {
        let limiter = RateLimiter::default();
        let start = Instant::now();
        assert!(limiter.hit("key:a", 1, start).allowed);
        assert!(!limiter.hit("key:a", 1, start).allowed);
        assert!(limiter.hit("key:b", 1, start).allowed);
        assert!(limiter.hit("address:127.0.0.1", 1, start).allowed);
    }

    #[test]
    fn ended_windows_are_dropped_as_new_callers_come() {
        let limiter = RateLimiter::default();
        let start = Instant::now();
        for i in 0..SWEEP_FROM {
            limiter.hit(&format!("address:{i}"), 10, start);
        }
        assert_eq!(limiter.len(), SWEEP_FROM);
        limiter.hit("address:new", 10, at(start, 61_000));
        assert_eq!(limiter.len(), 1, "only the new caller's window is current");
    }

    #[test]
    fn a_sweep_keeps_the_windows_that_last() {
        let limiter = RateLimiter::default();
        let start = Instant::now();
        for i in 0..=SWEEP_FROM {
            limiter.hit(&format!("address:{i}"), 10, start);
        }
        assert_eq!(limiter.len(), SWEEP_FROM + 1, "none has ended");
        let again = limiter.hit("address:0", 10, at(start, 1_000));
        assert_eq!(again.remaining, 8, "a kept window still counts");
    }
}
