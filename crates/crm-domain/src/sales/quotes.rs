//! Quotes: the state machine, and what reading "expired" means.

use chrono::NaiveDate;

use crate::platform::transitions::IllegalTransition;

text_enum! {
    /// The state a quote reads as. `expired` is not stored: a sent quote past its
    /// `valid_until` reads as expired.
    QuoteStatus {
        Draft => "draft",
        Sent => "sent",
        Accepted => "accepted",
        Rejected => "rejected",
        Expired => "expired",
        Converted => "converted",
        Cancelled => "cancelled",
    }
}

text_enum! {
    QuoteAction {
        Send => "send",
        Accept => "accept",
        Reject => "reject",
        Cancel => "cancel",
        Revise => "revise",
        Convert => "convert",
    }
}

/// The state a stored quote reads as on `today`.
pub fn effective_status(
    stored: QuoteStatus,
    valid_until: Option<NaiveDate>,
    today: NaiveDate,
) -> QuoteStatus {
    match (stored, valid_until) {
        (QuoteStatus::Sent, Some(until)) if until < today => QuoteStatus::Expired,
        (status, _) => status,
    }
}

pub fn allowed_actions(status: QuoteStatus) -> &'static [QuoteAction] {
    use QuoteAction::*;
    match status {
        QuoteStatus::Draft => &[Send, Cancel],
        QuoteStatus::Sent => &[Accept, Reject, Cancel, Revise],
        QuoteStatus::Expired => &[Cancel, Revise],
        QuoteStatus::Accepted => &[Convert],
        QuoteStatus::Rejected | QuoteStatus::Converted | QuoteStatus::Cancelled => &[],
    }
}

/// The state after `action`, or why it is not allowed. `Revise` leaves the quote cancelled
/// (superseded); the new revision is a separate draft.
pub fn transition(
    status: QuoteStatus,
    action: QuoteAction,
) -> Result<QuoteStatus, IllegalTransition> {
    if !allowed_actions(status).contains(&action) {
        return Err(IllegalTransition::refused(
            "quote",
            action.as_str(),
            status.as_str(),
            allowed_actions(status).iter().map(|a| a.as_str()),
        ));
    }
    Ok(match action {
        QuoteAction::Send => QuoteStatus::Sent,
        QuoteAction::Accept => QuoteStatus::Accepted,
        QuoteAction::Reject => QuoteStatus::Rejected,
        QuoteAction::Cancel | QuoteAction::Revise => QuoteStatus::Cancelled,
        QuoteAction::Convert => QuoteStatus::Converted,
    })
}

/// Only a draft can be edited.
pub fn check_editable(status: QuoteStatus) -> Result<(), IllegalTransition> {
    if status == QuoteStatus::Draft {
        Ok(())
    } else {
        Err(IllegalTransition::refused(
            "quote",
            "edit",
            status.as_str(),
            allowed_actions(status).iter().map(|a| a.as_str()),
        ))
    }
}

/// `Q-2026-000123`.
pub fn quote_number(year: i32, sequence: i64) -> String {
    format!("Q-{year}-{sequence:06}")
}

/// A quote's currency changes only with its lines given again in it, unless it has none: the
/// old prices mean nothing in the new currency.
pub fn check_currency_change(
    current: &str,
    new: &str,
    lines_given: bool,
    has_lines: bool,
) -> Result<(), crate::Violation> {
    if current != new && !lines_given && has_lines {
        return Err(crate::Violation::new(
            "lines",
            "give the lines again in the new currency",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, d).unwrap()
    }

    #[test]
    fn the_happy_path() {
        let s = transition(QuoteStatus::Draft, QuoteAction::Send).unwrap();
        let s = transition(s, QuoteAction::Accept).unwrap();
        assert_eq!(
            transition(s, QuoteAction::Convert).unwrap(),
            QuoteStatus::Converted
        );
    }

    #[test]
    fn a_sent_quote_past_its_date_reads_expired_and_cannot_be_accepted() {
        let status = effective_status(QuoteStatus::Sent, Some(day(10)), day(11));
        assert_eq!(status, QuoteStatus::Expired);
        let err = transition(status, QuoteAction::Accept).unwrap_err();
        assert_eq!(err.state, "expired");
        assert_eq!(err.allowed, vec!["cancel", "revise"]);
        assert_eq!(
            effective_status(QuoteStatus::Sent, Some(day(10)), day(10)),
            QuoteStatus::Sent,
            "valid through its last day"
        );
        assert_eq!(
            effective_status(QuoteStatus::Draft, Some(day(1)), day(11)),
            QuoteStatus::Draft
        );
    }

    #[test]
    fn only_drafts_are_editable() {
        assert!(check_editable(QuoteStatus::Draft).is_ok());
        let err = check_editable(QuoteStatus::Sent).unwrap_err();
        assert!(
            err.to_string().contains("cannot edit a sent quote"),
            "{err}"
        );
    }

    #[test]
    fn final_states_allow_nothing() {
        for s in [
            QuoteStatus::Rejected,
            QuoteStatus::Converted,
            QuoteStatus::Cancelled,
        ] {
            for a in QuoteAction::ALL {
                assert!(transition(s, *a).is_err());
            }
        }
    }

    #[test]
    fn numbers_are_zero_padded() {
        assert_eq!(quote_number(2026, 123), "Q-2026-000123");
    }

    #[test]
    fn a_new_currency_needs_new_lines() {
        assert!(check_currency_change("EUR", "USD", false, true).is_err());
        assert!(check_currency_change("EUR", "USD", true, true).is_ok());
        assert!(
            check_currency_change("EUR", "USD", false, false).is_ok(),
            "no lines to reprice"
        );
        assert!(check_currency_change("EUR", "EUR", false, true).is_ok());
    }
}
