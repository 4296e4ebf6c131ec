//! Document totals (quotes, orders), in exact integer arithmetic.
//!
//! **The rounding rule.** Every amount is rounded to the currency's minor unit, half away from
//! zero, at three points only:
//! 1. a line's gross amount, `quantity × unit price`;
//! 2. a line's discount, `gross × discount_bp / 10000`; the line's net is gross − discount;
//! 3. each tax rate's tax, `(sum of the nets at that rate) × rate_bp / 10000`.
//!
//! The document's subtotal is the sum of the gross amounts, its discount the sum of the
//! discounts, its tax the sum of the per-rate taxes, and its total = subtotal − discount + tax.
//! Intermediate products use 128-bit integers; a result that does not fit in 64 bits is an
//! error, never a wrapped or saturated number.

use crate::platform::money::{Quantity, BP_SCALE};
use crate::Violation;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineInput {
    pub quantity: Quantity,
    pub unit_price_minor: i64,
    pub discount_bp: i64,
    pub tax_rate_bp: i64,
    /// Amounts a shop charged, kept as stated instead of computed from the price and rates.
    pub stated: Option<StatedAmounts>,
}

/// A line's amounts as a shop charged them, net of tax: its rounding per line and its exact
/// discounts (stacked ones included) are kept, so that the document adds up to the cent of what
/// the shop charged. `tax_minor` is the line's tax at its rate, never recomputed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StatedAmounts {
    pub gross_minor: i64,
    pub discount_minor: i64,
    pub tax_minor: i64,
}

impl StatedAmounts {
    pub fn net_minor(&self) -> i64 {
        self.gross_minor - self.discount_minor
    }

    /// The share of these amounts that `part` of a line of `whole` carries (a return of some
    /// of its units), each amount rounded half away from zero.
    pub fn portion(&self, part: Quantity, whole: Quantity) -> Result<StatedAmounts, Violation> {
        if whole.milli() == 0 || part == whole {
            return Ok(*self);
        }
        let share = |amount: i64| {
            fits(
                "lines",
                div_round(
                    i128::from(amount) * i128::from(part.milli()),
                    i128::from(whole.milli()),
                ),
            )
        };
        Ok(StatedAmounts {
            gross_minor: share(self.gross_minor)?,
            discount_minor: share(self.discount_minor)?,
            tax_minor: share(self.tax_minor)?,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineAmounts {
    pub gross_minor: i64,
    pub discount_minor: i64,
    pub net_minor: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TaxLine {
    pub rate_bp: i64,
    /// The sum of the line nets at this rate.
    pub base_minor: i64,
    pub tax_minor: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Totals {
    pub lines: Vec<LineAmounts>,
    pub subtotal_minor: i64,
    pub discount_minor: i64,
    /// By rate, ascending.
    pub taxes: Vec<TaxLine>,
    pub tax_minor: i64,
    pub total_minor: i64,
}

impl Totals {
    /// These totals with the tax of some rates settled at other amounts (a credit note that
    /// takes what remains of an invoice's tax): the tax and the total follow.
    pub fn with_taxes(mut self, settled: &[TaxLine]) -> Result<Totals, Violation> {
        for tax in &mut self.taxes {
            if let Some(s) = settled.iter().find(|s| s.rate_bp == tax.rate_bp) {
                tax.tax_minor = s.tax_minor;
            }
        }
        let mut tax_minor: i64 = 0;
        for tax in &self.taxes {
            tax_minor = crate::platform::money::add_minor("lines", tax_minor, tax.tax_minor)?;
        }
        let net = self.subtotal_minor - self.discount_minor;
        self.total_minor = crate::platform::money::add_minor("lines", net, tax_minor)?;
        self.tax_minor = tax_minor;
        Ok(self)
    }
}

/// `numerator / denominator`, rounded half away from zero. `denominator` is positive.
pub(crate) fn div_round(numerator: i128, denominator: i128) -> i128 {
    let quotient = numerator / denominator;
    let remainder = numerator % denominator;
    if remainder.abs() * 2 >= denominator {
        quotient + numerator.signum()
    } else {
        quotient
    }
}

fn fits(field: &str, value: i128) -> Result<i64, Violation> {
    i64::try_from(value).map_err(|_| Violation::new(field, "the amounts are too large to compute"))
}

pub fn line_amounts(line: &LineInput) -> Result<LineAmounts, Violation> {
    if let Some(stated) = line.stated {
        return Ok(LineAmounts {
            gross_minor: stated.gross_minor,
            discount_minor: stated.discount_minor,
            net_minor: fits(
                "lines",
                i128::from(stated.gross_minor) - i128::from(stated.discount_minor),
            )?,
        });
    }
    let gross = div_round(
        i128::from(line.quantity.milli()) * i128::from(line.unit_price_minor),
        1000,
    );
    let discount = div_round(gross * i128::from(line.discount_bp), i128::from(BP_SCALE));
    Ok(LineAmounts {
        gross_minor: fits("lines", gross)?,
        discount_minor: fits("lines", discount)?,
        net_minor: fits("lines", gross - discount)?,
    })
}

/// What the lines at one tax rate add up to: all their nets, the nets whose tax is computed, and
/// the tax the stated lines carry.
#[derive(Default)]
struct RateBase {
    base: i128,
    computed_base: i128,
    stated_tax: i128,
}

pub fn compute(lines: &[LineInput]) -> Result<Totals, Violation> {
    let mut amounts = Vec::with_capacity(lines.len());
    let mut bases: std::collections::BTreeMap<i64, RateBase> = std::collections::BTreeMap::new();
    let (mut subtotal, mut discount) = (0_i128, 0_i128);
    for line in lines {
        let a = line_amounts(line)?;
        subtotal += i128::from(a.gross_minor);
        discount += i128::from(a.discount_minor);
        let base = bases.entry(line.tax_rate_bp).or_default();
        base.base += i128::from(a.net_minor);
        match line.stated {
            Some(stated) => base.stated_tax += i128::from(stated.tax_minor),
            None => base.computed_base += i128::from(a.net_minor),
        }
        amounts.push(a);
    }
    let mut taxes = Vec::with_capacity(bases.len());
    let mut tax_total = 0_i128;
    for (
        rate_bp,
        RateBase {
            base,
            computed_base,
            stated_tax,
        },
    ) in bases
    {
        let tax = div_round(computed_base * i128::from(rate_bp), i128::from(BP_SCALE)) + stated_tax;
        tax_total += tax;
        taxes.push(TaxLine {
            rate_bp,
            base_minor: fits("lines", base)?,
            tax_minor: fits("lines", tax)?,
        });
    }
    Ok(Totals {
        lines: amounts,
        subtotal_minor: fits("lines", subtotal)?,
        discount_minor: fits("lines", discount)?,
        taxes,
        tax_minor: fits("lines", tax_total)?,
        total_minor: fits("lines", subtotal - discount + tax_total)?,
    })
}

/// A quote, order, invoice or return (`document`) has at least one line.
pub fn require_lines(document: &str, lines: usize) -> Result<(), Violation> {
    if lines == 0 {
        return Err(Violation::new(
            "lines",
            format!("a {document} needs at least one line"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(qty: &str, price: i64, discount_bp: i64, tax_rate_bp: i64) -> LineInput {
        LineInput {
            quantity: Quantity::parse("q", qty).unwrap(),
            unit_price_minor: price,
            discount_bp,
            tax_rate_bp,
            stated: None,
        }
    }

    #[test]
    fn stated_lines_keep_their_amounts_and_tax_beside_computed_ones() {
        let stated = LineInput {
            stated: Some(StatedAmounts {
                gross_minor: 1000,
                discount_minor: 333,
                tax_minor: 141,
            }),
            ..line("3", 1, 0, 2100)
        };
        let t = compute(&[stated, line("1", 1000, 0, 2100)]).unwrap();
        assert_eq!(t.lines[0].net_minor, 667);
        // 141 as stated, plus 21% of the computed line's 1000.
        assert_eq!(t.taxes[0].tax_minor, 141 + 210);
        assert_eq!(t.taxes[0].base_minor, 1667);
        assert_eq!(t.total_minor, 2000 - 333 + 351);
    }

    #[test]
    fn a_portion_of_stated_amounts_rounds_each_half_away_from_zero() {
        let whole = StatedAmounts {
            gross_minor: 1000,
            discount_minor: 333,
            tax_minor: 141,
        };
        let third = whole
            .portion(Quantity::from_milli(1000), Quantity::from_milli(3000))
            .unwrap();
        assert_eq!(
            (third.gross_minor, third.discount_minor, third.tax_minor),
            (333, 111, 47)
        );
        assert_eq!(
            whole
                .portion(Quantity::from_milli(3000), Quantity::from_milli(3000))
                .unwrap(),
            whole
        );
    }

    #[test]
    fn simple_line_with_tax() {
        let t = compute(&[line("2", 1000, 0, 2100)]).unwrap();
        assert_eq!(
            (
                t.subtotal_minor,
                t.discount_minor,
                t.tax_minor,
                t.total_minor
            ),
            (2000, 0, 420, 2420)
        );
    }

    #[test]
    fn thirds_round_to_the_nearest_cent() {
        let t = compute(&[
            line("0.333", 100, 0, 0),
            line("0.333", 100, 0, 0),
            line("0.334", 100, 0, 0),
        ])
        .unwrap();
        assert_eq!(
            t.lines.iter().map(|l| l.gross_minor).collect::<Vec<_>>(),
            vec![33, 33, 33]
        );
        assert_eq!(t.total_minor, 99);
    }

    #[test]
    fn a_third_discount() {
        let t = compute(&[line("1", 1000, 3333, 0)]).unwrap();
        assert_eq!(t.discount_minor, 333, "333.3 rounds down");
        assert_eq!(t.total_minor, 667);
    }

    #[test]
    fn half_unit_ties_round_away_from_zero() {
        assert_eq!(
            compute(&[line("0.5", 1, 0, 0)]).unwrap().total_minor,
            1,
            "0.5 -> 1"
        );
        assert_eq!(
            compute(&[line("1.5", 1, 0, 0)]).unwrap().total_minor,
            2,
            "1.5 -> 2"
        );
        assert_eq!(
            compute(&[line("2.5", 1, 0, 0)]).unwrap().total_minor,
            3,
            "2.5 -> 3, not banker's 2"
        );
    }

    #[test]
    fn tax_tie_rounds_up() {
        let t = compute(&[line("1", 50, 0, 1000)]).unwrap();
        assert_eq!(t.tax_minor, 5, "5.0");
        let t = compute(&[line("1", 25, 0, 1000)]).unwrap();
        assert_eq!(t.tax_minor, 3, "2.5 -> 3");
    }

    #[test]
    fn full_discount_leaves_nothing_to_tax() {
        let t = compute(&[line("3", 999, 10000, 2100)]).unwrap();
        assert_eq!(
            (
                t.subtotal_minor,
                t.discount_minor,
                t.tax_minor,
                t.total_minor
            ),
            (2997, 2997, 0, 0)
        );
    }

    #[test]
    fn mixed_rates_are_taxed_per_rate_on_the_sum() {
        let t = compute(&[
            line("1", 333, 0, 2100),
            line("1", 333, 0, 2100),
            line("1", 1000, 0, 1000),
            line("1", 500, 0, 0),
        ])
        .unwrap();
        let rates: Vec<(i64, i64, i64)> = t
            .taxes
            .iter()
            .map(|x| (x.rate_bp, x.base_minor, x.tax_minor))
            .collect();
        assert_eq!(
            rates,
            vec![(0, 500, 0), (1000, 1000, 100), (2100, 666, 140)]
        );
        assert_eq!(t.tax_minor, 240);
        assert_eq!(t.total_minor, 2166 + 240);
    }

    #[test]
    fn per_rate_tax_differs_from_per_line_rounding() {
        // Per line: 0.21 * 5 = 1.05 -> 1 each, 3 in total; on the sum 15 * 0.21 = 3.15 -> 3.
        // With 7 cents: per line 1.47 -> 1 each (3); on the sum 21 * .21 = 4.41 -> 4.
        let t = compute(&[
            line("1", 7, 0, 2100),
            line("1", 7, 0, 2100),
            line("1", 7, 0, 2100),
        ])
        .unwrap();
        assert_eq!(t.tax_minor, 4);
    }

    #[test]
    fn discount_and_fractional_quantity_together() {
        let t = compute(&[line("2.5", 1999, 1500, 2100)]).unwrap();
        assert_eq!(t.lines[0].gross_minor, 4998, "4997.5 -> 4998");
        assert_eq!(t.lines[0].discount_minor, 750, "749.7 -> 750");
        assert_eq!(t.lines[0].net_minor, 4248);
        assert_eq!(t.tax_minor, 892, "892.08");
        assert_eq!(t.total_minor, 5140);
    }

    #[test]
    fn zero_price_and_empty_documents() {
        assert_eq!(compute(&[line("5", 0, 0, 2100)]).unwrap().total_minor, 0);
        let empty = compute(&[]).unwrap();
        assert_eq!((empty.total_minor, empty.taxes.len()), (0, 0));
    }

    #[test]
    fn large_quantities_near_the_limit_compute_exactly() {
        let t = compute(&[line("1000000000", 9_000_000_000, 0, 0)]).unwrap();
        assert_eq!(t.total_minor, 9_000_000_000_000_000_000);
    }

    #[test]
    fn overflow_is_an_error_not_a_panic() {
        assert!(compute(&[line("1000000000", i64::MAX, 0, 0)]).is_err());
        let near = line("1000000000", 9_000_000_000, 0, 0);
        assert!(compute(&[near, near]).is_err(), "the sum overflows");
        assert!(
            compute(&[line("1000000000", 9_000_000_000, 0, 10000)]).is_err(),
            "the tax overflows"
        );
    }

    #[test]
    fn many_small_lines_sum_exactly() {
        let lines: Vec<LineInput> = (0..1000).map(|_| line("0.001", 1, 0, 0)).collect();
        let t = compute(&lines).unwrap();
        assert_eq!(t.subtotal_minor, 0, "each 0.001 cent rounds to 0");
    }

    #[test]
    fn a_document_needs_a_line() {
        assert_eq!(
            require_lines("quote", 0).unwrap_err().message,
            "a quote needs at least one line"
        );
        assert!(require_lines("order", 1).is_ok());
    }
}
