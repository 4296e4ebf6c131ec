//! When the maintenance loop makes a task: visit plans, greetings and follow-ups. Each rule
//! takes `today` (the fiscal day of the service clock) and names every occurrence by a key, so
//! that repeated runs, and two nodes, make one task per occurrence.

use chrono::{Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use chrono_tz::Tz;

use crate::{Violation, Violations};

/// Generated tasks are due at this local time on their day.
pub const WORKDAY_START: NaiveTime = match NaiveTime::from_hms_opt(9, 0, 0) {
    Some(t) => t,
    None => NaiveTime::MIN,
};

/// The UTC instant of `time` on `day` in `zone`. A time skipped by a clock change takes the
/// instant just after the gap; a repeated one, its first.
pub fn local_instant(day: NaiveDate, time: NaiveTime, zone: Tz) -> NaiveDateTime {
    let local = day.and_time(time);
    zone.from_local_datetime(&local)
        .earliest()
        .or_else(|| {
            zone.from_local_datetime(&(local + chrono::Duration::hours(1)))
                .earliest()
        })
        .map_or(local, |at| at.naive_utc())
}

pub const MAX_EVERY_WEEKS: i32 = 520;
pub const MAX_LEAD_DAYS: i32 = 365;

/// A recurring visit: every `every_weeks` weeks from `next_visit_on`, prepared `lead_days`
/// ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VisitPlanSchedule {
    pub every_weeks: i32,
    pub next_visit_on: NaiveDate,
    pub lead_days: i32,
}

/// What a run does with a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VisitStep {
    /// The next visit is not yet within its lead time.
    Wait,
    /// Visits already past get no task; the plan moves to the first one from today.
    Skip { next_visit_on: NaiveDate },
    /// A task for the visit on `visit_on`; the plan moves a period on.
    Task {
        visit_on: NaiveDate,
        next_visit_on: NaiveDate,
    },
}

impl VisitPlanSchedule {
    pub fn validate(&self) -> Result<(), Violations> {
        let mut violations = Violations::default();
        if !(1..=MAX_EVERY_WEEKS).contains(&self.every_weeks) {
            violations.push(Violation::new(
                "every_weeks",
                format!("must be from 1 to {MAX_EVERY_WEEKS}"),
            ));
        }
        if !(1000..=9999).contains(&self.next_visit_on.year()) {
            violations.push(Violation::new(
                "next_visit_on",
                "must be between the years 1000 and 9999",
            ));
        }
        if !(0..=MAX_LEAD_DAYS).contains(&self.lead_days) {
            violations.push(Violation::new(
                "lead_days",
                format!("must be from 0 to {MAX_LEAD_DAYS}"),
            ));
        }
        violations.into_result()
    }

    fn period(&self) -> Days {
        Days::new(u64::try_from(self.every_weeks.max(1)).unwrap_or(1) * 7)
    }

    /// The one step a run takes now; the store repeats it until `Wait`, each step a
    /// compare-and-set on `next_visit_on`.
    pub fn step(&self, today: NaiveDate) -> VisitStep {
        let mut next = self.next_visit_on;
        while next < today {
            match next.checked_add_days(self.period()) {
                Some(later) => next = later,
                None => return VisitStep::Wait,
            }
        }
        if next != self.next_visit_on {
            return VisitStep::Skip {
                next_visit_on: next,
            };
        }
        let lead = Days::new(u64::try_from(self.lead_days.max(0)).unwrap_or(0));
        let prepare_from = next.checked_sub_days(lead).unwrap_or(NaiveDate::MIN);
        match next.checked_add_days(self.period()) {
            Some(after) if prepare_from <= today => VisitStep::Task {
                visit_on: next,
                next_visit_on: after,
            },
            _ => VisitStep::Wait,
        }
    }
}

/// A greeting's occasion: each contact's birthday, or a fixed day of the year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Occasion {
    Birthday,
    /// Month and day, as `--MM-DD` (ISO 8601 without a year).
    Fixed {
        month: u32,
        day: u32,
    },
}

impl Occasion {
    pub fn parse(field: &str, text: &str) -> Result<Self, Violation> {
        let text = text.trim();
        if text == "birthday" {
            return Ok(Occasion::Birthday);
        }
        let refused = || {
            Violation::new(
                field,
                "must be `birthday` or a day of the year as `--MM-DD`, such as `--12-24`",
            )
        };
        let rest = text.strip_prefix("--").ok_or_else(refused)?;
        let (month, day) = rest.split_once('-').ok_or_else(refused)?;
        if month.len() != 2 || day.len() != 2 {
            return Err(refused());
        }
        let month: u32 = month.parse().map_err(|_| refused())?;
        let day: u32 = day.parse().map_err(|_| refused())?;
        // 2024 is a leap year, so 29 February is a day of the year.
        NaiveDate::from_ymd_opt(2024, month, day).ok_or_else(refused)?;
        Ok(Occasion::Fixed { month, day })
    }

    pub fn to_text(self) -> String {
        match self {
            Occasion::Birthday => "birthday".to_owned(),
            Occasion::Fixed { month, day } => format!("--{month:02}-{day:02}"),
        }
    }
}

/// The day of `month`/`day` in `year`; 29 February falls on the 28th in common years.
fn anniversary(year: i32, month: u32, day: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year, month, day).or_else(|| {
        (month == 2 && day == 29)
            .then(|| NaiveDate::from_ymd_opt(year, 2, 28))
            .flatten()
    })
}

pub const MAX_DAYS_BEFORE: i32 = 60;

/// The greeting due by `today`, if any: the first occurrence on or after `today` whose
/// `days_before` have begun. Its year names the occurrence, so a contact gets one greeting per
/// rule and year. `birthday` is the contact's, for `Occasion::Birthday`.
pub fn greeting_due(
    occasion: Occasion,
    birthday: Option<NaiveDate>,
    days_before: i32,
    today: NaiveDate,
) -> Option<NaiveDate> {
    let (month, day) = match occasion {
        Occasion::Birthday => {
            let born = birthday?;
            (born.month(), born.day())
        }
        Occasion::Fixed { month, day } => (month, day),
    };
    let this_year = anniversary(today.year(), month, day)?;
    let occurs = if this_year >= today {
        this_year
    } else {
        anniversary(today.year() + 1, month, day)?
    };
    let lead = Days::new(u64::try_from(days_before.max(0)).unwrap_or(0));
    (occurs.checked_sub_days(lead)? <= today).then_some(occurs)
}

/// Whether a contact's BCP 47 `locale` is one a rule names: `es` takes `es-ES` and `es-MX`;
/// case is ignored. A rule naming none takes everyone.
pub fn locale_matches(rule_locales: &[String], locale: Option<&str>) -> bool {
    if rule_locales.is_empty() {
        return true;
    }
    let Some(locale) = locale else {
        return false;
    };
    let locale = locale.to_ascii_lowercase();
    rule_locales.iter().any(|wanted| {
        let wanted = wanted.to_ascii_lowercase();
        locale == wanted
            || locale
                .strip_prefix(&wanted)
                .is_some_and(|rest| rest.starts_with('-'))
    })
}

text_enum! {
    /// What starts a follow-up's wait.
    FollowUpTrigger {
        /// A quote sent and still unanswered.
        QuoteSent => "quote_sent",
        ReturnResolved => "return_resolved",
        CaseResolved => "case_resolved",
    }
}

pub const MAX_AFTER_DAYS: i32 = 365;

/// The instant before which a trigger must have happened for its follow-up to be due now.
pub fn follow_up_cutoff(after_days: i32, now: NaiveDateTime) -> NaiveDateTime {
    now - chrono::Duration::days(i64::from(after_days.max(0)))
}

/// The unique key of a generated task: its rule, its subject and its occurrence.
pub fn occurrence_key(rule: &str, subject: &str, occurrence: &str) -> String {
    format!("{rule}:{subject}:{occurrence}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn fortnightly(next: NaiveDate) -> VisitPlanSchedule {
        VisitPlanSchedule {
            every_weeks: 2,
            next_visit_on: next,
            lead_days: 3,
        }
    }

    #[test]
    fn a_visit_gets_its_task_once_its_lead_days_begin() {
        let plan = fortnightly(day(2027, 1, 15));
        assert_eq!(plan.step(day(2027, 1, 11)), VisitStep::Wait);
        assert_eq!(
            plan.step(day(2027, 1, 12)),
            VisitStep::Task {
                visit_on: day(2027, 1, 15),
                next_visit_on: day(2027, 1, 29)
            }
        );
        assert_eq!(
            plan.step(day(2027, 1, 15)),
            VisitStep::Task {
                visit_on: day(2027, 1, 15),
                next_visit_on: day(2027, 1, 29)
            }
        );
    }

    #[test]
    fn visits_already_past_are_skipped_without_a_task() {
        let plan = fortnightly(day(2027, 1, 1));
        assert_eq!(
            plan.step(day(2027, 1, 20)),
            VisitStep::Skip {
                next_visit_on: day(2027, 1, 29)
            }
        );
        let moved = VisitPlanSchedule {
            next_visit_on: day(2027, 1, 29),
            ..plan
        };
        assert_eq!(moved.step(day(2027, 1, 20)), VisitStep::Wait);
        assert_eq!(
            moved.step(day(2027, 1, 26)),
            VisitStep::Task {
                visit_on: day(2027, 1, 29),
                next_visit_on: day(2027, 2, 12)
            }
        );
    }

    #[test]
    fn tasks_are_due_at_nine_in_the_fiscal_zone() {
        let madrid = chrono_tz::Europe::Madrid;
        assert_eq!(
            local_instant(day(2027, 1, 15), WORKDAY_START, madrid),
            day(2027, 1, 15).and_hms_opt(8, 0, 0).unwrap()
        );
        assert_eq!(
            local_instant(day(2027, 7, 15), WORKDAY_START, madrid),
            day(2027, 7, 15).and_hms_opt(7, 0, 0).unwrap()
        );
        let gap = NaiveTime::from_hms_opt(2, 30, 0).unwrap();
        assert_eq!(
            local_instant(day(2027, 3, 28), gap, madrid),
            day(2027, 3, 28).and_hms_opt(1, 30, 0).unwrap()
        );
    }

    #[test]
    fn occasions_are_birthday_or_a_day_of_the_year() {
        assert_eq!(
            Occasion::parse("o", "birthday").unwrap(),
            Occasion::Birthday
        );
        assert_eq!(
            Occasion::parse("o", "--02-29").unwrap(),
            Occasion::Fixed { month: 2, day: 29 }
        );
        assert_eq!(
            Occasion::parse("o", "--12-24").unwrap().to_text(),
            "--12-24"
        );
        for bad in ["--13-01", "--02-30", "12-24", "--1-24", "xmas", "--12-24-1"] {
            assert!(Occasion::parse("o", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_greeting_is_due_from_its_days_before_to_its_day() {
        let born = Some(day(1980, 3, 10));
        assert_eq!(
            greeting_due(Occasion::Birthday, born, 2, day(2027, 3, 7)),
            None
        );
        assert_eq!(
            greeting_due(Occasion::Birthday, born, 2, day(2027, 3, 8)),
            Some(day(2027, 3, 10))
        );
        assert_eq!(
            greeting_due(Occasion::Birthday, born, 2, day(2027, 3, 10)),
            Some(day(2027, 3, 10))
        );
        assert_eq!(
            greeting_due(Occasion::Birthday, born, 2, day(2027, 3, 11)),
            None
        );
        assert_eq!(
            greeting_due(Occasion::Birthday, None, 2, day(2027, 3, 9)),
            None
        );
        let new_year = Occasion::Fixed { month: 1, day: 1 };
        assert_eq!(
            greeting_due(new_year, None, 5, day(2027, 12, 28)),
            Some(day(2028, 1, 1))
        );
    }

    #[test]
    fn a_leap_day_birthday_is_greeted_on_the_28th_in_common_years() {
        let born = Some(day(2000, 2, 29));
        assert_eq!(
            greeting_due(Occasion::Birthday, born, 0, day(2027, 2, 28)),
            Some(day(2027, 2, 28))
        );
        assert_eq!(
            greeting_due(Occasion::Birthday, born, 0, day(2028, 2, 29)),
            Some(day(2028, 2, 29))
        );
    }

    #[test]
    fn locales_match_by_language_prefix() {
        let es = vec!["es".to_owned()];
        assert!(locale_matches(&es, Some("es-ES")));
        assert!(locale_matches(&es, Some("ES")));
        assert!(!locale_matches(&es, Some("est")));
        assert!(!locale_matches(&es, None));
        assert!(locale_matches(&[], None));
    }

    #[test]
    fn a_follow_up_waits_its_days() {
        let now = day(2027, 1, 10).and_hms_opt(12, 0, 0).unwrap();
        assert_eq!(
            follow_up_cutoff(7, now),
            day(2027, 1, 3).and_hms_opt(12, 0, 0).unwrap()
        );
    }
}
