//! Rules for instants a client sends, and for the calendar day of an instant in a time zone.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, SubsecRound, Utc};
use chrono_tz::Tz;

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

/// Keeps calendar days from 1000-01-01 to 9999-12-30, so that the day after one (the end of a
/// period) is still an instant that `instant` keeps.
pub fn day(field: &str, value: NaiveDate) -> Result<NaiveDate, Violation> {
    let last = NaiveDate::from_ymd_opt(9999, 12, 30);
    if value.year() < 1000 || last.is_none_or(|last| value > last) {
        return Err(Violation::new(
            field,
            "must be between 1000-01-01 and 9999-12-30",
        ));
    }
    Ok(value)
}

/// The time zone our ledger dates in unless a setting says otherwise.
pub const DEFAULT_FISCAL_TIME_ZONE: &str = "Europe/Madrid";

/// An IANA time zone name, such as `Europe/Madrid`.
pub fn time_zone(field: &str, name: &str) -> Result<Tz, Violation> {
    name.parse::<Tz>()
        .map_err(|_| Violation::new(field, "must be an IANA time zone, such as Europe/Madrid"))
}

/// Every name `time_zone` accepts.
pub fn time_zone_names() -> Vec<&'static str> {
    chrono_tz::TZ_VARIANTS
        .iter()
        .map(|zone| zone.name())
        .collect()
}

/// The calendar day of the UTC instant `at` in `zone`: an invoice issued at 00:30 in Madrid on
/// 1 January is dated 1 January, and numbered in the new year, though it is still 31 December
/// in UTC.
pub fn local_date(at: NaiveDateTime, zone: Tz) -> NaiveDate {
    at.and_utc().with_timezone(&zone).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_fiscal_day_is_the_zones() {
        let madrid = time_zone("z", DEFAULT_FISCAL_TIME_ZONE).unwrap();
        let new_year_in_madrid = NaiveDate::from_ymd_opt(2026, 12, 31)
            .unwrap()
            .and_hms_opt(23, 30, 0)
            .unwrap();
        assert_eq!(
            local_date(new_year_in_madrid, madrid),
            NaiveDate::from_ymd_opt(2027, 1, 1).unwrap()
        );
        assert_eq!(
            local_date(new_year_in_madrid, chrono_tz::UTC),
            NaiveDate::from_ymd_opt(2026, 12, 31).unwrap()
        );
        assert!(time_zone("z", "Mars/Olympus").is_err());
    }

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
        assert!(day("to", NaiveDate::MAX).is_err());
        assert!(day("to", NaiveDate::from_ymd_opt(9999, 12, 31).unwrap()).is_err());
        assert!(day("to", NaiveDate::from_ymd_opt(9999, 12, 30).unwrap()).is_ok());
        assert!(day("from", NaiveDate::from_ymd_opt(999, 12, 31).unwrap()).is_err());
    }
}
