//! Satisfaction and complaint figures: averages, shares in basis points (half away from zero),
//! nearest-rank percentiles, and SLA compliance over settled targets.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;

use crate::billing::returns::RootCauseCategory;
use crate::service::cases::{CaseCategory, CaseChannel, CasePriority, CaseStatus};
use crate::service::sla::TargetState;
use crate::Violation;

/// A rating is a whole number of stars from 1 to 5.
pub fn check_rating(rating: i64) -> Result<i64, Violation> {
    if !(1..=5).contains(&rating) {
        return Err(Violation::new("rating", "must be from 1 to 5"));
    }
    Ok(rating)
}

/// `numerator / denominator` rounded half away from zero; `None` on a zero denominator.
fn ratio(numerator: i64, denominator: i64, scale: i64) -> Option<i64> {
    if denominator == 0 {
        return None;
    }
    let scaled = i128::from(numerator) * i128::from(scale);
    let d = i128::from(denominator);
    let q = scaled / d;
    let r = scaled % d;
    let rounded = if r.abs() * 2 >= d.abs() {
        q + scaled.signum() * d.signum()
    } else {
        q
    };
    i64::try_from(rounded).ok()
}

/// Ratings summed up: how many, their average as a decimal text (`"3.67"`), the share of 4s
/// and 5s, and how many of each.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CsatFigures {
    pub responses: i64,
    pub average_rating: Option<String>,
    pub csat_bp: Option<i64>,
    /// Counts of ratings 1 to 5.
    pub distribution: [i64; 5],
}

impl CsatFigures {
    pub fn add(&mut self, rating: i64) {
        if let Ok(rating) = check_rating(rating) {
            self.responses += 1;
            self.distribution[(rating - 1) as usize] += 1;
            let sum: i64 = self
                .distribution
                .iter()
                .enumerate()
                .map(|(i, n)| (i as i64 + 1) * n)
                .sum();
            self.average_rating = ratio(sum, self.responses, 100)
                .map(|hundredths| format!("{}.{:02}", hundredths / 100, hundredths % 100));
            self.csat_bp = ratio(
                self.distribution[3] + self.distribution[4],
                self.responses,
                10_000,
            );
        }
    }
}

/// The value at rank ⌈p·n⌉ of the sorted values (nearest rank); `None` when there are none.
pub fn nearest_rank(sorted: &[i64], percent: i64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len() as i64;
    let rank = (percent * n + 99) / 100;
    sorted.get((rank.clamp(1, n) - 1) as usize).copied()
}

/// One case as the complaint report reads it.
#[derive(Debug, Clone)]
pub struct ReportedCase {
    pub created_at: NaiveDateTime,
    pub month: String,
    pub status: CaseStatus,
    pub category: CaseCategory,
    pub priority: CasePriority,
    pub channel: CaseChannel,
    pub root_cause: Option<RootCauseCategory>,
    /// Whether it has an SLA at all.
    pub measured: bool,
    pub first_response: TargetState,
    pub resolution: TargetState,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MonthFigures {
    pub cases: i64,
    pub complaints: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CaseReport {
    pub cases: i64,
    pub complaints: i64,
    pub by_category: BTreeMap<String, i64>,
    pub by_priority: BTreeMap<String, i64>,
    pub by_channel: BTreeMap<String, i64>,
    pub by_root_cause: BTreeMap<String, i64>,
    pub resolved_count: i64,
    pub p50_seconds: Option<i64>,
    pub p90_seconds: Option<i64>,
    pub first_response_compliance_bp: Option<i64>,
    pub resolution_compliance_bp: Option<i64>,
    pub by_month: BTreeMap<String, MonthFigures>,
}

/// Whether a target counts for compliance at `now`, and whether it was met: missed when
/// breached, or outstanding past due while its clock runs; met when honoured without a breach;
/// otherwise not settled yet. The stored due instant is not compared with the time it was
/// honoured: it moves only when a paused clock resumes, so a case resolved while pending would
/// look late; and a target honoured late while its clock runs has its breach recorded then.
fn settled(target: &TargetState, clocks_run: bool, now: NaiveDateTime) -> Option<bool> {
    if target.breached_at.is_some() {
        return Some(false);
    }
    match (target.done_at, target.due_at) {
        (Some(_), _) => Some(true),
        (None, Some(due)) if clocks_run && due <= now => Some(false),
        _ => None,
    }
}

/// The complaint report over cases created in the period, as of `now`.
pub fn case_report(cases: &[ReportedCase], now: NaiveDateTime) -> CaseReport {
    let mut report = CaseReport::default();
    let mut times = Vec::new();
    let (mut first_met, mut first_settled, mut resolution_met, mut resolution_settled) =
        (0, 0, 0, 0);
    for case in cases {
        report.cases += 1;
        let complaint = case.category == CaseCategory::Complaint;
        *report
            .by_category
            .entry(case.category.as_str().to_owned())
            .or_default() += 1;
        *report
            .by_priority
            .entry(case.priority.as_str().to_owned())
            .or_default() += 1;
        *report
            .by_channel
            .entry(case.channel.as_str().to_owned())
            .or_default() += 1;
        let month = report.by_month.entry(case.month.clone()).or_default();
        month.cases += 1;
        if complaint {
            report.complaints += 1;
            month.complaints += 1;
            // As the returns report: `unknown` until a cause is set.
            let cause = case.root_cause.map_or("unknown", |c| c.as_str());
            *report.by_root_cause.entry(cause.to_owned()).or_default() += 1;
        }
        if matches!(case.status, CaseStatus::Resolved | CaseStatus::Closed) {
            if let Some(resolved) = case.resolution.done_at {
                times.push((resolved - case.created_at).num_seconds());
            }
        }
        if case.measured {
            if let Some(met) = settled(&case.first_response, case.status.clocks_run(), now) {
                first_settled += 1;
                first_met += i64::from(met);
            }
            if let Some(met) = settled(&case.resolution, case.status.clocks_run(), now) {
                resolution_settled += 1;
                resolution_met += i64::from(met);
            }
        }
    }
    times.sort_unstable();
    report.resolved_count = times.len() as i64;
    report.p50_seconds = nearest_rank(&times, 50);
    report.p90_seconds = nearest_rank(&times, 90);
    report.first_response_compliance_bp = ratio(first_met, first_settled, 10_000);
    report.resolution_compliance_bp = ratio(resolution_met, resolution_settled, 10_000);
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn ratings_average_to_two_decimals_half_away_from_zero() {
        let mut figures = CsatFigures::default();
        for rating in [5, 4, 2] {
            figures.add(rating);
        }
        assert_eq!(figures.responses, 3);
        assert_eq!(figures.average_rating.as_deref(), Some("3.67"));
        assert_eq!(figures.csat_bp, Some(6_667));
        assert_eq!(figures.distribution, [0, 1, 0, 1, 1]);
        assert_eq!(CsatFigures::default().average_rating, None);
        assert!(check_rating(0).is_err() && check_rating(6).is_err() && check_rating(3).is_ok());
    }

    #[test]
    fn nearest_rank_percentiles() {
        let values = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
        assert_eq!(nearest_rank(&values, 50), Some(50));
        assert_eq!(nearest_rank(&values, 90), Some(90));
        assert_eq!(nearest_rank(&[7], 90), Some(7));
        assert_eq!(nearest_rank(&[1, 2, 3], 50), Some(2));
        assert_eq!(nearest_rank(&[], 50), None);
    }

    fn at(day: u32, hour: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 3, day)
            .unwrap()
            .and_hms_opt(hour, 0, 0)
            .unwrap()
    }

    fn case(category: CaseCategory, status: CaseStatus, resolution: TargetState) -> ReportedCase {
        ReportedCase {
            created_at: at(2, 9),
            month: "2026-03".into(),
            status,
            category,
            priority: CasePriority::High,
            channel: CaseChannel::Email,
            root_cause: (category == CaseCategory::Complaint)
                .then_some(RootCauseCategory::Shipping),
            measured: true,
            first_response: TargetState {
                due_at: Some(at(2, 11)),
                done_at: Some(at(2, 10)),
                ..TargetState::default()
            },
            resolution,
        }
    }

    #[test]
    fn compliance_counts_settled_targets_only() {
        let due = Some(at(2, 17));
        let met = TargetState {
            due_at: due,
            done_at: Some(at(2, 12)),
            ..TargetState::default()
        };
        let missed = TargetState {
            due_at: due,
            breached_at: due,
            done_at: Some(at(3, 12)),
            ..TargetState::default()
        };
        let running = TargetState {
            due_at: Some(at(9, 17)),
            ..TargetState::default()
        };
        let outstanding_past_due = TargetState {
            due_at: Some(at(3, 17)),
            ..TargetState::default()
        };
        // Resolved on the 4th while pending, so after the due instant it had when it stopped:
        // its clock was not running, and no breach was recorded when it stopped.
        let resolved_while_paused = TargetState {
            due_at: Some(at(3, 17)),
            done_at: Some(at(4, 8)),
            ..TargetState::default()
        };
        let mut unrooted = case(
            CaseCategory::Complaint,
            CaseStatus::Open,
            outstanding_past_due,
        );
        unrooted.root_cause = None;
        let cases = [
            case(CaseCategory::Complaint, CaseStatus::Resolved, met),
            case(CaseCategory::Question, CaseStatus::Closed, missed),
            case(CaseCategory::Complaint, CaseStatus::Open, running),
            // Past its stored due instant, but paused: not settled, whatever that instant says.
            case(
                CaseCategory::Incident,
                CaseStatus::Pending,
                outstanding_past_due,
            ),
            unrooted,
            case(
                CaseCategory::Request,
                CaseStatus::Resolved,
                resolved_while_paused,
            ),
        ];
        let report = case_report(&cases, at(4, 9));
        assert_eq!((report.cases, report.complaints), (6, 3));
        assert_eq!(
            report.by_root_cause,
            BTreeMap::from([("shipping".to_owned(), 2), ("unknown".to_owned(), 1)])
        );
        assert_eq!(report.first_response_compliance_bp, Some(10_000));
        // Met: the first and the one resolved while paused; missed: the breached one and the
        // unrooted one outstanding past due. 2 / 4.
        assert_eq!(report.resolution_compliance_bp, Some(5_000));
        assert_eq!(report.resolved_count, 3);
        assert_eq!(report.p50_seconds, Some(27 * 3600));
        assert_eq!(report.p90_seconds, Some(47 * 3600));
        assert_eq!(
            report.by_month["2026-03"],
            MonthFigures {
                cases: 6,
                complaints: 3
            }
        );
    }
}
