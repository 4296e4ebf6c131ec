//! Business time: the working hours of a calendar in its own time zone, less its holidays.
//!
//! SLA targets count only business seconds. Hours are local wall-clock times, so a day on
//! which the clocks move (Madrid's last Sundays of March and October) keeps its opening times
//! and has an hour more or less of real time.

use std::collections::BTreeSet;

use chrono::{Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Weekday};
use chrono_tz::Tz;

use crate::platform::time::time_zone;
use crate::{Violation, Violations};

text_enum! {
    /// A day of the week, as calendars name it.
    WeekdayName {
        Mon => "mon",
        Tue => "tue",
        Wed => "wed",
        Thu => "thu",
        Fri => "fri",
        Sat => "sat",
        Sun => "sun",
    }
}

impl WeekdayName {
    fn index(self) -> usize {
        match self {
            WeekdayName::Mon => 0,
            WeekdayName::Tue => 1,
            WeekdayName::Wed => 2,
            WeekdayName::Thu => 3,
            WeekdayName::Fri => 4,
            WeekdayName::Sat => 5,
            WeekdayName::Sun => 6,
        }
    }
}

/// One opening period as a client writes it: `{"weekday": "mon", "start": "09:00", "end": "17:00"}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpeningPeriod {
    pub weekday: WeekdayName,
    /// Local time, `HH:MM`.
    #[schema(example = "09:00")]
    pub start: String,
    /// Local time, `HH:MM`, after `start`; `24:00` for the end of the day.
    #[schema(example = "17:00")]
    pub end: String,
}

/// A day the calendar is closed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Holiday {
    pub date: NaiveDate,
    pub name: String,
}

/// A calendar checked and ready to count business time.
#[derive(Debug, Clone)]
pub struct BusinessCalendar {
    zone: Tz,
    /// Per weekday from Monday, periods as minutes of the local day, sorted and disjoint.
    periods: [Vec<(u32, u32)>; 7],
    holidays: BTreeSet<NaiveDate>,
}

/// How far counting looks ahead before it gives up on a calendar closed for good.
const HORIZON_DAYS: i64 = 366 * 5;

/// `HH:MM` as minutes of the day; `24:00` only as an end.
fn minutes(field: &str, text: &str, is_end: bool) -> Result<u32, Violation> {
    let wrong = || Violation::new(field, "must be a time as HH:MM, from 00:00 to 24:00");
    let (hours, mins) = text.split_once(':').ok_or_else(wrong)?;
    if hours.len() != 2 || mins.len() != 2 {
        return Err(wrong());
    }
    let hours: u32 = hours.parse().map_err(|_| wrong())?;
    let mins: u32 = mins.parse().map_err(|_| wrong())?;
    let total = hours * 60 + mins;
    if mins >= 60 || total > 24 * 60 || (total == 24 * 60 && !is_end) {
        return Err(wrong());
    }
    Ok(total)
}

impl BusinessCalendar {
    /// Checks a calendar: a known zone, periods that start before they end and do not overlap
    /// on one day, at least one period.
    pub fn new(
        time_zone_name: &str,
        hours: &[OpeningPeriod],
        holidays: impl IntoIterator<Item = NaiveDate>,
    ) -> Result<Self, Violations> {
        let mut violations = Violations::default();
        let zone = violations.check(time_zone("time_zone", time_zone_name));
        let mut periods: [Vec<(u32, u32, usize)>; 7] = Default::default();
        for (i, period) in hours.iter().enumerate() {
            let start =
                violations.check(minutes(&format!("hours[{i}].start"), &period.start, false));
            let end = violations.check(minutes(&format!("hours[{i}].end"), &period.end, true));
            if let (Some(start), Some(end)) = (start, end) {
                if start >= end {
                    violations.push(Violation::new(
                        format!("hours[{i}].end"),
                        "must be after start",
                    ));
                } else {
                    periods[period.weekday.index()].push((start, end, i));
                }
            }
        }
        if hours.is_empty() {
            violations.push(Violation::new("hours", "needs at least one opening period"));
        }
        for day in periods.iter_mut() {
            day.sort_unstable();
            for pair in day.windows(2) {
                if pair[1].0 < pair[0].1 {
                    violations.push(Violation::new(
                        format!("hours[{}]", pair[1].2),
                        "overlaps another period of the same day",
                    ));
                }
            }
        }
        violations.into_result()?;
        Ok(BusinessCalendar {
            zone: zone.unwrap_or(chrono_tz::UTC),
            periods: periods.map(|day| day.into_iter().map(|(s, e, _)| (s, e)).collect()),
            holidays: holidays.into_iter().collect(),
        })
    }

    /// Open every minute of every day in UTC: business time is real time.
    pub fn always_open() -> Self {
        BusinessCalendar {
            zone: chrono_tz::UTC,
            periods: std::array::from_fn(|_| vec![(0, 24 * 60)]),
            holidays: BTreeSet::new(),
        }
    }

    /// The UTC instant of a local wall-clock time. A time the clocks skip (spring forward)
    /// is the first instant after the gap; a time they repeat is its first occurrence.
    fn instant(&self, date: NaiveDate, minute_of_day: u32) -> NaiveDateTime {
        let local =
            date.and_time(chrono::NaiveTime::MIN) + Duration::minutes(i64::from(minute_of_day));
        let mut probe = local;
        for _ in 0..=180 {
            match self.zone.from_local_datetime(&probe) {
                LocalResult::Single(t) => return t.naive_utc(),
                LocalResult::Ambiguous(first, _) => return first.naive_utc(),
                LocalResult::None => probe += Duration::minutes(1),
            }
        }
        local
    }

    /// The open periods of a local date as UTC instants; none on a holiday.
    fn open_periods(&self, date: NaiveDate) -> Vec<(NaiveDateTime, NaiveDateTime)> {
        if self.holidays.contains(&date) {
            return Vec::new();
        }
        let weekday = date.weekday().num_days_from_monday() as usize;
        self.periods[weekday]
            .iter()
            .map(|&(start, end)| (self.instant(date, start), self.instant(date, end)))
            .filter(|(start, end)| start < end)
            .collect()
    }

    fn local_date(&self, at: NaiveDateTime) -> NaiveDate {
        self.zone.from_utc_datetime(&at).date_naive()
    }

    /// The instant at which `seconds` of business time have passed since `from`; `None` when
    /// the calendar does not open again within five years.
    pub fn add(&self, from: NaiveDateTime, seconds: i64) -> Option<NaiveDateTime> {
        let mut left = seconds.max(0);
        // A period of the previous local date never reaches into this one, so counting starts
        // on the local date of `from`.
        let first = self.local_date(from);
        for offset in 0..HORIZON_DAYS {
            let date = first + Duration::days(offset);
            for (start, end) in self.open_periods(date) {
                let begin = start.max(from);
                if end <= begin {
                    continue;
                }
                let available = (end - begin).num_seconds();
                if left <= available {
                    return Some(begin + Duration::seconds(left));
                }
                left -= available;
            }
        }
        None
    }

    /// Business seconds from `from` to `to`; negative when `to` is earlier.
    pub fn between(&self, from: NaiveDateTime, to: NaiveDateTime) -> i64 {
        if to < from {
            return -self.between(to, from);
        }
        let last = self.local_date(to);
        let mut date = self.local_date(from);
        let mut total = 0;
        while date <= last {
            for (start, end) in self.open_periods(date) {
                let begin = start.max(from);
                let finish = end.min(to);
                if finish > begin {
                    total += (finish - begin).num_seconds();
                }
            }
            date += Duration::days(1);
        }
        total
    }
}

/// The weekday of a chrono date, as calendars name it.
pub fn weekday_name(day: Weekday) -> WeekdayName {
    WeekdayName::ALL[day.num_days_from_monday() as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn office(days: &[WeekdayName], from: &str, to: &str) -> Vec<OpeningPeriod> {
        days.iter()
            .map(|&weekday| OpeningPeriod {
                weekday,
                start: from.to_owned(),
                end: to.to_owned(),
            })
            .collect()
    }

    const WEEKDAYS: &[WeekdayName] = &[
        WeekdayName::Mon,
        WeekdayName::Tue,
        WeekdayName::Wed,
        WeekdayName::Thu,
        WeekdayName::Fri,
    ];

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn madrid(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        chrono_tz::Europe::Madrid
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .unwrap()
            .naive_utc()
    }

    /// `seconds` of business time from `from` end at `to`, and from `from` to `to` are
    /// `seconds`.
    fn assert_span(
        calendar: &BusinessCalendar,
        from: NaiveDateTime,
        seconds: i64,
        to: NaiveDateTime,
    ) {
        assert_eq!(calendar.add(from, seconds), Some(to));
        assert_eq!(calendar.between(from, to), seconds);
    }

    #[test]
    fn a_holiday_and_the_night_are_skipped() {
        // Monday 2026-03-02 16:00; Tuesday is a holiday.
        let calendar = BusinessCalendar::new(
            "Europe/Madrid",
            &office(WEEKDAYS, "09:00", "17:00"),
            [date(2026, 3, 3)],
        )
        .unwrap();
        let opened = madrid(2026, 3, 2, 16, 0);
        assert_span(&calendar, opened, 2 * 3600, madrid(2026, 3, 4, 10, 0));
        assert_span(&calendar, opened, 8 * 3600, madrid(2026, 3, 4, 16, 0));
        assert_eq!(
            calendar.between(madrid(2026, 3, 4, 16, 0), opened),
            -8 * 3600
        );
    }

    #[test]
    fn the_weekend_is_skipped_and_outside_hours_counts_from_the_opening() {
        let calendar =
            BusinessCalendar::new("Europe/Madrid", &office(WEEKDAYS, "09:00", "17:00"), [])
                .unwrap();
        // Friday 2026-03-06 at 20:00: nothing counts until Monday 09:00.
        let friday_evening = madrid(2026, 3, 6, 20, 0);
        assert_span(&calendar, friday_evening, 3600, madrid(2026, 3, 9, 10, 0));
        assert_eq!(
            calendar.between(friday_evening, madrid(2026, 3, 9, 9, 0)),
            0
        );
        assert_eq!(
            calendar.add(friday_evening, 0),
            Some(madrid(2026, 3, 9, 9, 0))
        );
    }

    #[test]
    fn opening_hours_are_local_across_the_change_to_summer_time() {
        let calendar =
            BusinessCalendar::new("Europe/Madrid", &office(WEEKDAYS, "09:00", "17:00"), [])
                .unwrap();
        // Friday 2026-03-27 16:00 CET (15:00 UTC) plus 2 h: Monday 30 March 10:00 CEST (08:00 UTC).
        let due = calendar.add(madrid(2026, 3, 27, 16, 0), 2 * 3600).unwrap();
        assert_eq!(due, madrid(2026, 3, 30, 10, 0));
        assert_eq!(due.and_utc().to_rfc3339(), "2026-03-30T08:00:00+00:00");
        // And back in October: Friday 23 October 16:00 CEST plus 2 h is Monday 10:00 CET.
        let due = calendar.add(madrid(2026, 10, 23, 16, 0), 2 * 3600).unwrap();
        assert_eq!(due.and_utc().to_rfc3339(), "2026-10-26T09:00:00+00:00");
    }

    #[test]
    fn around_the_clock_business_time_is_real_time_even_on_a_23_hour_day() {
        let calendar = BusinessCalendar::new(
            "Europe/Madrid",
            &office(WeekdayName::ALL, "00:00", "24:00"),
            [],
        )
        .unwrap();
        // Saturday 28 March 12:00 CET plus 24 real hours: Sunday 13:00 CEST.
        let start = madrid(2026, 3, 28, 12, 0);
        assert_span(&calendar, start, 24 * 3600, madrid(2026, 3, 29, 13, 0));
        let utc = BusinessCalendar::always_open();
        assert_eq!(utc.add(start, 90), Some(start + Duration::seconds(90)));
    }

    #[test]
    fn a_lunch_break_splits_the_day() {
        let mut hours = office(WEEKDAYS, "09:00", "13:00");
        hours.extend(office(WEEKDAYS, "14:00", "18:00"));
        let calendar = BusinessCalendar::new("Europe/Lisbon", &hours, []).unwrap();
        let lisbon = |d, h, m| {
            chrono_tz::Europe::Lisbon
                .with_ymd_and_hms(2026, 5, d, h, m, 0)
                .unwrap()
                .naive_utc()
        };
        // Monday 4 May 12:30 plus 1 h: half an hour before lunch, half after.
        assert_span(&calendar, lisbon(4, 12, 30), 3600, lisbon(4, 14, 30));
        assert_span(&calendar, lisbon(4, 12, 0), 2 * 3600, lisbon(4, 15, 0));
    }

    #[test]
    fn bad_calendars_name_the_period() {
        let mut hours = office(&[WeekdayName::Mon], "09:00", "13:00");
        hours.push(OpeningPeriod {
            weekday: WeekdayName::Mon,
            start: "12:00".into(),
            end: "15:00".into(),
        });
        hours.push(OpeningPeriod {
            weekday: WeekdayName::Tue,
            start: "10:00".into(),
            end: "09:00".into(),
        });
        hours.push(OpeningPeriod {
            weekday: WeekdayName::Wed,
            start: "24:00".into(),
            end: "9".into(),
        });
        let refused = BusinessCalendar::new("Mars/Olympus", &hours, []).unwrap_err();
        assert_eq!(
            refused.fields(),
            [
                "time_zone",
                "hours[2].end",
                "hours[3].start",
                "hours[3].end",
                "hours[1]"
            ]
        );
        assert!(BusinessCalendar::new("UTC", &[], []).is_err());
    }

    #[test]
    fn a_calendar_closed_for_good_has_no_due_time() {
        let calendar = BusinessCalendar::new(
            "UTC",
            &office(&[WeekdayName::Mon], "09:00", "10:00"),
            (0..HORIZON_DAYS).map(|d| date(2026, 1, 1) + Duration::days(d)),
        )
        .unwrap();
        assert_eq!(calendar.add(madrid(2026, 1, 1, 0, 0), 60), None);
    }
}
