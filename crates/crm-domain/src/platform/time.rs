//! Rules for instants a client sends.

use chrono::{DateTime, Datelike, NaiveDateTime, SubsecRound, Utc};

use crate::Violation;

/// Keeps instants within years 1000 to 9999, which every backend stores faithfully, and drops
/// precision below a microsecond, which PostgreSQL would drop anyway.
pub fn instant(field: &str, value: DateTime<Utc>) -> Result<NaiveDateTime, Violation> {
    if !(1000..=9999).contains(&value.year()) {
        return Err(Violation::new(
            field,
            "must be between the years 1000 and 9999",
        ));
    }
    Ok(value.naive_utc().trunc_subsecs(6))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn truncates_to_microseconds() {
        let t = Utc.timestamp_opt(1_700_000_000, 123_456_789).unwrap();
        assert_eq!(
            instant("at", t).unwrap().and_utc().timestamp_subsec_nanos(),
            123_456_000
        );
    }

    #[test]
    fn rejects_far_years() {
        let t = Utc.with_ymd_and_hms(20000, 1, 1, 0, 0, 0).unwrap();
        assert!(instant("at", t).is_err());
    }
}
