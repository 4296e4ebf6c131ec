//! Cases: their vocabulary, the state machine, and which replies move a case.

use crate::billing::returns::RootCauseCategory;
use crate::platform::transitions::IllegalTransition;
use crate::{Violation, Violations};

text_enum! {
    CaseStatus {
        New => "new",
        Open => "open",
        /// Awaiting the customer: the SLA clocks stop.
        Pending => "pending",
        Resolved => "resolved",
        Closed => "closed",
    }
}

text_enum! {
    CaseAction {
        Open => "open",
        Pend => "pend",
        Resolve => "resolve",
        Reopen => "reopen",
        Close => "close",
    }
}

text_enum! {
    CaseChannel {
        Phone => "phone",
        Email => "email",
        Portal => "portal",
        Web => "web",
        Chat => "chat",
    }
}

text_enum! {
    CasePriority {
        Low => "low",
        Normal => "normal",
        High => "high",
        Urgent => "urgent",
    }
}

text_enum! {
    CaseCategory {
        Question => "question",
        Incident => "incident",
        Complaint => "complaint",
        Request => "request",
        Other => "other",
    }
}

text_enum! {
    /// The languages the desk answers in.
    Locale {
        Es => "es",
        Pt => "pt",
        En => "en",
    }
}

text_enum! {
    /// What happened to a case, in its event log.
    CaseChangeType {
        Created => "created",
        Assigned => "assigned",
        StatusChanged => "status_changed",
        PriorityChanged => "priority_changed",
        Commented => "commented",
        SlaBreached => "sla_breached",
        Escalated => "escalated",
        CsatReceived => "csat_received",
        ArticleLinked => "article_linked",
    }
}

impl CaseStatus {
    /// Whether the SLA clocks run: only while the desk owes the customer something.
    pub fn clocks_run(self) -> bool {
        matches!(self, CaseStatus::New | CaseStatus::Open)
    }

    /// Whether the case still needs work (for the 360 and the open-cases count).
    pub fn is_open(self) -> bool {
        matches!(
            self,
            CaseStatus::New | CaseStatus::Open | CaseStatus::Pending
        )
    }
}

/// What a case in `status` can do: a resolved one reopens only within the window after its
/// last resolution.
pub fn allowed_actions(status: CaseStatus, within_reopen_window: bool) -> &'static [CaseAction] {
    use CaseAction::*;
    match status {
        CaseStatus::New => &[Open, Pend, Resolve],
        CaseStatus::Open => &[Pend, Resolve],
        CaseStatus::Pending => &[Open, Resolve],
        CaseStatus::Resolved if within_reopen_window => &[Reopen, Close],
        CaseStatus::Resolved => &[Close],
        CaseStatus::Closed => &[],
    }
}

/// The state after `action`, if `allowed_actions` has it.
pub fn transition(
    status: CaseStatus,
    action: CaseAction,
    within_reopen_window: bool,
) -> Result<CaseStatus, IllegalTransition> {
    let allowed = allowed_actions(status, within_reopen_window);
    if !allowed.contains(&action) {
        let action = if status == CaseStatus::Resolved && action == CaseAction::Reopen {
            "reopen after the reopen window"
        } else {
            action.as_str()
        };
        return Err(IllegalTransition::refused(
            "case",
            action,
            status.as_str(),
            allowed.iter().map(|a| a.as_str()),
        ));
    }
    Ok(match action {
        CaseAction::Open | CaseAction::Reopen => CaseStatus::Open,
        CaseAction::Pend => CaseStatus::Pending,
        CaseAction::Resolve => CaseStatus::Resolved,
        CaseAction::Close => CaseStatus::Closed,
    })
}

/// Who wrote a comment, which decides what it does to the case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Author {
    /// Staff, in public (a reply) or not (an internal note).
    Staff { public: bool },
    /// The customer, through the portal or logged by staff from a phone call or an email.
    Customer,
}

/// The state a comment moves the case to, if any: the first public staff reply opens a new
/// case; a customer's reply reopens a pending case, or a resolved one within the window.
pub fn after_comment(
    status: CaseStatus,
    author: Author,
    within_reopen_window: bool,
) -> Option<CaseStatus> {
    match (author, status) {
        (Author::Staff { public: true }, CaseStatus::New) => Some(CaseStatus::Open),
        (Author::Customer, CaseStatus::Pending) => Some(CaseStatus::Open),
        (Author::Customer, CaseStatus::Resolved) if within_reopen_window => Some(CaseStatus::Open),
        _ => None,
    }
}

/// Whether a comment may be written at all: a closed case takes none.
pub fn check_commentable(status: CaseStatus) -> Result<(), IllegalTransition> {
    if status == CaseStatus::Closed {
        return Err(IllegalTransition::refused(
            "case",
            "comment on",
            status.as_str(),
            std::iter::empty(),
        ));
    }
    Ok(())
}

/// A complaint resolves only once its root cause is known, as a return does.
pub fn check_resolvable(
    category: CaseCategory,
    root_cause: Option<RootCauseCategory>,
) -> Result<(), Violations> {
    if category == CaseCategory::Complaint
        && root_cause.is_none_or(|c| c == RootCauseCategory::Pending)
    {
        return Err(Violation::new(
            "root_cause.category",
            "is required to resolve a complaint, and not pending",
        )
        .into());
    }
    Ok(())
}

/// A case number: `CS-2026-000042`.
pub fn case_number(year: i32, sequence: i64) -> String {
    format!("CS-{year}-{sequence:06}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn illegal_actions_name_what_is_allowed() {
        let refused = transition(CaseStatus::Pending, CaseAction::Pend, true).unwrap_err();
        assert_eq!(refused.state, "pending");
        assert_eq!(refused.allowed, ["open", "resolve"]);
        assert!(transition(CaseStatus::Closed, CaseAction::Reopen, true).is_err());
        assert_eq!(
            transition(CaseStatus::Resolved, CaseAction::Reopen, true),
            Ok(CaseStatus::Open)
        );
        let late = transition(CaseStatus::Resolved, CaseAction::Reopen, false).unwrap_err();
        assert_eq!(late.allowed, ["close"]);
        assert_eq!(
            allowed_actions(CaseStatus::Resolved, false),
            [CaseAction::Close]
        );
    }

    #[test]
    fn replies_move_cases() {
        let staff = Author::Staff { public: true };
        let note = Author::Staff { public: false };
        assert_eq!(
            after_comment(CaseStatus::New, staff, false),
            Some(CaseStatus::Open)
        );
        assert_eq!(after_comment(CaseStatus::New, note, false), None);
        assert_eq!(after_comment(CaseStatus::Pending, staff, false), None);
        assert_eq!(
            after_comment(CaseStatus::Pending, Author::Customer, false),
            Some(CaseStatus::Open)
        );
        assert_eq!(
            after_comment(CaseStatus::Resolved, Author::Customer, true),
            Some(CaseStatus::Open)
        );
        assert_eq!(
            after_comment(CaseStatus::Resolved, Author::Customer, false),
            None
        );
        assert!(check_commentable(CaseStatus::Closed).is_err());
    }

    #[test]
    fn a_complaint_needs_its_root_cause() {
        assert!(check_resolvable(CaseCategory::Complaint, None).is_err());
        assert!(
            check_resolvable(CaseCategory::Complaint, Some(RootCauseCategory::Pending)).is_err()
        );
        assert!(
            check_resolvable(CaseCategory::Complaint, Some(RootCauseCategory::Shipping)).is_ok()
        );
        assert!(check_resolvable(CaseCategory::Question, None).is_ok());
        assert_eq!(case_number(2026, 42), "CS-2026-000042");
    }
}
