//! Leads: where they come from and the state machine.

use crate::platform::transitions::IllegalTransition;

text_enum! {
    LeadSource {
        Web => "web",
        Phone => "phone",
        Email => "email",
        Campaign => "campaign",
        Partner => "partner",
        Referral => "referral",
        Import => "import",
    }
}

text_enum! {
    /// `new` and `working` are open.
    LeadStatus {
        New => "new",
        Working => "working",
        Qualified => "qualified",
        Unqualified => "unqualified",
        Converted => "converted",
    }
}

text_enum! {
    LeadAction {
        Assign => "assign",
        Qualify => "qualify",
        Disqualify => "disqualify",
        Convert => "convert",
        Edit => "edit",
    }
}

pub fn allowed_actions(status: LeadStatus) -> &'static [LeadAction] {
    use LeadAction::*;
    match status {
        LeadStatus::New | LeadStatus::Working => &[Assign, Qualify, Disqualify, Convert, Edit],
        LeadStatus::Qualified => &[Assign, Convert, Edit],
        LeadStatus::Unqualified => &[Assign, Edit],
        LeadStatus::Converted => &[],
    }
}

/// The state after `action`. Assigning an untouched lead starts work on it.
pub fn transition(status: LeadStatus, action: LeadAction) -> Result<LeadStatus, IllegalTransition> {
    if !allowed_actions(status).contains(&action) {
        return Err(IllegalTransition::refused(
            "lead",
            action.as_str(),
            status.as_str(),
            allowed_actions(status)
                .iter()
                .filter(|a| **a != LeadAction::Edit)
                .map(|a| a.as_str()),
        ));
    }
    Ok(match (action, status) {
        (LeadAction::Assign, LeadStatus::New) => LeadStatus::Working,
        (LeadAction::Assign | LeadAction::Edit, s) => s,
        (LeadAction::Qualify, _) => LeadStatus::Qualified,
        (LeadAction::Disqualify, _) => LeadStatus::Unqualified,
        (LeadAction::Convert, _) => LeadStatus::Converted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_leads_can_be_qualified_or_disqualified() {
        assert_eq!(
            transition(LeadStatus::New, LeadAction::Qualify).unwrap(),
            LeadStatus::Qualified
        );
        assert_eq!(
            transition(LeadStatus::Working, LeadAction::Disqualify).unwrap(),
            LeadStatus::Unqualified
        );
        assert!(transition(LeadStatus::Qualified, LeadAction::Disqualify).is_err());
    }

    #[test]
    fn open_or_qualified_leads_convert_once() {
        assert_eq!(
            transition(LeadStatus::Qualified, LeadAction::Convert).unwrap(),
            LeadStatus::Converted
        );
        assert!(transition(LeadStatus::Unqualified, LeadAction::Convert).is_err());
        let err = transition(LeadStatus::Converted, LeadAction::Convert).unwrap_err();
        assert_eq!(err.state, "converted");
    }

    #[test]
    fn converted_leads_are_read_only() {
        assert!(transition(LeadStatus::Converted, LeadAction::Edit).is_err());
    }

    #[test]
    fn assigning_a_new_lead_starts_work() {
        assert_eq!(
            transition(LeadStatus::New, LeadAction::Assign).unwrap(),
            LeadStatus::Working
        );
    }
}
