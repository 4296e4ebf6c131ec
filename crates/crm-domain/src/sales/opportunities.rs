//! Opportunities: stages, probabilities, and the sales forecast.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::platform::money::{add_minor, BP_SCALE};
use crate::Violation;

text_enum! {
    /// Whether a stage is still open, or closes the opportunity as won or lost.
    StageOutcome {
        Open => "open",
        Won => "won",
        Lost => "lost",
    }
}

text_enum! {
    ForecastGrouping {
        Month => "month",
        Owner => "owner",
        Pipeline => "pipeline",
    }
}

/// The probability an opportunity counts with: won is certain, lost is nothing, and an open
/// one uses its own override or else its stage's default.
pub fn effective_probability(
    outcome: StageOutcome,
    override_bp: Option<i64>,
    stage_bp: i64,
) -> i64 {
    match outcome {
        StageOutcome::Won => BP_SCALE,
        StageOutcome::Lost => 0,
        StageOutcome::Open => override_bp.unwrap_or(stage_bp),
    }
}

/// Moving to a lost stage needs a reason.
pub fn check_loss_reason(
    outcome: StageOutcome,
    loss_reason: Option<&str>,
) -> Result<(), Violation> {
    if outcome == StageOutcome::Lost && loss_reason.is_none_or(|r| r.trim().is_empty()) {
        return Err(Violation::new(
            "loss_reason",
            "is required when the opportunity is lost",
        ));
    }
    Ok(())
}

/// One opportunity as the forecast sees it, already in the base currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForecastItem {
    pub outcome: StageOutcome,
    pub amount_minor: i64,
    pub probability_bp: i64,
    pub expected_close: NaiveDate,
    /// When it was won or lost.
    pub closed_on: Option<NaiveDate>,
    pub created_on: NaiveDate,
    pub owner_id: Option<String>,
    pub pipeline_id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ForecastFigures {
    /// Open opportunities expected to close in the period.
    pub open_minor: i64,
    /// Each open amount × its probability, rounded half away from zero, summed.
    pub weighted_minor: i64,
    /// Open + won: everything not lost.
    pub best_case_minor: i64,
    /// Won (closed) in the period.
    pub won_minor: i64,
    pub open_count: i64,
    pub won_count: i64,
    pub lost_count: i64,
}

/// Win rate and sales cycle of one owner in the period.
#[derive(Debug, Clone, PartialEq)]
pub struct OwnerStats {
    /// won / (won + lost), in basis points; none without closed opportunities.
    pub win_rate_bp: Option<i64>,
    /// Mean days from creation to won, to one decimal; none without wins.
    pub average_sales_cycle_days: Option<f64>,
}

fn weighted(amount: i64, probability_bp: i64) -> i64 {
    let numerator = i128::from(amount) * i128::from(probability_bp);
    let denominator = i128::from(BP_SCALE);
    let q = numerator / denominator;
    let r = numerator % denominator;
    let rounded = if r.abs() * 2 >= denominator {
        q + numerator.signum()
    } else {
        q
    };
    i64::try_from(rounded).unwrap_or(i64::MAX)
}

fn month_key(date: NaiveDate) -> String {
    date.format("%Y-%m").to_string()
}

/// Which group an item's figure lands in: for months, the month of its expected close (open)
/// or of its closing (won, lost).
fn group_key(item: &ForecastItem, grouping: ForecastGrouping, date: NaiveDate) -> String {
    match grouping {
        ForecastGrouping::Month => month_key(date),
        ForecastGrouping::Owner => item
            .owner_id
            .clone()
            .unwrap_or_else(|| "unassigned".to_owned()),
        ForecastGrouping::Pipeline => item.pipeline_id.clone(),
    }
}

/// Aggregates items over the days `from..=to`: open ones by expected close date, won and lost
/// ones by closing date. Returns the figures per group and in total, or a violation when a sum
/// overflows.
pub fn forecast(
    items: &[ForecastItem],
    from: NaiveDate,
    to: NaiveDate,
    grouping: ForecastGrouping,
) -> Result<(BTreeMap<String, ForecastFigures>, ForecastFigures), Violation> {
    let mut groups: BTreeMap<String, ForecastFigures> = BTreeMap::new();
    let mut total = ForecastFigures::default();
    for item in items {
        let date = match item.outcome {
            StageOutcome::Open => Some(item.expected_close),
            StageOutcome::Won | StageOutcome::Lost => item.closed_on,
        };
        let Some(date) = date.filter(|d| *d >= from && *d <= to) else {
            continue;
        };
        let key = group_key(item, grouping, date);
        for figures in [groups.entry(key).or_default(), &mut total] {
            match item.outcome {
                StageOutcome::Open => {
                    figures.open_minor = add_minor("open", figures.open_minor, item.amount_minor)?;
                    figures.weighted_minor = add_minor(
                        "weighted",
                        figures.weighted_minor,
                        weighted(item.amount_minor, item.probability_bp),
                    )?;
                    figures.best_case_minor =
                        add_minor("best_case", figures.best_case_minor, item.amount_minor)?;
                    figures.open_count += 1;
                }
                StageOutcome::Won => {
                    figures.won_minor = add_minor("won", figures.won_minor, item.amount_minor)?;
                    figures.best_case_minor =
                        add_minor("best_case", figures.best_case_minor, item.amount_minor)?;
                    figures.won_count += 1;
                }
                StageOutcome::Lost => figures.lost_count += 1,
            }
        }
    }
    Ok((groups, total))
}

/// Win rate and average sales cycle per owner, over opportunities closed in `from..=to`.
pub fn owner_stats(
    items: &[ForecastItem],
    from: NaiveDate,
    to: NaiveDate,
) -> BTreeMap<String, OwnerStats> {
    let mut tallies: BTreeMap<String, (i64, i64, i64)> = BTreeMap::new();
    for item in items {
        let Some(closed) = item.closed_on.filter(|d| *d >= from && *d <= to) else {
            continue;
        };
        let owner = item
            .owner_id
            .clone()
            .unwrap_or_else(|| "unassigned".to_owned());
        let tally = tallies.entry(owner).or_default();
        match item.outcome {
            StageOutcome::Won => {
                tally.0 += 1;
                tally.2 += (closed - item.created_on).num_days();
            }
            StageOutcome::Lost => tally.1 += 1,
            StageOutcome::Open => {}
        }
    }
    tallies
        .into_iter()
        .map(|(owner, (won, lost, days))| {
            let closed = won + lost;
            let stats = OwnerStats {
                win_rate_bp: (closed > 0).then(|| won * BP_SCALE / closed),
                average_sales_cycle_days: (won > 0)
                    .then(|| ((days as f64 / won as f64) * 10.0).round() / 10.0),
            };
            (owner, stats)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn item(
        outcome: StageOutcome,
        amount: i64,
        p: i64,
        close: &str,
        closed: Option<&str>,
        owner: &str,
    ) -> ForecastItem {
        ForecastItem {
            outcome,
            amount_minor: amount,
            probability_bp: p,
            expected_close: d(close),
            closed_on: closed.map(d),
            created_on: d("2026-01-01"),
            owner_id: Some(owner.to_owned()),
            pipeline_id: "p".into(),
        }
    }

    #[test]
    fn probabilities_follow_the_outcome() {
        assert_eq!(effective_probability(StageOutcome::Open, None, 2000), 2000);
        assert_eq!(
            effective_probability(StageOutcome::Open, Some(3500), 2000),
            3500
        );
        assert_eq!(
            effective_probability(StageOutcome::Won, Some(3500), 2000),
            10000
        );
        assert_eq!(
            effective_probability(StageOutcome::Lost, Some(3500), 2000),
            0
        );
    }

    #[test]
    fn lost_needs_a_reason() {
        assert!(check_loss_reason(StageOutcome::Lost, None).is_err());
        assert!(check_loss_reason(StageOutcome::Lost, Some("  ")).is_err());
        assert!(check_loss_reason(StageOutcome::Lost, Some("price")).is_ok());
        assert!(check_loss_reason(StageOutcome::Open, None).is_ok());
    }

    #[test]
    fn forecast_by_month() {
        let items = [
            item(StageOutcome::Open, 10_000, 2500, "2026-03-15", None, "a"),
            item(StageOutcome::Open, 333, 5000, "2026-03-20", None, "b"),
            item(StageOutcome::Open, 7_000, 7500, "2026-04-01", None, "a"),
            item(
                StageOutcome::Won,
                5_000,
                10000,
                "2026-02-01",
                Some("2026-03-10"),
                "a",
            ),
            item(
                StageOutcome::Lost,
                9_999,
                0,
                "2026-03-01",
                Some("2026-04-02"),
                "b",
            ),
            item(StageOutcome::Open, 1_000_000, 9000, "2026-06-01", None, "a"),
        ];
        let (groups, total) = forecast(
            &items,
            d("2026-03-01"),
            d("2026-04-30"),
            ForecastGrouping::Month,
        )
        .unwrap();
        let march = &groups["2026-03"];
        assert_eq!(
            (
                march.open_minor,
                march.weighted_minor,
                march.won_minor,
                march.best_case_minor
            ),
            (10_333, 2_500 + 167, 5_000, 15_333)
        );
        let april = &groups["2026-04"];
        assert_eq!(
            (april.open_minor, april.weighted_minor, april.lost_count),
            (7_000, 5_250, 1)
        );
        assert_eq!(
            (total.open_count, total.won_count, total.lost_count),
            (3, 1, 1)
        );
        assert!(!groups.contains_key("2026-06"), "outside the period");
    }

    #[test]
    fn owner_stats_count_closed_opportunities() {
        let items = [
            item(
                StageOutcome::Won,
                1,
                0,
                "2026-03-01",
                Some("2026-03-11"),
                "a",
            ),
            item(
                StageOutcome::Won,
                1,
                0,
                "2026-03-01",
                Some("2026-03-12"),
                "a",
            ),
            item(
                StageOutcome::Lost,
                1,
                0,
                "2026-03-01",
                Some("2026-03-12"),
                "a",
            ),
            item(StageOutcome::Open, 1, 0, "2026-03-01", None, "b"),
        ];
        let stats = owner_stats(&items, d("2026-03-01"), d("2026-03-31"));
        assert_eq!(stats["a"].win_rate_bp, Some(6666));
        assert_eq!(
            stats["a"].average_sales_cycle_days,
            Some(69.5),
            "(69 + 70) / 2"
        );
        assert!(!stats.contains_key("b"));
    }
}
