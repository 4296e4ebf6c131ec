//! Self-billing agreements: the customer issues our invoices while one is active.

use crate::platform::transitions::IllegalTransition;
use crate::Violation;

text_enum! {
    /// Whether the customer may still issue invoices under the agreement.
    AgreementStatus {
        Active => "active",
        Terminated => "terminated",
    }
}

/// Ends an active agreement; a terminated one stays as it is and says so.
pub fn terminate(status: AgreementStatus) -> Result<AgreementStatus, IllegalTransition> {
    match status {
        AgreementStatus::Active => Ok(AgreementStatus::Terminated),
        AgreementStatus::Terminated => Err(IllegalTransition {
            document: "self-billing agreement",
            action: "terminate".to_owned(),
            state: status.as_str().to_owned(),
            allowed: vec![],
        }),
    }
}

/// Auto-acceptance, when agreed, happens after 1 to 365 days.
pub fn check_auto_accept_days(days: Option<i64>) -> Result<(), Violation> {
    match days {
        Some(d) if !(1..=365).contains(&d) => Err(Violation::new(
            "auto_accept_days",
            "must be between 1 and 365",
        )),
        _ => Ok(()),
    }
}

/// A series prefix of an agreement: letters and digits only.
pub fn check_series_prefix(prefix: &str) -> Result<(), Violation> {
    if prefix.chars().all(|ch| ch.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(Violation::new("series_prefix", "letters and digits only"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_acceptance_takes_a_day_to_a_year_and_prefixes_are_alphanumeric() {
        assert!(check_auto_accept_days(None).is_ok());
        assert!(check_auto_accept_days(Some(365)).is_ok());
        assert!(check_auto_accept_days(Some(0)).is_err());
        assert!(check_series_prefix("ACME1").is_ok());
        assert!(check_series_prefix("AC/ME").is_err());
    }

    #[test]
    fn an_agreement_ends_once() {
        assert_eq!(
            terminate(AgreementStatus::Active),
            Ok(AgreementStatus::Terminated)
        );
        assert_eq!(
            terminate(AgreementStatus::Terminated).unwrap_err().state,
            "terminated"
        );
    }
}
