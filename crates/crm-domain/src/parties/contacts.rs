//! Contacts: people, found again by email or by phone number.

text_enum! {
    /// Where a person stands in their relationship with us.
    LifecycleStage {
        Prospect => "prospect",
        Customer => "customer",
        Former => "former",
    }
}

impl Default for LifecycleStage {
    /// A person we have just learnt of is a prospect until they buy.
    fn default() -> Self {
        LifecycleStage::Prospect
    }
}

/// The key under which email addresses are compared: case-insensitive, as mail providers do
/// in practice.
pub fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

/// When marketing consent was given: kept while consent stands, set now when it is newly
/// given, cleared when it is withdrawn.
pub fn consent_time<T: Copy>(previous: Option<T>, consent: bool, now: T) -> Option<T> {
    match (consent, previous) {
        (false, _) => None,
        (true, Some(at)) => Some(at),
        (true, None) => Some(now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::phone::{normalize_phone, PhoneRegion};

    fn es() -> PhoneRegion {
        "ES".parse().unwrap()
    }

    #[test]
    fn national_spanish_number_becomes_e164() {
        assert_eq!(
            normalize_phone("phone", "600 123 456", es()).unwrap(),
            "+34600123456"
        );
    }

    #[test]
    fn international_forms_agree() {
        for raw in ["+34600123456", "0034 600-123-456", "+34 (600) 12 34 56"] {
            assert_eq!(
                normalize_phone("phone", raw, es()).unwrap(),
                "+34600123456",
                "{raw}"
            );
        }
    }

    #[test]
    fn foreign_number_keeps_its_country() {
        let us = normalize_phone("phone", "+1 415 555 2671", es()).unwrap();
        assert_eq!(us, "+14155552671");
    }

    #[test]
    fn rejects_garbage_and_impossible_numbers() {
        assert!(normalize_phone("phone", "not a phone", es()).is_err());
        assert!(normalize_phone("phone", "123", es()).is_err());
    }

    #[test]
    fn unknown_region_is_rejected() {
        assert!("XX".parse::<PhoneRegion>().is_err());
        assert!("es".parse::<PhoneRegion>().is_ok());
    }

    #[test]
    fn email_key_ignores_case() {
        assert_eq!(email_key(" Ana@Example.COM "), "ana@example.com");
    }

    #[test]
    fn consent_time_is_kept_set_and_cleared() {
        assert_eq!(consent_time(None, true, 5), Some(5));
        assert_eq!(consent_time(Some(1), true, 5), Some(1));
        assert_eq!(consent_time(Some(1), false, 5), None);
    }

    #[test]
    fn lifecycle_stage_parses() {
        assert_eq!(
            "former".parse::<LifecycleStage>().unwrap(),
            LifecycleStage::Former
        );
        assert!("lead".parse::<LifecycleStage>().is_err());
        assert_eq!(LifecycleStage::default(), LifecycleStage::Prospect);
    }
}
