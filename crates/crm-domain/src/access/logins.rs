//! Logins: how long an email stays locked out after repeated failures.

use chrono::{Duration, NaiveDateTime};

/// Seconds until an email may try to log in again, or `None` while its failures within the
/// window stay under `max_failures`. The lock lifts one window after the earliest failure
/// counted, and a locked caller always waits at least a second.
pub fn lockout(
    failures: i64,
    first_failure: Option<NaiveDateTime>,
    max_failures: i64,
    window: Duration,
    now: NaiveDateTime,
) -> Option<u64> {
    if failures < max_failures {
        return None;
    }
    let unlock = first_failure.map_or(now + window, |first| first + window);
    Some(u64::try_from((unlock - now).num_seconds().max(1)).unwrap_or(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: u32) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 1, 1)
            .unwrap()
            .and_hms_opt(10, minute, 0)
            .unwrap()
    }

    #[test]
    fn an_email_locks_at_the_limit_until_a_window_after_its_first_failure() {
        let window = Duration::minutes(15);
        assert_eq!(lockout(4, Some(at(0)), 5, window, at(5)), None);
        assert_eq!(lockout(5, Some(at(0)), 5, window, at(5)), Some(600));
        assert_eq!(lockout(5, Some(at(0)), 5, window, at(20)), Some(1));
    }
}
