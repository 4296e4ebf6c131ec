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
        return Err(IllegalTransition {
            document: "order",
            action: action.as_str().to_owned(),
            state: status.as_str().to_owned(),
            allowed: allowed_actions(status)
                .iter()
                .map(|a| a.as_str().to_owned())
                .collect(),
        });
    }
    Ok(match action {
        OrderAction::Pay => OrderStatus::Paid,
        OrderAction::Fulfil => OrderStatus::Fulfilled,
        OrderAction::Cancel => OrderStatus::Cancelled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
