//! Shop webhooks (Shopify, WooCommerce) read into one order shape by the rules of
//! `INGESTION.md`: the shop's money, tax as stated, exact per-line discounts, refunds. Pure: the
//! payload arrives parsed, and what the CRM stored before is passed in.

mod fields;
pub mod lines;
pub mod shopify;
pub mod signature;
pub mod woocommerce;

#[cfg(test)]
mod shopify_tests;
#[cfg(test)]
mod woocommerce_tests;

use chrono::{DateTime, Utc};

use crate::platform::money::Currency;
use crate::sales::orders::OrderStatus;
use crate::Violation;

pub use fields::parse_amount;

/// How one shop connection reads what its payloads leave unsaid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShopSettings {
    /// Whether prices include tax when a Shopify payload omits `taxes_included`.
    pub prices_include_tax_default: bool,
    /// The rate of a tax whose payload neither states it nor lets it be inferred exactly.
    pub default_tax_rate_bp: i64,
    /// Test orders are stored only for connections that ask for them.
    pub accept_test_orders: bool,
}

/// What an order payload becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapped {
    Order(Box<ShopOrder>),
    /// Answered `200` and logged `ignored` with this reason, so that the shop does not retry.
    Ignored(IgnoredReason),
}

text_enum! {
    /// The shop platform a connection receives webhooks from.
    Platform {
        Shopify => "shopify",
        WooCommerce => "woocommerce",
    }
}

text_enum! {
    /// What became of one webhook, in the ingestion log.
    IngestionStatus {
        Applied => "applied",
        Unchanged => "unchanged",
        Duplicate => "duplicate",
        Stale => "stale",
        Ignored => "ignored",
        Rejected => "rejected",
    }
}

text_enum! {
    IgnoredReason {
        TestOrder => "test_order",
        CheckoutDraft => "checkout_draft",
        /// A refund of an order the CRM never stored: answered so that the shop stops retrying.
        UnknownOrder => "unknown_order",
        /// A refund of a cancelled order: a cancelled order counts for nothing, so there is
        /// nothing to return or credit (Shopify refunds what it cancels).
        OrderCancelled => "order_cancelled",
        UnknownTopic => "unknown_topic",
        ConnectionDisabled => "connection_disabled",
    }
}

pub use crate::sales::orders::LineKind;

/// An order as the shop charged it, in the shop's currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopOrder {
    pub external_id: String,
    /// The number the shop shows its customer (`#1001`).
    pub number: Option<String>,
    pub currency: Currency,
    /// None: the order is stored without a contact.
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// Non-empty `billing_address.company`: the company of that name among the contact's.
    pub billing_company: Option<String>,
    pub ordered_at: Option<DateTime<Utc>>,
    /// When the shop last changed the order; an older payload than the stored one is stale.
    pub updated_at: Option<DateTime<Utc>>,
    pub status: OrderStatus,
    /// Whether the lines' unit prices and discounts include their tax. WooCommerce states its
    /// line amounts net of tax whatever its display setting says, so its orders are `false`.
    pub prices_include_tax: bool,
    pub lines: Vec<ShopLine>,
    /// Taxes the shop states for the whole order only, on no line.
    pub order_taxes: Vec<ShopTax>,
    pub total_minor: i64,
    pub total_tax_minor: i64,
    pub total_discount_minor: i64,
    pub refunds: Vec<ShopRefund>,
    pub test: bool,
}

impl ShopOrder {
    /// A digest of what the order says, its times and refunds aside: a payload with the same
    /// digest as the one stored changes nothing.
    pub fn digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let content = ShopOrder {
            updated_at: None,
            refunds: Vec::new(),
            ..self.clone()
        };
        Sha256::digest(format!("{content:?}").as_bytes())
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    /// Product lines kept by their title, without a product: the log's `lines_without_sku`.
    pub fn lines_without_sku(&self) -> usize {
        self.lines
            .iter()
            .filter(|line| line.kind == LineKind::Product && line.sku.is_none())
            .count()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopLine {
    /// The shop's id of the line, which its refunds name.
    pub external_id: Option<String>,
    pub kind: LineKind,
    /// None when the shop sent none: the line has no product.
    pub sku: Option<String>,
    pub title: String,
    /// Decimal text, such as `2`.
    pub quantity: String,
    pub unit_price_minor: i64,
    /// The line before discounts as the shop states it. It is quantity × unit price except
    /// where the shop states only the line's amount (WooCommerce), whose unit price is then
    /// that amount ÷ quantity rounded to the minor unit.
    pub gross_minor: i64,
    /// The exact sum of the discounts the shop allocated to this line.
    pub discount_minor: i64,
    pub taxes: Vec<ShopTax>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShopTax {
    pub rate_bp: i64,
    pub amount_minor: i64,
}

/// One refund of the shop, applied once per `external_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopRefund {
    pub external_id: String,
    pub order_external_id: String,
    /// Goods given back; none for a refund of money alone (a concession).
    pub lines: Vec<ShopRefundLine>,
    /// The money refunded, the credit note's total; zero for a return without credit.
    pub amount_minor: i64,
    /// Shipping refunded, net of its tax: a credit line of its own.
    pub shipping_minor: i64,
    pub shipping_tax_minor: i64,
    /// The shop's note, which becomes the return's comment.
    pub note: Option<String>,
}

impl ShopRefund {
    /// Whether the money refunded differs from the value of what was given back: the money
    /// wins, and the ingestion log notes `amount_mismatch`. Money alone (a concession) and goods
    /// alone (a return without credit) are no mismatch.
    pub fn amount_mismatch(&self) -> bool {
        let value: i128 = self
            .lines
            .iter()
            .map(|line| i128::from(line.subtotal_minor) + i128::from(line.tax_minor))
            .sum::<i128>()
            + i128::from(self.shipping_minor)
            + i128::from(self.shipping_tax_minor);
        let gives_something_back = !self.lines.is_empty() || value != 0;
        gives_something_back && self.amount_minor != 0 && value != i128::from(self.amount_minor)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopRefundLine {
    /// The refunded line's `ShopLine::external_id`.
    pub line_external_id: String,
    pub quantity: String,
    /// `true`: the goods go back to stock (disposition `restock`); `false`: the customer keeps
    /// them (`retained_with_discount`).
    pub restock: bool,
    /// The line's value refunded as the shop reckons it, before tax and with tax.
    pub subtotal_minor: i64,
    pub tax_minor: i64,
}

/// Why a payload is refused (`422`, logged `rejected`): where in the payload, and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct MappingError {
    pub field: String,
    pub message: String,
}

impl MappingError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        MappingError {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl From<Violation> for MappingError {
    fn from(violation: Violation) -> Self {
        MappingError::new(violation.field, violation.message)
    }
}

impl From<MappingError> for Violation {
    fn from(error: MappingError) -> Self {
        Violation::new(error.field, error.message)
    }
}

/// How a shop refund resolves its return, once the goods it gives back are valued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefundPlan {
    pub resolution: crate::billing::returns::Resolution,
    /// The part of the goods' value the money did not give back: the money wins.
    pub restocking_fee_minor: i64,
    pub concession_minor: Option<i64>,
    /// The money refunded differs from what the return can credit.
    pub amount_mismatch: bool,
}

impl ShopRefund {
    /// The plan for this refund's return, whose goods are worth `value_minor` (tax included).
    /// `whole_order`: money with no lines, returned over every line of goods; a refund that
    /// reaches `order_total_minor` is then a full return. Goods all kept (`no_restock`), or
    /// money alone short of the total, are a concession; else a refund, less what the money
    /// did not cover.
    pub fn plan(
        &self,
        value_minor: i64,
        order_total_minor: i64,
        whole_order: bool,
        restocks: bool,
    ) -> RefundPlan {
        use crate::billing::returns::Resolution;
        let full_return = whole_order && self.amount_minor >= order_total_minor;
        let keeps_goods = !full_return && (whole_order || (!self.lines.is_empty() && !restocks));
        if keeps_goods && self.amount_minor > 0 {
            let concession = self.amount_minor.min(value_minor);
            return RefundPlan {
                resolution: Resolution::RetainedWithDiscount,
                restocking_fee_minor: 0,
                concession_minor: Some(concession),
                amount_mismatch: self.amount_mismatch() || concession < self.amount_minor,
            };
        }
        RefundPlan {
            resolution: Resolution::Refund,
            restocking_fee_minor: (value_minor - self.amount_minor).max(0),
            concession_minor: None,
            amount_mismatch: self.amount_mismatch() || self.amount_minor > value_minor,
        }
    }
}

impl ShopRefundLine {
    /// The line's value as the shop refunded it, net of tax like every stored amount.
    pub fn stated(&self, tax_included: bool) -> crate::sales::totals::StatedAmounts {
        crate::sales::totals::StatedAmounts {
            gross_minor: if tax_included {
                self.subtotal_minor - self.tax_minor
            } else {
                self.subtotal_minor
            },
            discount_minor: 0,
            tax_minor: self.tax_minor,
        }
    }
}

/// Whether the origin a shop's webhook names (`X-Shopify-Shop-Domain`, `X-WC-Webhook-Source`)
/// is the connection's: case and a trailing slash aside.
pub fn same_origin(stated: &str, expected: &str) -> bool {
    stated
        .trim_end_matches('/')
        .eq_ignore_ascii_case(expected.trim_end_matches('/'))
}

/// A connection's signing secret: 8 to 500 characters, not blank.
pub fn check_secret(secret: &str) -> Result<(), crate::Violation> {
    if secret.trim().len() < 8 || secret.len() > 500 {
        return Err(crate::Violation::new(
            "secret",
            "must be 8 to 500 characters",
        ));
    }
    Ok(())
}

/// How far along a shop's signals put an order: cancelled over fulfilled over paid over
/// pending. A payload that is both paid and fulfilled is fulfilled; a cancelled one is
/// cancelled whatever else it says.
pub fn status_rank(status: OrderStatus) -> u8 {
    match status {
        OrderStatus::Pending => 0,
        OrderStatus::Paid => 1,
        OrderStatus::Fulfilled => 2,
        OrderStatus::Cancelled => 3,
    }
}

/// Whether a payload is older than the one the stored order was built from, and so is logged
/// `stale` and changes nothing. Shops may deliver webhooks out of order. Without both times
/// the payloads cannot be ordered, and the newer one is assumed.
pub fn is_stale(
    stored_updated_at: Option<DateTime<Utc>>,
    payload_updated_at: Option<DateTime<Utc>>,
) -> bool {
    matches!(
        (stored_updated_at, payload_updated_at),
        (Some(stored), Some(payload)) if payload < stored
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_strongest_signal_decides_the_status() {
        use OrderStatus::*;
        let mut statuses = vec![Cancelled, Pending, Fulfilled, Paid];
        statuses.sort_by_key(|s| status_rank(*s));
        assert_eq!(statuses, [Pending, Paid, Fulfilled, Cancelled]);
    }

    #[test]
    fn an_older_payload_is_stale_and_the_same_or_newer_is_not() {
        let earlier = Utc.with_ymd_and_hms(2024, 3, 1, 10, 0, 0).single();
        let later = Utc.with_ymd_and_hms(2024, 3, 1, 10, 0, 1).single();
        assert!(is_stale(later, earlier));
        assert!(!is_stale(earlier, later));
        assert!(!is_stale(later, later));
        assert!(!is_stale(None, earlier));
        assert!(!is_stale(later, None));
    }

    fn refund(lines: Vec<ShopRefundLine>, amount_minor: i64, shipping_minor: i64) -> ShopRefund {
        ShopRefund {
            external_id: "r1".into(),
            order_external_id: "o1".into(),
            lines,
            amount_minor,
            shipping_minor,
            shipping_tax_minor: 0,
            note: None,
        }
    }

    fn returned(subtotal_minor: i64, tax_minor: i64) -> ShopRefundLine {
        ShopRefundLine {
            line_external_id: "l1".into(),
            quantity: "1".into(),
            restock: true,
            subtotal_minor,
            tax_minor,
        }
    }

    #[test]
    fn a_refund_plans_its_return_and_the_money_wins() {
        use crate::billing::returns::Resolution;
        // Goods back in stock, less money than their value: the rest is kept.
        let back = refund(vec![returned(1000, 210)], 1100, 0).plan(1210, 5000, false, true);
        assert_eq!(
            (
                back.resolution,
                back.restocking_fee_minor,
                back.amount_mismatch
            ),
            (Resolution::Refund, 110, true)
        );
        // Goods kept: a concession, at most their value.
        let mut kept = refund(vec![returned(1000, 210)], 1500, 0);
        kept.lines[0].restock = false;
        let plan = kept.plan(1210, 5000, false, false);
        assert_eq!(
            (plan.resolution, plan.concession_minor, plan.amount_mismatch),
            (Resolution::RetainedWithDiscount, Some(1210), true)
        );
        // Money alone: a concession, or a full return once it reaches the order's total.
        let money = refund(vec![], 500, 0).plan(4000, 5000, true, false);
        assert_eq!(
            (money.resolution, money.concession_minor),
            (Resolution::RetainedWithDiscount, Some(500))
        );
        let all = refund(vec![], 5000, 0).plan(4000, 5000, true, false);
        assert_eq!(
            (all.resolution, all.restocking_fee_minor),
            (Resolution::Refund, 0)
        );
        // Shipping alone is credited on its line, not a concession.
        assert_eq!(
            refund(vec![], 500, 500)
                .plan(500, 5000, false, false)
                .resolution,
            Resolution::Refund
        );
    }

    #[test]
    fn an_origin_matches_in_any_case_with_or_without_its_trailing_slash() {
        assert!(same_origin(
            "https://Shop.example.com/",
            "https://shop.example.com"
        ));
        assert!(!same_origin(
            "https://other.example.com",
            "https://shop.example.com"
        ));
        assert!(check_secret("short").is_err() && check_secret("long enough").is_ok());
    }

    #[test]
    fn money_that_differs_from_the_goods_is_a_mismatch() {
        assert!(!refund(vec![returned(1000, 210)], 1210, 0).amount_mismatch());
        assert!(refund(vec![returned(1000, 210)], 1000, 0).amount_mismatch());
        assert!(!refund(vec![returned(1000, 210)], 1710, 500).amount_mismatch());
        assert!(refund(vec![], 900, 500).amount_mismatch());
        // A concession and a return without credit are what they are, not mismatches.
        assert!(!refund(vec![], 500, 0).amount_mismatch());
        assert!(!refund(vec![returned(1000, 210)], 0, 0).amount_mismatch());
    }
}
