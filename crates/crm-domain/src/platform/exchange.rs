//! Exchange rates and conversion into the base currency, exactly.

use std::fmt;

use crate::platform::money::Currency;
use crate::Violation;

/// Decimal places a rate may have.
const RATE_DECIMALS: u32 = 10;
const RATE_SCALE: i128 = 10_i128.pow(RATE_DECIMALS);

/// How many units of the base currency one unit of another currency is worth, held exactly as
/// a fixed-point decimal with ten places.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate(i128);

impl Rate {
    /// Parses a positive decimal string such as `"1.0856"`, with at most ten decimals.
    pub fn parse(field: &str, text: &str) -> Result<Self, Violation> {
        let invalid = || {
            Violation::new(
                field,
                "must be a positive decimal string with at most 10 decimals, such as \"1.0856\"",
            )
        };
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        if whole.is_empty()
            || whole.len() > 12
            || fraction.len() > RATE_DECIMALS as usize
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !fraction.bytes().all(|b| b.is_ascii_digit())
            || (text.contains('.') && fraction.is_empty())
        {
            return Err(invalid());
        }
        let whole: i128 = whole.parse().map_err(|_| invalid())?;
        let fraction: i128 = format!("{fraction:0<10}").parse().map_err(|_| invalid())?;
        let scaled = whole * RATE_SCALE + fraction;
        if scaled == 0 {
            return Err(Violation::new(field, "must be greater than zero"));
        }
        Ok(Rate(scaled))
    }

    pub fn one() -> Self {
        Rate(RATE_SCALE)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / RATE_SCALE;
        let fraction = self.0 % RATE_SCALE;
        if fraction == 0 {
            write!(f, "{whole}")
        } else {
            let digits = format!("{fraction:010}");
            write!(f, "{whole}.{}", digits.trim_end_matches('0'))
        }
    }
}

fn exponent(currency: Currency) -> u32 {
    iso_currency::Currency::from_code(currency.as_str())
        .and_then(|c| c.exponent())
        .map_or(2, u32::from)
}

/// Converts minor units of `from` into minor units of `to` at `rate` (units of `to` per unit of
/// `from`), minding the currencies' decimals (JPY has none, EUR two), rounding half away from
/// zero. Too large a result is an error.
pub fn convert(
    amount_minor: i64,
    from: Currency,
    to: Currency,
    rate: Rate,
) -> Result<i64, Violation> {
    if from == to {
        return Ok(amount_minor);
    }
    let (from_exp, to_exp) = (exponent(from), exponent(to));
    let mut numerator = i128::from(amount_minor) * rate.0;
    let mut denominator = RATE_SCALE;
    if to_exp >= from_exp {
        numerator *= 10_i128.pow(to_exp - from_exp);
    } else {
        denominator *= 10_i128.pow(from_exp - to_exp);
    }
    let quotient = numerator / denominator;
    let remainder = numerator % denominator;
    let rounded = if remainder.abs() * 2 >= denominator {
        quotient + numerator.signum()
    } else {
        quotient
    };
    i64::try_from(rounded).map_err(|_| Violation::new("amount", "too large to convert"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(code: &str) -> Currency {
        code.parse().unwrap()
    }

    #[test]
    fn rates_parse_exactly() {
        assert_eq!(Rate::parse("rate", "1.0856").unwrap().to_string(), "1.0856");
        assert_eq!(Rate::parse("rate", "2").unwrap().to_string(), "2");
        for bad in ["0", "-1", "1.", "abc", "1.12345678901", "1e3"] {
            assert!(Rate::parse("rate", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn converts_between_two_decimal_currencies() {
        let rate = Rate::parse("rate", "0.9").unwrap();
        assert_eq!(convert(10_000, c("USD"), c("EUR"), rate).unwrap(), 9_000);
        let rate = Rate::parse("rate", "0.92345").unwrap();
        assert_eq!(
            convert(101, c("USD"), c("EUR"), rate).unwrap(),
            93,
            "93.26845 -> 93"
        );
        assert_eq!(
            convert(
                150,
                c("USD"),
                c("EUR"),
                Rate::parse("rate", "0.01").unwrap()
            )
            .unwrap(),
            2,
            "1.5 -> 2"
        );
    }

    #[test]
    fn minds_currencies_without_decimals() {
        let rate = Rate::parse("rate", "0.0062").unwrap();
        assert_eq!(
            convert(10_000, c("JPY"), c("EUR"), rate).unwrap(),
            6_200,
            "10000 yen = 62.00 EUR"
        );
        let rate = Rate::parse("rate", "161.5").unwrap();
        assert_eq!(
            convert(1_000, c("EUR"), c("JPY"), rate).unwrap(),
            1_615,
            "10.00 EUR = 1615 yen"
        );
    }

    #[test]
    fn same_currency_is_unchanged() {
        assert_eq!(convert(123, c("EUR"), c("EUR"), Rate::one()).unwrap(), 123);
    }
}
