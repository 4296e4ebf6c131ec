//! The desk's settings: how long a resolved case may reopen, how long a survey stays open,
//! what a low rating does, when a case is at risk, and the default language.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use crate::service::cases::Locale;
use crate::service::sla::DEFAULT_AT_RISK_FROM_BP;
use crate::{Violation, Violations};

text_enum! {
    /// What a rating at or below the threshold does to its case.
    LowCsatAction {
        Flag => "flag",
        Reopen => "reopen",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceSettings {
    pub reopen_window_days: i64,
    pub survey_valid_days: i64,
    pub low_csat_threshold: i64,
    pub low_csat_action: LowCsatAction,
    pub at_risk_from_bp: i64,
    pub default_locale: Locale,
}

impl Default for ServiceSettings {
    fn default() -> Self {
        ServiceSettings {
            reopen_window_days: 7,
            survey_valid_days: 14,
            low_csat_threshold: 2,
            low_csat_action: LowCsatAction::Flag,
            at_risk_from_bp: DEFAULT_AT_RISK_FROM_BP,
            default_locale: Locale::Es,
        }
    }
}

impl ServiceSettings {
    /// Whether a case resolved at `resolved_at` may still reopen at `now`.
    pub fn within_reopen_window(
        &self,
        resolved_at: Option<NaiveDateTime>,
        now: NaiveDateTime,
    ) -> bool {
        resolved_at.is_some_and(|at| now < at + chrono::Duration::days(self.reopen_window_days))
    }

    /// What a rating does to its case: `None` unless it is at or below the threshold.
    pub fn low_rating_action(&self, rating: i64) -> Option<LowCsatAction> {
        (rating <= self.low_csat_threshold).then_some(self.low_csat_action)
    }

    pub fn validate(&self) -> Result<(), Violations> {
        let mut violations = Violations::default();
        let mut within = |field: &str, value: i64, low: i64, high: i64| {
            if !(low..=high).contains(&value) {
                violations.push(Violation::new(
                    field,
                    format!("must be from {low} to {high}"),
                ));
            }
        };
        within("reopen_window_days", self.reopen_window_days, 0, 365);
        within("survey_valid_days", self.survey_valid_days, 1, 365);
        within("low_csat_threshold", self.low_csat_threshold, 0, 5);
        within("at_risk_from_bp", self.at_risk_from_bp, 1, 10_000);
        violations.into_result()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bounds_are_named() {
        assert!(ServiceSettings::default().validate().is_ok());
        let bad = ServiceSettings {
            reopen_window_days: -1,
            at_risk_from_bp: 0,
            ..ServiceSettings::default()
        };
        assert_eq!(
            bad.validate().unwrap_err().fields(),
            ["reopen_window_days", "at_risk_from_bp"]
        );
    }

    #[test]
    fn the_reopen_window_and_low_ratings() {
        let desk = ServiceSettings::default();
        let resolved = chrono::NaiveDate::from_ymd_opt(2026, 3, 2)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap();
        assert!(desk.within_reopen_window(Some(resolved), resolved + chrono::Duration::days(6)));
        assert!(!desk.within_reopen_window(Some(resolved), resolved + chrono::Duration::days(7)));
        assert!(!desk.within_reopen_window(None, resolved));
        assert_eq!(desk.low_rating_action(2), Some(LowCsatAction::Flag));
        assert_eq!(desk.low_rating_action(3), None);
    }
}
