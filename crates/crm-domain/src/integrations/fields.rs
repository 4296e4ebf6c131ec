//! Reading the fields of shop payloads: decimal amounts without floats, ids, times, and the
//! sums that are checked against the shop's own totals.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::MappingError;
use crate::platform::money::{Currency, Quantity};
use crate::sales::totals::div_round;

/// A JSON number reaches us as the float serde_json parsed. Any decimal of at most 15
/// significant digits is the shortest text of its nearest float (15 is f64's guaranteed decimal
/// precision), so the float's shortest text, which `Number::to_string` prints, is the text the
/// shop sent. Longer numbers may have been rounded and are refused.
const EXACT_FLOAT_DIGITS: usize = 15;

/// Keeps every rescaling and every sum of a payload's amounts far inside i128.
const MAX_DIGITS: usize = 30;

/// A decimal number exactly as written: `mantissa × 10^-scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Decimal {
    mantissa: i128,
    scale: u32,
}

impl Decimal {
    /// `12`, `-5.00`, `0.1250`: digits, at most one point with digits on both sides, no exponent.
    fn parse(text: &str) -> Option<Decimal> {
        let (negative, unsigned) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
        let all_digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty()
            || (unsigned.contains('.') && fraction.is_empty())
            || !all_digits(whole)
            || !all_digits(fraction)
            || whole.len() + fraction.len() > MAX_DIGITS
        {
            return None;
        }
        let magnitude: i128 = format!("{whole}{fraction}").parse().ok()?;
        Some(Decimal {
            mantissa: if negative { -magnitude } else { magnitude },
            scale: u32::try_from(fraction.len()).ok()?,
        })
    }

    /// In units of 10^-scale, or `None` when a non-zero digit would be lost.
    fn units_exact(self, scale: u32) -> Option<i128> {
        if scale >= self.scale {
            self.mantissa
                .checked_mul(10_i128.checked_pow(scale - self.scale)?)
        } else {
            let divisor = 10_i128.checked_pow(self.scale - scale)?;
            (self.mantissa % divisor == 0).then_some(self.mantissa / divisor)
        }
    }

    /// In units of 10^-scale, rounded half away from zero.
    fn units_rounded(self, scale: u32) -> Option<i128> {
        if scale >= self.scale {
            self.units_exact(scale)
        } else {
            Some(div_round(
                self.mantissa,
                10_i128.checked_pow(self.scale - scale)?,
            ))
        }
    }
}

/// The decimal text of an amount sent as a JSON string or a JSON number.
fn decimal_text(value: &Value) -> Result<String, String> {
    match value {
        Value::String(text) => Ok(text.clone()),
        Value::Number(number) if number.is_i64() || number.is_u64() => Ok(number.to_string()),
        Value::Number(number) => {
            let text = number.to_string();
            let significant = text
                .chars()
                .filter(char::is_ascii_digit)
                .skip_while(|&c| c == '0')
                .count();
            if significant > EXACT_FLOAT_DIGITS {
                Err(format!(
                    "{text} has more digits than a JSON number carries exactly; send it as a string"
                ))
            } else {
                Ok(text)
            }
        }
        _ => Err("must be a decimal number or a string holding one".to_owned()),
    }
}

fn decimal(path: &str, value: &Value) -> Result<Decimal, MappingError> {
    let text = decimal_text(value).map_err(|message| MappingError::new(path, message))?;
    Decimal::parse(&text)
        .ok_or_else(|| MappingError::new(path, format!("`{text}` is not a decimal number")))
}

/// Decimal text in minor units of a currency with `exponent` decimals. Zeros past the exponent
/// change nothing and are accepted (`"1500.00"` yen is 1500); any other digit past it would
/// have to be rounded away, so the amount is refused instead.
pub fn parse_amount(path: &str, text: &str, exponent: u32) -> Result<i64, MappingError> {
    let decimal = Decimal::parse(text)
        .ok_or_else(|| MappingError::new(path, format!("`{text}` is not a decimal number")))?;
    in_units(path, decimal, exponent)
}

fn in_units(path: &str, decimal: Decimal, scale: u32) -> Result<i64, MappingError> {
    let units = decimal
        .units_exact(scale)
        .ok_or_else(|| MappingError::new(path, format!("has more than {scale} decimals")))?;
    i64::try_from(units).map_err(|_| MappingError::new(path, "is too large"))
}

/// An amount given as a JSON string or number, in minor units.
pub(crate) fn amount(path: &str, value: &Value, exponent: u32) -> Result<i64, MappingError> {
    in_units(path, decimal(path, value)?, exponent)
}

/// An amount that the shop keeps with more decimals than its currency has (WooCommerce's line
/// taxes), exactly, in units of 10^-scale.
pub(crate) fn fine_amount(path: &str, value: &Value, scale: u32) -> Result<i128, MappingError> {
    decimal(path, value)?
        .units_exact(scale)
        .ok_or_else(|| MappingError::new(path, format!("has more than {scale} decimals")))
}

/// A tax rate in basis points, from a fraction (`0.13`, `scale` 4) or a percentage (`8.875`,
/// `scale` 2). A rate finer than a basis point is rounded to the nearest one: its amounts are
/// stored as stated, so the rate only describes them.
pub(crate) fn rate_bp(path: &str, value: &Value, scale: u32) -> Result<i64, MappingError> {
    let bp = decimal(path, value)?
        .units_rounded(scale)
        .and_then(|bp| i64::try_from(bp).ok())
        .ok_or_else(|| MappingError::new(path, "is too large"))?;
    if bp < 0 {
        return Err(MappingError::new(path, "a tax rate cannot be negative"));
    }
    Ok(bp)
}

pub(crate) fn quantity(path: &str, value: &Value) -> Result<Quantity, MappingError> {
    let text = decimal_text(value).map_err(|message| MappingError::new(path, message))?;
    Ok(Quantity::parse(path, &text)?)
}

/// `unit × quantity` in minor units; the shop charged it, so it must be whole.
pub(crate) fn times_quantity(
    path: &str,
    unit_minor: i64,
    quantity: Quantity,
) -> Result<i64, MappingError> {
    let milli = i128::from(unit_minor) * i128::from(quantity.milli());
    if milli % 1000 != 0 {
        return Err(MappingError::new(
            path,
            "price × quantity is not a whole number of minor units",
        ));
    }
    i64::try_from(milli / 1000)
        .map_err(|_| MappingError::new(path, "price × quantity is too large"))
}

/// The currency of a payload, with the number of decimals of its minor unit.
pub(crate) fn currency(path: &str, code: &str) -> Result<(Currency, u32), MappingError> {
    let currency: Currency = code
        .parse()
        .map_err(|v: crate::Violation| MappingError::new(path, v.message))?;
    let exponent = iso_currency::Currency::from_code(code)
        .and_then(|c| c.exponent())
        .ok_or_else(|| {
            MappingError::new(
                path,
                format!("{code} has no minor unit to count amounts in"),
            )
        })?;
    Ok((currency, u32::from(exponent)))
}

/// Ids arrive as JSON integers (up to 64 bits, which a float would corrupt) or strings.
pub(crate) fn id_text(path: &str, value: &Value) -> Result<String, MappingError> {
    match value {
        Value::Number(n) if n.is_u64() || n.is_i64() => Ok(n.to_string()),
        Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
        _ => Err(MappingError::new(
            path,
            "must be an integer or a non-empty string",
        )),
    }
}

/// `prefix.name`, or `name` at the top of a payload.
pub(crate) fn at(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

/// Shops send absent text as `null` or `""` alike.
pub(crate) fn non_empty(text: Option<&str>) -> Option<String> {
    text.map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

/// An RFC 3339 instant, or one without an offset, which is UTC (WooCommerce's `*_gmt` fields).
pub(crate) fn instant(
    path: &str,
    text: Option<&str>,
) -> Result<Option<DateTime<Utc>>, MappingError> {
    let Some(text) = non_empty(text) else {
        return Ok(None);
    };
    if let Ok(at) = DateTime::parse_from_rfc3339(&text) {
        return Ok(Some(at.with_timezone(&Utc)));
    }
    NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S%.f")
        .map(|at| Some(at.and_utc()))
        .map_err(|_| MappingError::new(path, format!("`{text}` is not an RFC 3339 time")))
}

/// Sums in i128, where no payload's amounts can overflow: sums are compared, never stored.
pub(crate) fn sum(amounts: impl IntoIterator<Item = i64>) -> i128 {
    amounts.into_iter().map(i128::from).sum()
}

/// Compares a total the shop states with the sum of its parts, naming both in the error.
pub(crate) fn check_total(
    field: &str,
    parts: &str,
    computed: i128,
    stated: i64,
    exponent: u32,
) -> Result<(), MappingError> {
    if computed == i128::from(stated) {
        return Ok(());
    }
    Err(MappingError::new(
        field,
        format!(
            "{parts} = {} but {field} is {}",
            format_minor(computed, exponent),
            format_minor(i128::from(stated), exponent)
        ),
    ))
}

/// Minor units as decimal text: `1001` with exponent 2 is `10.01`.
pub(crate) fn format_minor(minor: i128, exponent: u32) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let digits = minor.unsigned_abs().to_string();
    let width = usize::try_from(exponent).unwrap_or(0);
    if width == 0 {
        return format!("{sign}{digits}");
    }
    let padded = format!("{digits:0>w$}", w = width + 1);
    let (whole, fraction) = padded.split_at(padded.len() - width);
    format!("{sign}{whole}.{fraction}")
}

/// Rounds exact amounts (in units of `unit` per minor unit) to minor units that add up to
/// `target`, a total the shop rounded once over all of them. Each amount is rounded to its
/// nearest minor unit; what the roundings miss of the total goes one unit at a time to the
/// amounts that rounding moved furthest the other way. `None` when the exact amounts are a
/// minor unit or more away from the target, which no rounding explains.
pub(crate) fn round_to_total(exact: &[i128], unit: i128, target: i64) -> Option<Vec<i64>> {
    let exact_total: i128 = exact.iter().sum();
    if (exact_total - i128::from(target) * unit).abs() >= unit {
        return None;
    }
    let mut rounded: Vec<i128> = exact.iter().map(|&e| div_round(e, unit)).collect();
    let mut missing = i128::from(target) - rounded.iter().sum::<i128>();
    let step = missing.signum();
    let mut order: Vec<usize> = (0..exact.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse((exact[i] - rounded[i] * unit) * step));
    for i in order {
        if missing == 0 {
            break;
        }
        rounded[i] += step;
        missing -= step;
    }
    if missing != 0 {
        return None;
    }
    rounded.into_iter().map(|r| i64::try_from(r).ok()).collect()
}

/// Deserializes a list that shops send as `null` when it is empty.
pub(crate) fn list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

/// A payload read into the shape `T`, or a 422 naming where it differs from that shape.
pub(crate) fn shaped<T: serde::de::DeserializeOwned>(payload: &Value) -> Result<T, MappingError> {
    serde_path_to_error::deserialize(payload).map_err(|e| {
        let path = e.path().to_string();
        MappingError::new(path, e.into_inner().to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn amounts_are_read_from_their_text() {
        assert_eq!(parse_amount("a", "195.66", 2).unwrap(), 19566);
        assert_eq!(parse_amount("a", "-5.00", 2).unwrap(), -500);
        assert_eq!(parse_amount("a", "3", 2).unwrap(), 300);
        assert_eq!(parse_amount("a", "1500", 0).unwrap(), 1500);
        assert_eq!(parse_amount("a", "1500.00", 0).unwrap(), 1500);
        assert_eq!(parse_amount("a", "0.125", 3).unwrap(), 125);
    }

    #[test]
    fn amounts_that_would_need_rounding_or_are_not_decimals_are_refused() {
        let err = parse_amount("line_items[0].price", "1.4784", 2).unwrap_err();
        assert_eq!(err.field, "line_items[0].price");
        assert_eq!(err.message, "has more than 2 decimals");
        assert!(parse_amount("a", "1500.5", 0).is_err());
        for bad in [
            "", "-", "1.", ".5", "1e3", "1,00", " 1", "+1", "0x10", "--1",
        ] {
            assert!(parse_amount("a", bad, 2).is_err(), "{bad:?}");
        }
        assert!(parse_amount("a", "99999999999999999999", 2).is_err());
    }

    #[test]
    fn json_numbers_are_read_without_float_arithmetic() {
        assert_eq!(amount("a", &json!(195.66), 2).unwrap(), 19566);
        assert_eq!(amount("a", &json!(0.0), 2).unwrap(), 0);
        assert_eq!(amount("a", &json!(3), 2).unwrap(), 300);
        assert_eq!(amount("a", &json!(0.3), 2).unwrap(), 30);
        assert_eq!(amount("a", &json!(1e-7), 2).unwrap_err().field, "a");
        // 16 digits may already be the float's rounding of what the shop wrote.
        let err = amount("a", &json!(12345678901234.56), 2).unwrap_err();
        assert!(err.message.ends_with("send it as a string"), "{err}");
        assert_eq!(
            amount("a", &json!("12345678901234.56"), 2).unwrap(),
            1234567890123456
        );
        assert!(amount("a", &json!(true), 2).is_err());
        assert!(amount("a", &json!(null), 2).is_err());
    }

    #[test]
    fn rates_round_to_the_nearest_basis_point() {
        assert_eq!(rate_bp("r", &json!(0.13), 4).unwrap(), 1300);
        assert_eq!(rate_bp("r", &json!("0.0825"), 4).unwrap(), 825);
        assert_eq!(rate_bp("r", &json!(0.08875), 4).unwrap(), 888);
        assert_eq!(rate_bp("r", &json!(20), 2).unwrap(), 2000);
        assert_eq!(rate_bp("r", &json!("8.8750"), 2).unwrap(), 888);
        assert!(rate_bp("r", &json!(-0.1), 4).is_err());
    }

    #[test]
    fn minor_units_print_with_the_currency_decimals() {
        assert_eq!(format_minor(1001, 2), "10.01");
        assert_eq!(format_minor(5, 2), "0.05");
        assert_eq!(format_minor(-5, 2), "-0.05");
        assert_eq!(format_minor(1500, 0), "1500");
        assert_eq!(format_minor(7, 3), "0.007");
    }

    #[test]
    fn currencies_without_minor_units_are_refused() {
        assert_eq!(currency("currency", "JPY").unwrap().1, 0);
        assert_eq!(currency("currency", "EUR").unwrap().1, 2);
        assert_eq!(currency("currency", "KWD").unwrap().1, 3);
        assert_eq!(currency("currency", "XAU").unwrap_err().field, "currency");
        assert_eq!(currency("currency", "EURO").unwrap_err().field, "currency");
    }

    #[test]
    fn rounding_to_a_total_moves_the_fewest_and_closest_units() {
        // Three lines of 0.3333 each rounded to 0.33, where the shop rounded the sum to 1.00.
        assert_eq!(
            round_to_total(&[3333, 3333, 3333], 100, 100),
            Some(vec![34, 33, 33])
        );
        // Half-cents each rounded up, where the shop rounded their sum 0.67 once.
        assert_eq!(round_to_total(&[3350, 3350], 100, 67), Some(vec![33, 34]));
        assert_eq!(
            round_to_total(&[14784, 20000], 100, 348),
            Some(vec![148, 200])
        );
        assert_eq!(
            round_to_total(&[14784, 29568], 100, 444),
            Some(vec![148, 296])
        );
        assert_eq!(round_to_total(&[], 100, 0), Some(vec![]));
        // A cent away from exact figures is not rounding.
        assert_eq!(round_to_total(&[100, 200], 1, 301), None);
        assert_eq!(round_to_total(&[14784], 100, 150), None);
    }

    #[test]
    fn times_take_offsets_or_are_utc() {
        let shopify = instant("t", Some("2024-03-01T10:15:00-05:00"))
            .unwrap()
            .unwrap();
        let woo = instant("t", Some("2024-03-01T15:15:00")).unwrap().unwrap();
        assert_eq!(shopify, woo);
        assert_eq!(instant("t", Some("")).unwrap(), None);
        assert_eq!(instant("t", None).unwrap(), None);
        assert_eq!(instant("t", Some("yesterday")).unwrap_err().field, "t");
    }

    #[test]
    fn ids_keep_every_digit_of_64_bit_integers() {
        let id = json!(820982911946154508_u64);
        assert_eq!(id_text("id", &id).unwrap(), "820982911946154508");
        assert_eq!(id_text("id", &json!("gid-7")).unwrap(), "gid-7");
        assert!(id_text("id", &json!(1.5)).is_err());
        assert!(id_text("id", &json!("")).is_err());
    }
}
