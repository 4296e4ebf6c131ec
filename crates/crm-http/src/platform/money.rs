//! Money on the wire: integer minor units of an ISO 4217 currency, and the checks of amounts,
//! quantities and rates that every document shares.

use crm_domain::platform::money::{
    check_amount, check_discount_bp, check_tax_rate_bp, Currency, Quantity,
};
use crm_domain::Violation;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::platform::fields::Checker;

/// An amount of money: integer minor units (cents) of an ISO 4217 currency. Never a float.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Money {
    /// Minor units: `1050` EUR is 10.50 EUR.
    #[schema(example = 1050)]
    pub amount_minor: i64,
    /// ISO 4217 code.
    #[schema(example = "EUR")]
    pub currency: String,
}

impl Money {
    pub fn new(amount_minor: i64, currency: &str) -> Self {
        Money {
            amount_minor,
            currency: currency.to_owned(),
        }
    }
}

impl Checker {
    pub fn currency(&mut self, field: &str, code: &str) -> Option<String> {
        self.violations
            .check(
                code.parse::<Currency>()
                    .map_err(|v| Violation::new(field, v.message)),
            )
            .map(|c| c.to_string())
    }

    /// A non-negative amount in `currency`.
    pub fn money(&mut self, field: &str, money: &Money, currency: Option<&str>) -> Option<i64> {
        self.currency(&format!("{field}.currency"), &money.currency)?;
        if let Some(expected) = currency {
            if money.currency != expected {
                self.violations.push(Violation::new(
                    format!("{field}.currency"),
                    format!("must be {expected}, the document's currency"),
                ));
                return None;
            }
        }
        self.violations.check(check_amount(
            &format!("{field}.amount_minor"),
            money.amount_minor,
        ))
    }

    pub fn quantity(&mut self, field: &str, text: &str) -> Option<Quantity> {
        self.violations.check(Quantity::parse(field, text))
    }

    pub fn discount_bp(&mut self, field: &str, bp: i64) -> Option<i64> {
        self.violations.check(check_discount_bp(field, bp))
    }

    pub fn tax_rate_bp(&mut self, field: &str, bp: i64) -> Option<i64> {
        self.violations.check(check_tax_rate_bp(field, bp))
    }
}
