//! Self-billing agreements: the customer issues our invoices while one is active.

use crate::platform::transitions::IllegalTransition;

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

#[cfg(test)]
mod tests {
    use super::*;

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
