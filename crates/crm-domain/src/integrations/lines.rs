//! A shop's order as the lines the CRM stores: each line's amounts as the shop charged them, net
//! of tax, so that the stored order adds up to the shop's total to the cent.

use super::fields::round_to_total;
use super::{LineKind, MappingError, ShopLine, ShopOrder, ShopTax};
use crate::platform::money::Quantity;
use crate::sales::orders::{check_pushed_status, OrderStatus};
use crate::sales::totals::StatedAmounts;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderedLine {
    pub kind: LineKind,
    pub sku: Option<String>,
    pub title: String,
    pub quantity: Quantity,
    /// Net of tax: the line's gross over its quantity, rounded.
    pub unit_price_minor: i64,
    /// The sum of the rates of the line's taxes (a line taxed 5% and 7% is at 12%).
    pub tax_rate_bp: i64,
    pub amounts: StatedAmounts,
}

/// The lines of `order`. Taxes the shop states for the whole order only are shared over the
/// lines in proportion to their nets, by largest remainder, so that they add up exactly. Where
/// prices include tax, each line's gross and discount are taken net of tax in the proportion of
/// its tax to its net, and its net is exactly what was charged less its tax.
pub fn stated_lines(order: &ShopOrder) -> Result<Vec<OrderedLine>, MappingError> {
    let shared = share_order_taxes(&order.lines, &order.order_taxes);
    order
        .lines
        .iter()
        .zip(shared)
        .enumerate()
        .map(|(i, (line, order_tax))| {
            let field = format!("lines[{i}].quantity");
            let quantity = Quantity::parse(&field, &line.quantity)?;
            let own_tax: i64 = line.taxes.iter().map(|t| t.amount_minor).sum();
            let own_rate: i64 = line.taxes.iter().map(|t| t.rate_bp).sum();
            let (tax_minor, tax_rate_bp) = match order_tax {
                Some((amount, rate)) => (own_tax + amount, own_rate + rate),
                None => (own_tax, own_rate),
            };
            let amounts = net_of_tax(line, tax_minor, order.prices_include_tax);
            let unit_price_minor = if quantity.milli() == 0 {
                amounts.gross_minor
            } else {
                i64::try_from(crate::sales::totals::div_round(
                    i128::from(amounts.gross_minor) * 1000,
                    i128::from(quantity.milli()),
                ))
                .map_err(|_| {
                    MappingError::new(format!("lines[{i}]"), "the amounts are too large")
                })?
            };
            Ok(OrderedLine {
                kind: line.kind,
                sku: line.sku.clone(),
                title: line.title.clone(),
                quantity,
                unit_price_minor,
                tax_rate_bp,
                amounts,
            })
        })
        .collect()
}

fn net_of_tax(line: &ShopLine, tax_minor: i64, included: bool) -> StatedAmounts {
    let charged = line.gross_minor - line.discount_minor;
    if !included {
        return StatedAmounts {
            gross_minor: line.gross_minor,
            discount_minor: line.discount_minor,
            tax_minor,
        };
    }
    let net = charged - tax_minor;
    let gross_minor = if charged == 0 {
        line.gross_minor - tax_minor
    } else {
        let scaled = crate::sales::totals::div_round(
            i128::from(line.gross_minor) * i128::from(net),
            i128::from(charged),
        );
        i64::try_from(scaled).unwrap_or(line.gross_minor - tax_minor)
    };
    StatedAmounts {
        gross_minor,
        discount_minor: gross_minor - net,
        tax_minor,
    }
}

/// Each line's share of the order-level taxes (amount, combined rate), or none when there are
/// none.
fn share_order_taxes(lines: &[ShopLine], taxes: &[ShopTax]) -> Vec<Option<(i64, i64)>> {
    if taxes.is_empty() || lines.is_empty() {
        return vec![None; lines.len()];
    }
    let total: i128 = taxes.iter().map(|t| i128::from(t.amount_minor)).sum();
    let rate: i64 = taxes.iter().map(|t| t.rate_bp).sum();
    let weights: Vec<i128> = lines
        .iter()
        .map(|l| i128::from((l.gross_minor - l.discount_minor).max(0)))
        .collect();
    let weight_total: i128 = weights.iter().sum();
    if weight_total == 0 {
        let mut shares = vec![Some((0, rate)); lines.len()];
        shares[0] = i64::try_from(total).ok().map(|t| (t, rate));
        return shares;
    }
    let exact: Vec<i128> = weights.iter().map(|w| w * total).collect();
    // Σ exact is exactly total × weight_total, so the rounding always reaches the total.
    match i64::try_from(total)
        .ok()
        .and_then(|total| round_to_total(&exact, weight_total, total))
    {
        Some(shares) => shares.into_iter().map(|s| Some((s, rate))).collect(),
        None => vec![None; lines.len()],
    }
}

/// The status an order takes from a payload: the shop's, where the state machine reaches it
/// from the stored one; else the stored one, since statuses only move forward.
pub fn next_status(stored: Option<OrderStatus>, pushed: OrderStatus) -> OrderStatus {
    match stored {
        None => pushed,
        Some(from) if check_pushed_status(from, pushed).is_ok() => pushed,
        Some(from) => from,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::money::Currency;
    use crate::sales::totals::{compute, LineInput};

    fn shop_line(kind: LineKind, gross: i64, discount: i64, taxes: &[(i64, i64)]) -> ShopLine {
        ShopLine {
            external_id: None,
            kind,
            sku: Some("S".into()),
            title: "T".into(),
            quantity: "2".into(),
            unit_price_minor: gross / 2,
            gross_minor: gross,
            discount_minor: discount,
            taxes: taxes
                .iter()
                .map(|&(rate_bp, amount_minor)| ShopTax {
                    rate_bp,
                    amount_minor,
                })
                .collect(),
        }
    }

    fn order(lines: Vec<ShopLine>, order_taxes: Vec<ShopTax>, included: bool) -> ShopOrder {
        ShopOrder {
            external_id: "1".into(),
            number: None,
            currency: "EUR".parse::<Currency>().unwrap(),
            email: None,
            first_name: None,
            last_name: None,
            billing_company: None,
            ordered_at: None,
            updated_at: None,
            status: OrderStatus::Paid,
            prices_include_tax: included,
            lines,
            order_taxes,
            total_minor: 0,
            total_tax_minor: 0,
            total_discount_minor: 0,
            refunds: vec![],
            test: false,
        }
    }

    fn stored_total(lines: &[OrderedLine]) -> (i64, i64) {
        let inputs: Vec<LineInput> = lines
            .iter()
            .map(|l| LineInput {
                quantity: l.quantity,
                unit_price_minor: l.unit_price_minor,
                discount_bp: 0,
                tax_rate_bp: l.tax_rate_bp,
                stated: Some(l.amounts),
            })
            .collect();
        let totals = compute(&inputs).unwrap();
        (totals.total_minor, totals.tax_minor)
    }

    #[test]
    fn stated_taxes_and_exact_discounts_add_up_to_the_shops_total() {
        let lines = vec![
            shop_line(LineKind::Product, 2000, 334, &[(2100, 350)]),
            shop_line(LineKind::Product, 1000, 333, &[(2100, 140)]),
            shop_line(LineKind::Shipping, 500, 0, &[(2100, 105)]),
        ];
        let stated = stated_lines(&order(lines, vec![], false)).unwrap();
        // 3500 − 667 + 595: the per-line taxes, not 21% of 2833 (595 by luck here, so check each).
        assert_eq!(stored_total(&stated), (3428, 595));
        assert_eq!(stated[0].amounts.tax_minor, 350);
        assert_eq!(stated[2].kind, LineKind::Shipping);
        assert_eq!(stated[0].unit_price_minor, 1000);
    }

    #[test]
    fn prices_with_tax_included_keep_the_total_and_take_the_tax_out_of_the_net() {
        // 19.99 × 1 with 2.00 off, tax included at 21%: the shop states 3.12 of tax.
        let lines = vec![shop_line(LineKind::Product, 1999, 200, &[(2100, 312)])];
        let stated = stated_lines(&order(lines, vec![], true)).unwrap();
        let a = stated[0].amounts;
        assert_eq!(a.net_minor(), 1999 - 200 - 312);
        assert_eq!(a.tax_minor, 312);
        assert_eq!(stored_total(&stated), (1799, 312), "no tax is added on top");
        assert!(
            a.discount_minor < 200 && a.discount_minor > 150,
            "the discount is net of tax"
        );
    }

    #[test]
    fn order_level_taxes_are_shared_exactly_over_the_lines() {
        let lines = vec![
            shop_line(LineKind::Product, 1000, 0, &[]),
            shop_line(LineKind::Product, 1000, 0, &[]),
            shop_line(LineKind::Product, 1000, 0, &[]),
        ];
        let taxes = vec![ShopTax {
            rate_bp: 1000,
            amount_minor: 301,
        }];
        let stated = stated_lines(&order(lines, taxes, false)).unwrap();
        let shares: Vec<i64> = stated.iter().map(|l| l.amounts.tax_minor).collect();
        assert_eq!(shares.iter().sum::<i64>(), 301);
        assert!(shares.iter().all(|&s| s == 100 || s == 101));
        assert!(stated.iter().all(|l| l.tax_rate_bp == 1000));
    }

    #[test]
    fn several_taxes_on_a_line_add_their_rates_and_amounts() {
        let lines = vec![shop_line(
            LineKind::Product,
            1000,
            0,
            &[(500, 50), (700, 70)],
        )];
        let stated = stated_lines(&order(lines, vec![], false)).unwrap();
        assert_eq!(
            (stated[0].tax_rate_bp, stated[0].amounts.tax_minor),
            (1200, 120)
        );
    }

    #[test]
    fn statuses_only_move_forward() {
        use OrderStatus::*;
        assert_eq!(next_status(None, Pending), Pending);
        assert_eq!(next_status(Some(Pending), Fulfilled), Fulfilled);
        assert_eq!(next_status(Some(Paid), Pending), Paid);
        assert_eq!(next_status(Some(Fulfilled), Cancelled), Fulfilled);
        assert_eq!(next_status(Some(Paid), Cancelled), Cancelled);
    }
}
