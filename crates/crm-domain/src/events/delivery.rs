//! When a webhook delivery is tried again, and when an endpoint is given up on.

use std::time::Duration;

use chrono::NaiveDateTime;

text_enum! {
    /// Why an endpoint takes no events.
    DisabledReason {
        /// Its owner disabled it.
        ByUser => "by_user",
        /// The receiver answered `410 Gone`.
        ReceiverGone => "receiver_gone",
        /// Deliveries failed for longer than `CRM_WEBHOOK_DISABLE_AFTER_DAYS`.
        FailingTooLong => "failing_too_long",
    }
}

text_enum! {
    /// Where a delivery of one event to one endpoint stands.
    DeliveryStatus {
        Pending => "pending",
        Succeeded => "succeeded",
        Failed => "failed",
    }
}

/// Waits between attempts: after the first failed attempt the first wait, and so on; when the
/// list is spent the delivery has failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule(Vec<Duration>);

impl RetrySchedule {
    /// `5s,5m,30m,2h,5h,10h,10h`: each a whole number of seconds, minutes, hours or days.
    pub fn parse(text: &str) -> Result<Self, String> {
        let waits = text
            .split(',')
            .map(|part| {
                let part = part.trim();
                let split = part.len().saturating_sub(1);
                let (number, unit) = part.split_at(split);
                let seconds_per_unit = match unit {
                    "s" => 1,
                    "m" => 60,
                    "h" => 3_600,
                    "d" => 86_400,
                    _ => return Err(format!("`{part}` needs a unit: s, m, h or d")),
                };
                let count: u64 = number
                    .parse()
                    .map_err(|_| format!("`{part}` is not a whole number of {unit}"))?;
                count
                    .checked_mul(seconds_per_unit)
                    .map(Duration::from_secs)
                    .ok_or_else(|| format!("`{part}` is too long"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self(waits))
    }

    /// How long to wait after `failed_attempts` attempts have failed, or `None` when no attempt
    /// is left. `jitter_permille` (−200..=200, drawn by the caller) spreads retries by ±20% so
    /// that endpoints failing together do not come back together. A `Retry-After` the receiver
    /// sent is honoured up to the longest wait of the schedule.
    pub fn wait_after(
        &self,
        failed_attempts: usize,
        jitter_permille: i64,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        let base = *self.0.get(failed_attempts.checked_sub(1)?)?;
        let jitter = jitter_permille.clamp(-200, 200);
        let base_ms = i128::try_from(base.as_millis()).unwrap_or(i128::MAX / 2000);
        let jittered_ms = base_ms * (1_000 + i128::from(jitter)) / 1_000;
        let jittered = Duration::from_millis(u64::try_from(jittered_ms).unwrap_or(u64::MAX));
        let longest = self.0.iter().max().copied().unwrap_or_default();
        Some(match retry_after {
            Some(asked) => jittered.max(asked.min(longest)),
            None => jittered,
        })
    }

    pub fn attempts(&self) -> usize {
        self.0.len() + 1
    }
}

/// What a receiver's answer means for the delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    /// `410 Gone`: the receiver wants no more; the endpoint is disabled.
    Gone,
    /// Anything else, including redirects, timeouts and refused addresses.
    Failed,
}

pub fn outcome(status: Option<u16>) -> Outcome {
    match status {
        Some(200..=299) => Outcome::Succeeded,
        Some(410) => Outcome::Gone,
        _ => Outcome::Failed,
    }
}

/// `Retry-After` as delay-seconds; the HTTP-date form is read by the caller, which knows the time.
pub fn retry_after_seconds(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// Whether an endpoint that has failed since `failing_since` has failed long enough to be
/// disabled.
pub fn should_disable(
    failing_since: Option<NaiveDateTime>,
    now: NaiveDateTime,
    disable_after: chrono::Duration,
) -> bool {
    failing_since.is_some_and(|since| now - since >= disable_after)
}

/// The part of a receiver's answer kept with an attempt: at most `limit` bytes, cut at a
/// character boundary.
pub fn snippet(body: &[u8], limit: usize) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(limit)]).into_owned();
    let mut end = text.len().min(limit);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_schedule() -> RetrySchedule {
        RetrySchedule::parse("5s,5m,30m,2h,5h,10h,10h").unwrap()
    }

    #[test]
    fn the_default_schedule_allows_eight_attempts() {
        let schedule = default_schedule();
        assert_eq!(schedule.attempts(), 8);
        assert_eq!(
            schedule.wait_after(1, 0, None),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            schedule.wait_after(2, 0, None),
            Some(Duration::from_secs(300))
        );
        assert_eq!(
            schedule.wait_after(7, 0, None),
            Some(Duration::from_secs(36_000))
        );
        assert_eq!(schedule.wait_after(8, 0, None), None);
        assert_eq!(schedule.wait_after(0, 0, None), None);
    }

    #[test]
    fn jitter_spreads_by_at_most_a_fifth() {
        let schedule = default_schedule();
        assert_eq!(
            schedule.wait_after(1, 200, None),
            Some(Duration::from_secs(6))
        );
        assert_eq!(
            schedule.wait_after(1, -200, None),
            Some(Duration::from_secs(4))
        );
        assert_eq!(
            schedule.wait_after(1, 900, None),
            Some(Duration::from_secs(6))
        );
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_longest_wait() {
        let schedule = default_schedule();
        let asked = Some(Duration::from_secs(120));
        assert_eq!(
            schedule.wait_after(1, 0, asked),
            Some(Duration::from_secs(120))
        );
        let shorter = Some(Duration::from_secs(1));
        assert_eq!(
            schedule.wait_after(2, 0, shorter),
            Some(Duration::from_secs(300))
        );
        let huge = Some(Duration::from_secs(10_000_000));
        assert_eq!(
            schedule.wait_after(1, 0, huge),
            Some(Duration::from_secs(36_000))
        );
        assert_eq!(retry_after_seconds(" 30 "), Some(Duration::from_secs(30)));
        assert_eq!(retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }

    #[test]
    fn bad_schedules_are_refused() {
        assert!(RetrySchedule::parse("5s,,5m").is_err());
        assert!(RetrySchedule::parse("5").is_err());
        assert!(RetrySchedule::parse("5w").is_err());
        assert!(RetrySchedule::parse("-5s").is_err());
        assert_eq!(
            RetrySchedule::parse("1d").unwrap().wait_after(1, 0, None),
            Some(Duration::from_secs(86_400))
        );
    }

    #[test]
    fn only_2xx_succeeds_and_410_disables() {
        assert_eq!(outcome(Some(200)), Outcome::Succeeded);
        assert_eq!(outcome(Some(204)), Outcome::Succeeded);
        assert_eq!(outcome(Some(301)), Outcome::Failed);
        assert_eq!(outcome(Some(410)), Outcome::Gone);
        assert_eq!(outcome(Some(500)), Outcome::Failed);
        assert_eq!(outcome(None), Outcome::Failed);
    }

    #[test]
    fn endpoints_are_disabled_after_failing_long_enough() {
        let start = chrono::NaiveDate::from_ymd_opt(2026, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        let days = chrono::Duration::days(5);
        assert!(!should_disable(None, start, days));
        assert!(!should_disable(
            Some(start),
            start + chrono::Duration::days(4),
            days
        ));
        assert!(should_disable(Some(start), start + days, days));
    }

    #[test]
    fn snippets_are_cut_at_a_character() {
        assert_eq!(snippet("añb".as_bytes(), 2), "a");
        assert_eq!(snippet(b"hello", 1024), "hello");
    }
}
