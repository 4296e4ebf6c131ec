//! Returns (RMA): reasons, root causes, the state machine, and the quantity and window rules.

use crate::platform::transitions::IllegalTransition;
use crate::Violation;

text_enum! {
    ReasonCode {
        Damaged => "damaged",
        Defective => "defective",
        WrongItem => "wrong_item",
        NotAsDescribed => "not_as_described",
        NoLongerNeeded => "no_longer_needed",
        LateDelivery => "late_delivery",
        Other => "other",
    }
}

text_enum! {
    /// Where the problem behind a return started, so that it can be fixed there.
    RootCauseCategory {
        Supplier => "supplier",
        Manufacturing => "manufacturing",
        Packaging => "packaging",
        Shipping => "shipping",
        Picking => "picking",
        ProductInformation => "product_information",
        CustomerExpectation => "customer_expectation",
        Other => "other",
        /// Not known yet: a refund the shop made, whose cause is still to be found.
        Pending => "pending",
    }
}

text_enum! {
    ReturnStatus {
        Requested => "requested",
        Approved => "approved",
        Rejected => "rejected",
        Received => "received",
        Resolved => "resolved",
        Closed => "closed",
        Withdrawn => "withdrawn",
    }
}

text_enum! {
    ReturnAction {
        Approve => "approve",
        Reject => "reject",
        Receive => "receive",
        Resolve => "resolve",
        Close => "close",
        Withdraw => "withdraw",
    }
}

text_enum! {
    Disposition {
        Restock => "restock",
        Scrap => "scrap",
        Repair => "repair",
    }
}

text_enum! {
    Resolution {
        Refund => "refund",
        Replacement => "replacement",
        Repair => "repair",
        StoreCredit => "store_credit",
        /// The customer keeps the item for a concession: the rest is revenue saved.
        RetainedWithDiscount => "retained_with_discount",
    }
}

impl Resolution {
    /// Resolutions that give money back, by a credit note when the order is invoiced.
    pub fn credits(self) -> bool {
        matches!(self, Resolution::Refund | Resolution::StoreCredit)
    }
}

pub fn allowed_actions(status: ReturnStatus) -> &'static [ReturnAction] {
    use ReturnAction::*;
    match status {
        ReturnStatus::Requested => &[Approve, Reject, Withdraw],
        ReturnStatus::Approved => &[Receive, Resolve, Withdraw],
        ReturnStatus::Received => &[Resolve],
        ReturnStatus::Resolved => &[Close],
        ReturnStatus::Rejected | ReturnStatus::Closed | ReturnStatus::Withdrawn => &[],
    }
}

/// The state after `action`. Resolving an approved return that was never received is only for
/// a customer who keeps the item (`retained_with_discount`).
pub fn transition(
    status: ReturnStatus,
    action: ReturnAction,
    resolution: Option<Resolution>,
) -> Result<ReturnStatus, IllegalTransition> {
    let illegal = || {
        IllegalTransition::refused(
            "return",
            action.as_str(),
            status.as_str(),
            allowed_actions(status).iter().map(|a| a.as_str()),
        )
    };
    if !allowed_actions(status).contains(&action) {
        return Err(illegal());
    }
    if action == ReturnAction::Resolve
        && status == ReturnStatus::Approved
        && resolution != Some(Resolution::RetainedWithDiscount)
    {
        return Err(IllegalTransition {
            action: format!(
                "resolve (as {}) before receiving",
                resolution.map_or("unknown", |r| r.as_str())
            ),
            ..illegal()
        });
    }
    Ok(match action {
        ReturnAction::Approve => ReturnStatus::Approved,
        ReturnAction::Reject => ReturnStatus::Rejected,
        ReturnAction::Receive => ReturnStatus::Received,
        ReturnAction::Resolve => ReturnStatus::Resolved,
        ReturnAction::Close => ReturnStatus::Closed,
        ReturnAction::Withdraw => ReturnStatus::Withdrawn,
    })
}

/// Whether a return still holds its quantities against the order.
pub fn counts_against_order(status: ReturnStatus) -> bool {
    !matches!(status, ReturnStatus::Rejected | ReturnStatus::Withdrawn)
}

/// A returned quantity (in thousandths) never exceeds what was sold minus what other returns
/// already hold.
pub fn check_quantity(
    field: &str,
    requested: i64,
    sold: i64,
    already_returned: i64,
) -> Result<(), Violation> {
    let left = sold - already_returned;
    if requested > left {
        return Err(Violation::new(
            field,
            format!(
                "only {} of {} sold can still be returned",
                format_milli(left.max(0)),
                format_milli(sold)
            ),
        ));
    }
    Ok(())
}

fn format_milli(milli: i64) -> String {
    crate::platform::money::Quantity::from_milli(milli).to_string()
}

/// The root cause must be known before a return is resolved.
pub fn check_root_cause(
    category: Option<RootCauseCategory>,
    notes: Option<&str>,
    preventive_action: Option<&str>,
) -> Result<(), crate::Violations> {
    let mut v = crate::Violations::default();
    if category.is_none_or(|c| c == RootCauseCategory::Pending) {
        v.push(Violation::new(
            "root_cause.category",
            "is required before resolving, and not pending",
        ));
    }
    if notes.is_none_or(|n| n.trim().is_empty()) {
        v.push(Violation::new(
            "root_cause.notes",
            "is required before resolving",
        ));
    }
    if preventive_action.is_none_or(|n| n.trim().is_empty()) {
        v.push(Violation::new(
            "root_cause.preventive_action",
            "is required before resolving",
        ));
    }
    v.into_result()
}

/// The VAT rate a restocking fee or a concession on returned lines carries, given each line's
/// (unit price, rate): that of the dearest line.
pub fn returned_rate(lines: impl IntoIterator<Item = (i64, i64)>) -> i64 {
    lines
        .into_iter()
        .max_by_key(|(price, _)| *price)
        .map_or(0, |(_, rate)| rate)
}

/// The part before tax of an amount that includes tax at `rate_bp`, such as a restocking fee
/// or a concession: a credit note for it reverses proportional VAT, never base at a rate the
/// invoice did not carry, and profit counts it net. Rounded half away from zero.
pub fn net_of_tax_minor(gross_minor: i64, rate_bp: i64) -> i64 {
    let net = crate::sales::totals::div_round(
        i128::from(gross_minor) * 10_000,
        i128::from(10_000 + rate_bp.max(0)),
    );
    i64::try_from(net).unwrap_or(if net < 0 { i64::MIN } else { i64::MAX })
}

/// Whether someone of `role` may open a return after its window closed: managers and admins.
pub fn may_override_window(role: crate::access::roles::Role) -> bool {
    use crate::access::roles::Role;
    matches!(role, Role::Manager | Role::Admin)
}

/// A return opens within `window_days` of the order, or later when a manager overrides the
/// window. Answers whether the override was needed, so that the return records it only then.
pub fn check_window(
    ordered_at: chrono::NaiveDateTime,
    now: chrono::NaiveDateTime,
    window_days: i64,
    overridden: bool,
) -> Result<bool, Violation> {
    let deadline = ordered_at + chrono::Duration::days(window_days);
    if now > deadline && !overridden {
        return Err(Violation::new(
            "override_window",
            format!(
                "the {window_days}-day return window closed on {}; a manager must override it",
                deadline.date()
            ),
        ));
    }
    Ok(now > deadline)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_managers_and_admins_override_the_window() {
        use crate::access::roles::Role;
        assert!(may_override_window(Role::Manager));
        assert!(may_override_window(Role::Admin));
        assert!(!may_override_window(Role::Sales));
    }

    #[test]
    fn a_fee_is_net_of_the_tax_it_carries() {
        assert_eq!(
            net_of_tax_minor(100, 2100),
            83,
            "1.00 with 21% VAT is 0.83 net"
        );
        assert_eq!(net_of_tax_minor(121, 2100), 100);
        assert_eq!(net_of_tax_minor(100, 0), 100);
        assert_eq!(
            net_of_tax_minor(-100, 2100),
            -83,
            "a fee kept rounds away from zero too"
        );
    }

    #[test]
    fn the_usual_path() {
        let s = transition(ReturnStatus::Requested, ReturnAction::Approve, None).unwrap();
        let s = transition(s, ReturnAction::Receive, None).unwrap();
        let s = transition(s, ReturnAction::Resolve, Some(Resolution::Refund)).unwrap();
        assert_eq!(
            transition(s, ReturnAction::Close, None).unwrap(),
            ReturnStatus::Closed
        );
    }

    #[test]
    fn only_a_kept_item_is_resolved_without_receiving_it() {
        assert!(transition(
            ReturnStatus::Approved,
            ReturnAction::Resolve,
            Some(Resolution::Refund)
        )
        .is_err());
        assert_eq!(
            transition(
                ReturnStatus::Approved,
                ReturnAction::Resolve,
                Some(Resolution::RetainedWithDiscount)
            )
            .unwrap(),
            ReturnStatus::Resolved
        );
    }

    #[test]
    fn withdrawing_is_possible_until_received() {
        assert!(transition(ReturnStatus::Approved, ReturnAction::Withdraw, None).is_ok());
        let err = transition(ReturnStatus::Received, ReturnAction::Withdraw, None).unwrap_err();
        assert_eq!(err.allowed, vec!["resolve"]);
    }

    #[test]
    fn quantities_cannot_exceed_what_is_left() {
        assert!(check_quantity("q", 1000, 2000, 1000).is_ok());
        let err = check_quantity("q", 1500, 2000, 1000).unwrap_err();
        assert_eq!(err.message, "only 1 of 2 sold can still be returned");
    }

    #[test]
    fn root_cause_is_complete_before_resolving() {
        assert_eq!(
            check_root_cause(None, None, Some("x")).unwrap_err().0.len(),
            2
        );
        assert!(check_root_cause(
            Some(RootCauseCategory::Packaging),
            Some("crushed box"),
            Some("double box")
        )
        .is_ok());
    }

    #[test]
    fn the_window_closes_unless_overridden() {
        let ordered = chrono::NaiveDate::from_ymd_opt(2026, 1, 1)
            .unwrap()
            .and_hms_opt(10, 0, 0)
            .unwrap();
        let inside = ordered + chrono::Duration::days(30);
        let outside = inside + chrono::Duration::seconds(1);
        assert_eq!(check_window(ordered, inside, 30, false), Ok(false));
        let closed = check_window(ordered, outside, 30, false).unwrap_err();
        assert_eq!(closed.field, "override_window");
        assert!(
            closed.message.contains("closed on 2026-01-31"),
            "{}",
            closed.message
        );
        assert_eq!(
            check_window(ordered, outside, 30, true),
            Ok(true),
            "the override was needed"
        );
    }
}
