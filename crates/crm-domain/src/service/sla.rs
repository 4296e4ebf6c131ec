//! Service levels: which rule applies to a case, when its targets fall due, and how it stands.
//!
//! A target is counted in business time from the case's creation, plus the business time the
//! case spent paused (pending, or resolved before a reopen): `due = add(created, target +
//! paused)`. Pausing therefore moves the due instant by exactly the business time spent
//! paused, and a priority change recomputes it from the same two figures.

use chrono::NaiveDateTime;

use crate::parties::companies::Tier;
use crate::service::calendar::BusinessCalendar;
use crate::service::cases::{CaseCategory, CasePriority};
use crate::{Violation, Violations};

text_enum! {
    SlaStatus {
        OnTrack => "on_track",
        AtRisk => "at_risk",
        Breached => "breached",
        Met => "met",
    }
}

text_enum! {
    /// The two promises a policy makes.
    SlaTarget {
        FirstResponse => "first_response",
        Resolution => "resolution",
    }
}

/// The share of a target after which a case is at risk, unless settings say otherwise.
pub const DEFAULT_AT_RISK_FROM_BP: i64 = 7_500;

/// The targets for cases of one priority, and optionally one tier of company.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlaRule {
    pub priority: CasePriority,
    /// The company's tier this rule is for; absent or null for any.
    #[serde(default)]
    pub tier: Option<Tier>,
    /// Business minutes to the first public reply.
    pub first_response_minutes: i64,
    /// Business minutes to the resolution.
    pub resolution_minutes: i64,
    /// The priority a case takes when it breaches.
    #[serde(default)]
    pub breach_priority: Option<CasePriority>,
}

/// Rules are positive durations, at most one per (priority, tier).
pub fn check_rules(rules: &[SlaRule]) -> Result<(), Violations> {
    let mut violations = Violations::default();
    if rules.is_empty() {
        violations.push(Violation::new("rules", "needs at least one rule"));
    }
    const YEAR_MINUTES: i64 = 366 * 24 * 60;
    for (i, rule) in rules.iter().enumerate() {
        for (name, minutes) in [
            ("first_response_minutes", rule.first_response_minutes),
            ("resolution_minutes", rule.resolution_minutes),
        ] {
            if !(1..=YEAR_MINUTES).contains(&minutes) {
                violations.push(Violation::new(
                    format!("rules[{i}].{name}"),
                    format!("must be from 1 to {YEAR_MINUTES}"),
                ));
            }
        }
        if let Some(earlier) = rules[..i]
            .iter()
            .position(|r| r.priority == rule.priority && r.tier == rule.tier)
        {
            violations.push(Violation::new(
                format!("rules[{i}]"),
                format!(
                    "repeats rules[{earlier}]: one rule per priority ({}) and tier ({})",
                    rule.priority,
                    rule.tier.map_or("any", |t| t.as_str())
                ),
            ));
        }
    }
    violations.into_result()
}

/// A policy as the choice sees it, in position order.
#[derive(Debug, Clone)]
pub struct PolicyView<'a> {
    pub active: bool,
    /// Empty: every category.
    pub categories: &'a [CaseCategory],
    pub rules: &'a [SlaRule],
}

/// The rule of the first active policy covering `category`: its rule for (priority, tier),
/// else for (priority, any tier). `None` when that policy has neither: the case has no SLA.
pub fn choose<'a>(
    policies: &[PolicyView<'a>],
    category: CaseCategory,
    priority: CasePriority,
    tier: Option<Tier>,
) -> Option<(usize, &'a SlaRule)> {
    let (index, policy) = policies
        .iter()
        .enumerate()
        .find(|(_, p)| p.active && (p.categories.is_empty() || p.categories.contains(&category)))?;
    let exact = tier.and_then(|tier| {
        policy
            .rules
            .iter()
            .find(|r| r.priority == priority && r.tier == Some(tier))
    });
    exact
        .or_else(|| {
            policy
                .rules
                .iter()
                .find(|r| r.priority == priority && r.tier.is_none())
        })
        .map(|rule| (index, rule))
}

/// When one target falls due and when it becomes at risk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub due_at: Option<NaiveDateTime>,
    pub at_risk_at: Option<NaiveDateTime>,
}

/// The schedule of a target of `target_seconds` for a case created at `created_at` that has
/// been paused for `paused_seconds` of business time.
pub fn schedule(
    calendar: &BusinessCalendar,
    created_at: NaiveDateTime,
    target_seconds: i64,
    paused_seconds: i64,
    at_risk_from_bp: i64,
) -> Schedule {
    let at_risk_seconds = (target_seconds * at_risk_from_bp + 9_999) / 10_000;
    Schedule {
        due_at: calendar.add(created_at, target_seconds + paused_seconds),
        at_risk_at: calendar.add(created_at, at_risk_seconds + paused_seconds),
    }
}

/// One target of a case as it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TargetState {
    pub due_at: Option<NaiveDateTime>,
    pub at_risk_at: Option<NaiveDateTime>,
    /// When it was honoured: the first public reply, or the last resolution.
    pub done_at: Option<NaiveDateTime>,
    /// The due instant it was missed at.
    pub breached_at: Option<NaiveDateTime>,
}

impl TargetState {
    /// The due instant it is missed at, when it is outstanding and due by `now`.
    pub fn breach_due(&self, now: NaiveDateTime) -> Option<NaiveDateTime> {
        match (self.done_at, self.breached_at, self.due_at) {
            (None, None, Some(due)) if due <= now => Some(due),
            _ => None,
        }
    }

    fn outstanding(&self) -> bool {
        self.done_at.is_none() && self.breached_at.is_none()
    }
}

/// How a case with a policy stands at `now`. `running`: its clocks run (new or open);
/// `settled`: it is resolved or closed. A breach stays a breach, also once the case is settled.
pub fn status(
    running: bool,
    settled: bool,
    first_response: &TargetState,
    resolution: &TargetState,
    now: NaiveDateTime,
) -> SlaStatus {
    let targets = [first_response, resolution];
    let breached = targets
        .iter()
        .any(|t| t.breached_at.is_some() || (running && t.breach_due(now).is_some()));
    if breached {
        SlaStatus::Breached
    } else if settled {
        SlaStatus::Met
    } else if running
        && targets
            .iter()
            .any(|t| t.outstanding() && t.at_risk_at.is_some_and(|at| at <= now))
    {
        SlaStatus::AtRisk
    } else {
        SlaStatus::OnTrack
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::calendar::{OpeningPeriod, WeekdayName};
    use chrono::TimeZone;

    fn rule(priority: CasePriority, tier: Option<Tier>, first: i64) -> SlaRule {
        SlaRule {
            priority,
            tier,
            first_response_minutes: first,
            resolution_minutes: first * 4,
            breach_priority: None,
        }
    }

    #[test]
    fn one_rule_per_priority_and_tier() {
        let rules = [
            rule(CasePriority::High, None, 60),
            rule(CasePriority::High, Some(Tier::A), 30),
            rule(CasePriority::High, None, 90),
            rule(CasePriority::Low, None, 0),
        ];
        assert_eq!(
            check_rules(&rules).unwrap_err().fields(),
            [
                "rules[2]",
                "rules[3].first_response_minutes",
                "rules[3].resolution_minutes"
            ]
        );
        assert!(check_rules(&rules[..2]).is_ok());
    }

    #[test]
    fn the_first_covering_active_policy_applies_and_a_tier_rule_beats_any() {
        let complaints = [rule(CasePriority::High, None, 10)];
        let all = [
            rule(CasePriority::High, None, 120),
            rule(CasePriority::High, Some(Tier::A), 60),
        ];
        let inactive = [rule(CasePriority::High, None, 1)];
        let policies = [
            PolicyView {
                active: false,
                categories: &[],
                rules: &inactive,
            },
            PolicyView {
                active: true,
                categories: &[CaseCategory::Complaint],
                rules: &complaints,
            },
            PolicyView {
                active: true,
                categories: &[],
                rules: &all,
            },
        ];
        let chosen = |category, tier| {
            choose(&policies, category, CasePriority::High, tier)
                .map(|(i, r)| (i, r.first_response_minutes))
        };
        assert_eq!(
            chosen(CaseCategory::Complaint, Some(Tier::A)),
            Some((1, 10))
        );
        assert_eq!(chosen(CaseCategory::Question, Some(Tier::A)), Some((2, 60)));
        assert_eq!(
            chosen(CaseCategory::Question, Some(Tier::B)),
            Some((2, 120))
        );
        assert_eq!(chosen(CaseCategory::Question, None), Some((2, 120)));
        assert_eq!(
            choose(&policies, CaseCategory::Question, CasePriority::Low, None),
            None
        );
    }

    fn madrid(d: u32, h: u32) -> NaiveDateTime {
        chrono_tz::Europe::Madrid
            .with_ymd_and_hms(2026, 3, d, h, 0, 0)
            .unwrap()
            .naive_utc()
    }

    #[test]
    fn a_pause_moves_the_due_time_by_the_business_time_spent_paused() {
        let hours: Vec<OpeningPeriod> = [
            WeekdayName::Mon,
            WeekdayName::Tue,
            WeekdayName::Wed,
            WeekdayName::Thu,
            WeekdayName::Fri,
        ]
        .into_iter()
        .map(|weekday| OpeningPeriod {
            weekday,
            start: "09:00".into(),
            end: "17:00".into(),
        })
        .collect();
        let calendar = BusinessCalendar::new("Europe/Madrid", &hours, []).unwrap();
        let created = madrid(2, 9);
        let before = schedule(&calendar, created, 4 * 3600, 0, DEFAULT_AT_RISK_FROM_BP);
        assert_eq!(before.due_at, Some(madrid(2, 13)));
        assert_eq!(before.at_risk_at, Some(madrid(2, 12)));
        // Pending from 10:00 Monday to 10:00 Tuesday: 8 business hours.
        let paused = calendar.between(madrid(2, 10), madrid(3, 10));
        assert_eq!(paused, 8 * 3600);
        let after = schedule(
            &calendar,
            created,
            4 * 3600,
            paused,
            DEFAULT_AT_RISK_FROM_BP,
        );
        assert_eq!(after.due_at, Some(madrid(3, 13)));
    }

    #[test]
    fn status_at_request_time() {
        let target = TargetState {
            due_at: Some(madrid(2, 13)),
            at_risk_at: Some(madrid(2, 12)),
            ..TargetState::default()
        };
        let done = TargetState {
            done_at: Some(madrid(2, 10)),
            ..target
        };
        assert_eq!(
            status(true, false, &done, &target, madrid(2, 11)),
            SlaStatus::OnTrack
        );
        assert_eq!(
            status(true, false, &done, &target, madrid(2, 12)),
            SlaStatus::AtRisk
        );
        assert_eq!(
            status(true, false, &done, &target, madrid(2, 13)),
            SlaStatus::Breached
        );
        // Paused past the due time: not breached.
        assert_eq!(
            status(false, false, &done, &target, madrid(2, 14)),
            SlaStatus::OnTrack
        );
        let resolved = TargetState {
            done_at: Some(madrid(2, 12)),
            ..target
        };
        assert_eq!(
            status(false, true, &done, &resolved, madrid(3, 9)),
            SlaStatus::Met
        );
        let missed = TargetState {
            breached_at: Some(madrid(2, 13)),
            ..target
        };
        assert_eq!(
            status(false, true, &done, &missed, madrid(3, 9)),
            SlaStatus::Breached
        );
        assert_eq!(target.breach_due(madrid(2, 13)), Some(madrid(2, 13)));
        assert_eq!(done.breach_due(madrid(2, 14)), None);
    }
}
