//! Money as integer minor units with an ISO 4217 currency, and quantities as exact decimals.

use std::fmt;
use std::str::FromStr;

use crate::Violation;

/// An ISO 4217 currency code such as `EUR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

impl Currency {
    /// The default base currency.
    pub const EUR: Currency = Currency(*b"EUR");

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl FromStr for Currency {
    type Err = Violation;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let known = iso_currency::Currency::from_code(s).is_some();
        match s.as_bytes() {
            [a, b, c] if known => Ok(Currency([*a, *b, *c])),
            _ => Err(Violation::new(
                "currency",
                format!("`{s}` is not an ISO 4217 currency code"),
            )),
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every code `Currency` accepts, for the API's schema to list.
pub fn currency_codes() -> Vec<&'static str> {
    use iso_currency::IntoEnumIterator;
    iso_currency::Currency::iter().map(|c| c.code()).collect()
}

/// An amount in minor units (cents) of a currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money {
    pub amount_minor: i64,
    pub currency: Currency,
}

/// A quantity with at most three decimals, held exactly as thousandths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Quantity(i64);

/// The largest quantity accepted: a billion units.
pub const MAX_QUANTITY_MILLI: i64 = 1_000_000_000_000;

impl Quantity {
    pub fn from_milli(milli: i64) -> Self {
        Quantity(milli)
    }

    pub fn milli(self) -> i64 {
        self.0
    }

    /// Parses `"2"`, `"2.5"` or `"0.125"`: positive, at most three decimals, no exponent.
    pub fn parse(field: &str, text: &str) -> Result<Self, Violation> {
        let invalid = || {
            Violation::new(
                field,
                "must be a positive decimal string with at most 3 decimals, such as \"2\" or \"2.5\"",
            )
        };
        let (whole, fraction) = match text.split_once('.') {
            Some((w, f)) => (w, f),
            None => (text, ""),
        };
        if whole.is_empty()
            || fraction.len() > 3
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !fraction.bytes().all(|b| b.is_ascii_digit())
            || (text.contains('.') && fraction.is_empty())
        {
            return Err(invalid());
        }
        let whole: i64 = whole.parse().map_err(|_| invalid())?;
        let fraction: i64 = format!("{fraction:0<3}").parse().map_err(|_| invalid())?;
        let milli = whole
            .checked_mul(1000)
            .and_then(|w| w.checked_add(fraction))
            .ok_or_else(invalid)?;
        if milli == 0 {
            return Err(Violation::new(field, "must be greater than zero"));
        }
        if milli > MAX_QUANTITY_MILLI {
            return Err(Violation::new(field, "must be at most 1000000000"));
        }
        Ok(Quantity(milli))
    }
}

impl fmt::Display for Quantity {
    /// The shortest exact decimal: `2`, `2.5`, `0.125`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / 1000;
        let fraction = self.0 % 1000;
        if fraction == 0 {
            write!(f, "{whole}")
        } else {
            let digits = format!("{fraction:03}");
            write!(f, "{whole}.{}", digits.trim_end_matches('0'))
        }
    }
}

/// Basis points: `2100` is 21%.
pub const BP_SCALE: i64 = 10_000;

pub fn check_discount_bp(field: &str, bp: i64) -> Result<i64, Violation> {
    check_share_bp(field, bp)
}

pub fn check_tax_rate_bp(field: &str, bp: i64) -> Result<i64, Violation> {
    check_share_bp(field, bp)
}

/// A share of an amount, from nothing to all of it.
fn check_share_bp(field: &str, bp: i64) -> Result<i64, Violation> {
    if (0..=BP_SCALE).contains(&bp) {
        Ok(bp)
    } else {
        Err(Violation::new(
            field,
            "must be between 0 and 10000 basis points",
        ))
    }
}

/// `total + amount`, or a violation of `field` when the sum leaves the range of i64: a report
/// says it cannot add its figures up, never a wrapped number.
pub fn add_minor(field: &str, total: i64, amount: i64) -> Result<i64, Violation> {
    total
        .checked_add(amount)
        .ok_or_else(|| Violation::new(field, "the sum is too large to represent"))
}

pub fn check_amount(field: &str, amount_minor: i64) -> Result<i64, Violation> {
    if amount_minor < 0 {
        Err(Violation::new(field, "must not be negative"))
    } else {
        Ok(amount_minor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currencies_are_iso_4217() {
        assert_eq!("EUR".parse::<Currency>().unwrap().as_str(), "EUR");
        assert!("eur".parse::<Currency>().is_err());
        assert!("EURO".parse::<Currency>().is_err());
        assert!("ABC".parse::<Currency>().is_err());
    }

    #[test]
    fn quantities_parse_exactly() {
        assert_eq!(Quantity::parse("q", "2").unwrap().milli(), 2000);
        assert_eq!(Quantity::parse("q", "2.5").unwrap().milli(), 2500);
        assert_eq!(Quantity::parse("q", "0.125").unwrap().milli(), 125);
        assert_eq!(Quantity::parse("q", "0.001").unwrap().to_string(), "0.001");
        assert_eq!(Quantity::parse("q", "2.50").unwrap().to_string(), "2.5");
    }

    #[test]
    fn bad_quantities_are_refused() {
        for bad in [
            "",
            "-1",
            "0",
            "0.000",
            "1.2345",
            "1e3",
            "1.",
            ".5",
            " 1",
            "abc",
            "99999999999999999999",
        ] {
            assert!(Quantity::parse("q", bad).is_err(), "{bad:?}");
        }
    }
}
