//! Interactions: logged or planned touch points with a contact or a company.

use crate::{Violation, Violations};

text_enum! {
    InteractionKind {
        Call => "call",
        Email => "email",
        Meeting => "meeting",
        Visit => "visit",
        Chat => "chat",
        Social => "social",
        Note => "note",
    }
}

text_enum! {
    Direction {
        Inbound => "inbound",
        Outbound => "outbound",
    }
}

/// An interaction must say whom it concerns and when it happened or is planned for.
/// Returns the moment it sits at on a timeline: when it happened, else when it is planned.
pub fn check_subject_and_time<T: Copy>(
    contact_id: Option<&str>,
    company_id: Option<&str>,
    occurred_at: Option<T>,
    scheduled_for: Option<T>,
) -> Result<T, Violations> {
    let mut violations = Violations::default();
    if contact_id.is_none() && company_id.is_none() {
        violations.push(Violation::new(
            "contact_id",
            "an interaction needs a contact_id or a company_id",
        ));
    }
    let at = occurred_at.or(scheduled_for);
    if at.is_none() {
        violations.push(Violation::new(
            "occurred_at",
            "give occurred_at for a past interaction or scheduled_for for a planned one",
        ));
    }
    match at {
        Some(at) if violations.0.is_empty() => Ok(at),
        _ => Err(violations),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planned_interaction_sits_at_its_schedule() {
        assert_eq!(
            check_subject_and_time(Some("c"), None, None, Some(7)),
            Ok(7)
        );
    }

    #[test]
    fn occurrence_wins_over_schedule() {
        assert_eq!(
            check_subject_and_time(None, Some("co"), Some(3), Some(7)),
            Ok(3)
        );
    }

    #[test]
    fn needs_subject_and_time() {
        let err = check_subject_and_time::<i32>(None, None, None, None).unwrap_err();
        assert_eq!(err.0.len(), 2);
    }
}
