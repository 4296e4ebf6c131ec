//! Limits counted per caller per calendar minute: the count starts again with the next minute.

use chrono::{NaiveDateTime, Timelike};

/// The counter of `caller`'s tries under `scope` in the minute of `at`.
pub fn minute_bucket(scope: &str, caller: &str, at: NaiveDateTime) -> String {
    format!("rate:{scope}:{caller}:{}", at.format("%Y%m%d%H%M"))
}

/// Whole seconds until the minute of `at` ends and its count starts again, at least 1.
pub fn seconds_to_next_minute(at: NaiveDateTime) -> u32 {
    60u32.saturating_sub(at.second()).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(second: u32, milli: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 12, 8)
            .and_then(|d| d.and_hms_milli_opt(9, 5, second, milli))
            .unwrap()
    }

    #[test]
    fn a_bucket_is_one_minute_of_one_caller() {
        assert_eq!(
            minute_bucket("csat", "203.0.113.7", at(59, 999)),
            "rate:csat:203.0.113.7:202612080905"
        );
        assert_eq!(
            minute_bucket("csat", "203.0.113.7", at(0, 0)),
            minute_bucket("csat", "203.0.113.7", at(59, 0))
        );
        assert_ne!(
            minute_bucket("intake", "a", at(0, 0)),
            minute_bucket("csat", "a", at(0, 0))
        );
    }

    #[test]
    fn the_wait_runs_to_the_next_minute_and_is_never_zero() {
        assert_eq!(seconds_to_next_minute(at(0, 0)), 60);
        assert_eq!(seconds_to_next_minute(at(30, 0)), 30);
        assert_eq!(seconds_to_next_minute(at(59, 999)), 1);
    }
}
