//! Orders: the state machine.

use crate::platform::transitions::IllegalTransition;

text_enum! {
    OrderStatus {
        Pending => "pending",
        Paid => "paid",
        Fulfilled => "fulfilled",
        Cancelled => "cancelled",
    }
}

text_enum! {
    /// What an order line charges for: goods, or a shop's shipping or fee.
    LineKind {
        Product => "product",
        Shipping => "shipping",
        Fee => "fee",
    }
}

text_enum! {
    OrderAction {
        Pay => "pay",
        Fulfil => "fulfil",
        Cancel => "cancel",
    }
}

pub fn allowed_actions(status: OrderStatus) -> &'static [OrderAction] {
    use OrderAction::*;
    match status {
        OrderStatus::Pending => &[Pay, Fulfil, Cancel],
        OrderStatus::Paid => &[Fulfil, Cancel],
        OrderStatus::Fulfilled | OrderStatus::Cancelled => &[],
    }
}

pub fn transition(
    status: OrderStatus,
    action: OrderAction,
) -> Result<OrderStatus, IllegalTransition> {
    if !allowed_actions(status).contains(&action) {
        return Err(IllegalTransition::refused(
            "order",
            action.as_str(),
            status.as_str(),
            allowed_actions(status).iter().map(|a| a.as_str()),
        ));
    }
    Ok(match action {
        OrderAction::Pay => OrderStatus::Paid,
        OrderAction::Fulfil => OrderStatus::Fulfilled,
        OrderAction::Cancel => OrderStatus::Cancelled,
    })
}

/// Whether a shop may push `to` over an order stored as `from`: the same status, or one the
/// state machine reaches from it. A cancelled or fulfilled order stays as it is, and a paid one
/// never goes back to pending.
pub fn check_pushed_status(from: OrderStatus, to: OrderStatus) -> Result<(), IllegalTransition> {
    let mut reachable = vec![from];
    let mut next = 0;
    while let Some(&status) = reachable.get(next) {
        for &action in allowed_actions(status) {
            if let Ok(after) = transition(status, action) {
                if !reachable.contains(&after) {
                    reachable.push(after);
                }
            }
        }
        next += 1;
    }
    if reachable.contains(&to) {
        return Ok(());
    }
    Err(IllegalTransition {
        document: "order",
        action: format!("push status {}", to.as_str()),
        state: from.as_str().to_owned(),
        allowed: reachable.iter().map(|s| s.as_str().to_owned()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushed_statuses_only_move_forward() {
        use OrderStatus::*;
        assert!(check_pushed_status(Pending, Paid).is_ok());
        assert!(check_pushed_status(Pending, Fulfilled).is_ok());
        assert!(check_pushed_status(Paid, Paid).is_ok());
        assert!(check_pushed_status(Paid, Cancelled).is_ok());
        let refused = check_pushed_status(Cancelled, Pending).unwrap_err();
        assert_eq!(refused.state, "cancelled");
        assert_eq!(refused.allowed, ["cancelled"]);
        assert!(check_pushed_status(Paid, Pending).is_err());
        assert!(check_pushed_status(Fulfilled, Cancelled).is_err());
    }

    #[test]
    fn pay_then_fulfil() {
        let s = transition(OrderStatus::Pending, OrderAction::Pay).unwrap();
        assert_eq!(
            transition(s, OrderAction::Fulfil).unwrap(),
            OrderStatus::Fulfilled
        );
    }

    #[test]
    fn fulfilled_orders_cannot_be_cancelled() {
        let err = transition(OrderStatus::Fulfilled, OrderAction::Cancel).unwrap_err();
        assert_eq!(err.state, "fulfilled");
        assert!(err.allowed.is_empty());
    }

    #[test]
    fn paying_twice_is_illegal() {
        assert!(transition(OrderStatus::Paid, OrderAction::Pay).is_err());
    }
}
