//! The filter language every list shares (`filter=`), its typed form, and a pure evaluator.
//!
//! ```text
//! expr  = ("and"|"or") "(" expr ("," expr)* ")" | "not(" expr ")" | path "." op ["." value]
//! op    = eq|neq|lt|lte|gt|gte|in|contains|starts_with|is      (is takes null)
//! value = bare | '"' (char|'\"'|'\\')* '"' | "(" value ("," value)* ")"
//! ```
//!
//! Parsing gives an [`Expr`] of raw text; [`check`] types it against the fields a list offers
//! (built-in and custom), so that the store compiles only known paths with canonical values,
//! bound as parameters. A date or instant may be written relative to the moment the filter is
//! checked (`-180d`, `2w`, `-6m`, `1y`), so a saved segment means the same thing every day.
//! Logic is two-valued: a comparison with null is false (`neq` too), and
//! `not(c)` is true exactly when `c` is false; the SQL compiler and [`evaluate`] agree on that.

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, NaiveDateTime, Utc};

use crate::Violation;

/// The longest filter accepted, in bytes.
pub const MAX_LENGTH: usize = 4_000;
/// How deeply `and`, `or` and `not` may nest.
pub const MAX_DEPTH: usize = 8;
/// How many comparisons one filter may hold.
pub const MAX_COMPARISONS: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Neq,
    Lt,
    Lte,
    Gt,
    Gte,
    In,
    Contains,
    StartsWith,
    Is,
}

impl Op {
    pub const ALL: [Op; 10] = [
        Op::Eq,
        Op::Neq,
        Op::Lt,
        Op::Lte,
        Op::Gt,
        Op::Gte,
        Op::In,
        Op::Contains,
        Op::StartsWith,
        Op::Is,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Neq => "neq",
            Op::Lt => "lt",
            Op::Lte => "lte",
            Op::Gt => "gt",
            Op::Gte => "gte",
            Op::In => "in",
            Op::Contains => "contains",
            Op::StartsWith => "starts_with",
            Op::Is => "is",
        }
    }

    fn parse(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.as_str() == name)
    }
}

/// A value as written: one item, or a parenthesised list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Literal {
    One(String),
    List(Vec<String>),
}

/// A parsed filter, before its paths and values are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Compare {
        path: String,
        op: Op,
        value: Option<Literal>,
    },
}

fn violation(message: impl Into<String>) -> Violation {
    Violation::new("filter", message)
}

struct Parser<'a> {
    text: &'a str,
    at: usize,
    comparisons: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.text[self.at..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn expect(&mut self, wanted: char) -> Result<(), Violation> {
        if self.peek() == Some(wanted) {
            self.at += wanted.len_utf8();
            Ok(())
        } else {
            Err(violation(format!(
                "expected `{wanted}` at character {}",
                self.at + 1
            )))
        }
    }

    fn expr(&mut self, depth: usize) -> Result<Expr, Violation> {
        if depth > MAX_DEPTH {
            return Err(violation(format!("nests deeper than {MAX_DEPTH} levels")));
        }
        for (keyword, group) in [("and(", true), ("or(", false)] {
            if self.rest().starts_with(keyword) {
                self.at += keyword.len();
                let mut items = vec![self.expr(depth + 1)?];
                while self.peek() == Some(',') {
                    self.at += 1;
                    items.push(self.expr(depth + 1)?);
                }
                self.expect(')')?;
                return Ok(if group {
                    Expr::And(items)
                } else {
                    Expr::Or(items)
                });
            }
        }
        if self.rest().starts_with("not(") {
            self.at += 4;
            let inner = self.expr(depth + 1)?;
            self.expect(')')?;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, Violation> {
        self.comparisons += 1;
        if self.comparisons > MAX_COMPARISONS {
            return Err(violation(format!(
                "holds more than {MAX_COMPARISONS} comparisons"
            )));
        }
        let start = self.at;
        let head_len = self
            .rest()
            .find([',', ')', '(', '"'])
            .unwrap_or(self.rest().len());
        let head = &self.text[start..start + head_len];
        let segments: Vec<&str> = head.split('.').collect();
        // The operator is the first segment after the path's first that names one; what
        // follows it is the value, dots and all. No path segment is an operator's name (custom
        // field keys may not be one).
        let op_index = (1..segments.len())
            .find(|&i| Op::parse(segments[i]).is_some())
            .ok_or_else(|| {
                violation(format!(
                    "`{head}` is not `path.op.value`; operators: {}",
                    Op::ALL.map(Op::as_str).join(", ")
                ))
            })?;
        let path = segments[..op_index].join(".");
        let op = Op::parse(segments[op_index]).ok_or_else(|| violation("unknown operator"))?;
        let op_end: usize = segments[..=op_index].iter().map(|s| s.len() + 1).sum();
        if op_end > head_len {
            // The operator ends the head: a value may still follow as a quoted or listed one,
            // which needs its `.` first.
            self.at = start + head_len;
            if self.peek() == Some('(') || self.peek() == Some('"') {
                return Err(violation(format!(
                    "a value follows `{path}.{}` after a `.`",
                    op.as_str()
                )));
            }
            return Ok(Expr::Compare {
                path,
                op,
                value: None,
            });
        }
        self.at = start + op_end;
        let value = self.value(true)?;
        Ok(Expr::Compare {
            path,
            op,
            value: Some(value),
        })
    }

    fn value(&mut self, list_allowed: bool) -> Result<Literal, Violation> {
        match self.peek() {
            Some('"') => self.quoted().map(Literal::One),
            Some('(') if list_allowed => {
                self.at += 1;
                let mut items = vec![self.item()?];
                while self.peek() == Some(',') {
                    self.at += 1;
                    items.push(self.item()?);
                }
                self.expect(')')?;
                Ok(Literal::List(items))
            }
            _ => Ok(Literal::One(self.bare())),
        }
    }

    fn item(&mut self) -> Result<String, Violation> {
        match self.value(false)? {
            Literal::One(item) => Ok(item),
            Literal::List(_) => Err(violation("lists do not nest")),
        }
    }

    fn bare(&mut self) -> String {
        let len = self.rest().find([',', ')']).unwrap_or(self.rest().len());
        let value = self.rest()[..len].to_owned();
        self.at += len;
        value
    }

    fn quoted(&mut self) -> Result<String, Violation> {
        self.at += 1;
        let mut value = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((offset, c)) = chars.next() {
            match c {
                '"' => {
                    self.at += offset + 1;
                    return Ok(value);
                }
                '\\' => match chars.next() {
                    Some((_, escaped @ ('"' | '\\'))) => value.push(escaped),
                    _ => return Err(violation("only `\\\"` and `\\\\` escape in quoted values")),
                },
                c => value.push(c),
            }
        }
        Err(violation("a quoted value is not closed"))
    }
}

/// Parses a filter. Errors name the field `filter`; nothing here panics, whatever the input.
pub fn parse(text: &str) -> Result<Expr, Violation> {
    if text.len() > MAX_LENGTH {
        return Err(violation(format!("is longer than {MAX_LENGTH} bytes")));
    }
    if text.is_empty() {
        return Err(violation("is empty"));
    }
    let mut parser = Parser {
        text,
        at: 0,
        comparisons: 0,
    };
    let expr = parser.expr(0)?;
    if parser.at < text.len() {
        return Err(violation(format!(
            "unexpected `{}` at character {}",
            parser.rest(),
            parser.at + 1
        )));
    }
    Ok(expr)
}

/// What a field holds, which decides its operators and how its values are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// Free text: `eq`, `neq`, `in`, `contains`, `starts_with`.
    Text,
    /// One of `options`.
    Choice(Vec<String>),
    /// Any number of `options` (or any labels when `options` is empty, as tags).
    Set(Vec<String>),
    Integer,
    /// A decimal with this many fractional digits, compared as a scaled integer.
    Decimal(u32),
    Boolean,
    Date,
    Instant,
}

impl Kind {
    pub fn operators(&self) -> &'static [Op] {
        match self {
            Kind::Text => &[
                Op::Eq,
                Op::Neq,
                Op::In,
                Op::Contains,
                Op::StartsWith,
                Op::Is,
            ],
            Kind::Choice(_) => &[Op::Eq, Op::Neq, Op::In, Op::Is],
            Kind::Set(_) => &[Op::Contains, Op::In, Op::Is],
            Kind::Boolean => &[Op::Eq, Op::Neq, Op::Is],
            Kind::Integer | Kind::Decimal(_) | Kind::Date | Kind::Instant => &[
                Op::Eq,
                Op::Neq,
                Op::Lt,
                Op::Lte,
                Op::Gt,
                Op::Gte,
                Op::In,
                Op::Is,
            ],
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Choice(_) => "enum",
            Kind::Set(_) => "multi_enum",
            Kind::Integer => "number",
            Kind::Decimal(_) => "decimal",
            Kind::Boolean => "boolean",
            Kind::Date => "date",
            Kind::Instant => "datetime",
        }
    }

    /// Reads one written value in this kind's canonical form.
    pub fn read(&self, raw: &str) -> Result<Scalar, String> {
        match self {
            Kind::Text => Ok(Scalar::Text(raw.to_owned())),
            Kind::Choice(options) | Kind::Set(options) => {
                if options.is_empty() || options.iter().any(|o| o == raw) {
                    Ok(Scalar::Text(raw.to_owned()))
                } else {
                    Err(format!("is not one of {}", options.join(", ")))
                }
            }
            Kind::Integer => raw
                .parse::<i64>()
                .map(Scalar::Integer)
                .map_err(|_| "is not an integer".to_owned()),
            Kind::Decimal(scale) => parse_scaled(raw, *scale)
                .map(Scalar::Integer)
                .ok_or_else(|| format!("is not a decimal with at most {scale} decimals")),
            Kind::Boolean => match raw {
                "true" => Ok(Scalar::Boolean(true)),
                "false" => Ok(Scalar::Boolean(false)),
                _ => Err("is not true or false".to_owned()),
            },
            Kind::Date => NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                .map(Scalar::Date)
                .map_err(|_| "is not a date (YYYY-MM-DD) or a relative date (-180d)".to_owned()),
            Kind::Instant => read_instant(raw).map(Scalar::Instant).ok_or_else(|| {
                "is not an RFC 3339 instant, a date or a relative date (-180d)".to_owned()
            }),
        }
    }
}

/// An instant in RFC 3339, or a date meaning its midnight in UTC.
pub fn read_instant(raw: &str) -> Option<NaiveDateTime> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc).naive_utc())
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
}

/// `12.5` with scale 2 is `1250`; more decimals than `scale` is not a value.
pub fn parse_scaled(raw: &str, scale: u32) -> Option<i64> {
    let (negative, digits) = match raw.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, raw),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let fraction_len = u32::try_from(fraction.len()).ok()?;
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
        || fraction_len > scale
        || (digits.contains('.') && fraction.is_empty())
    {
        return None;
    }
    let factor = 10i64.checked_pow(scale)?;
    let whole: i64 = whole.parse().ok()?;
    let fraction: i64 = if fraction.is_empty() {
        0
    } else {
        fraction.parse::<i64>().ok()? * 10i64.checked_pow(scale - fraction_len)?
    };
    let value = whole.checked_mul(factor)?.checked_add(fraction)?;
    Some(if negative { -value } else { value })
}

/// A field a list can filter and sort by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSpec {
    /// As written in filters: `email`, `billing_address.country`, `custom.segment`.
    pub path: String,
    pub kind: Kind,
    pub sortable: bool,
}

/// A canonical value, bound as a parameter when compiled.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum Scalar {
    Text(String),
    Integer(i64),
    Boolean(bool),
    Date(NaiveDate),
    Instant(NaiveDateTime),
}

/// A checked filter: every path is a field of the list, every value canonical.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Not(Box<Condition>),
    Compare {
        field: FieldSpec,
        op: Op,
        values: Vec<Scalar>,
    },
    IsNull(FieldSpec),
}

/// Types `expr` against the fields `lookup` knows: an unknown path, an operator the field does
/// not take or a value it cannot hold is a violation of `filter` naming the path. Relative
/// dates count from `now`.
pub fn check(
    expr: &Expr,
    lookup: &impl Fn(&str) -> Option<FieldSpec>,
    now: NaiveDateTime,
) -> Result<Condition, Violation> {
    Ok(match expr {
        Expr::And(items) => Condition::All(
            items
                .iter()
                .map(|e| check(e, lookup, now))
                .collect::<Result<_, _>>()?,
        ),
        Expr::Or(items) => Condition::Any(
            items
                .iter()
                .map(|e| check(e, lookup, now))
                .collect::<Result<_, _>>()?,
        ),
        Expr::Not(inner) => Condition::Not(Box::new(check(inner, lookup, now)?)),
        Expr::Compare { path, op, value } => {
            let field = lookup(path).ok_or_else(|| violation(format!("unknown path `{path}`")))?;
            if !field.kind.operators().contains(op) {
                return Err(violation(format!(
                    "`{path}` ({}) does not take `{}`; it takes {}",
                    field.kind.name(),
                    op.as_str(),
                    field
                        .kind
                        .operators()
                        .iter()
                        .map(|o| o.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            match (op, value) {
                (Op::Is, Some(Literal::One(v))) if v == "null" => Condition::IsNull(field),
                (Op::Is, _) => return Err(violation(format!("`{path}.is` takes only `null`"))),
                (_, None) => {
                    return Err(violation(format!("`{path}.{}` needs a value", op.as_str())))
                }
                (Op::In, Some(literal)) => {
                    let items = match literal {
                        Literal::List(items) => items.clone(),
                        Literal::One(item) => vec![item.clone()],
                    };
                    let values = read_all(&field, &items, now)?;
                    Condition::Compare {
                        field,
                        op: *op,
                        values,
                    }
                }
                (_, Some(Literal::List(_))) => {
                    return Err(violation(format!(
                        "`{path}.{}` takes one value, not a list",
                        op.as_str()
                    )))
                }
                (Op::Contains | Op::StartsWith, Some(Literal::One(v)))
                    if field.kind == Kind::Text =>
                {
                    Condition::Compare {
                        field,
                        op: *op,
                        values: vec![Scalar::Text(v.clone())],
                    }
                }
                (_, Some(Literal::One(v))) => {
                    let values = read_all(&field, std::slice::from_ref(v), now)?;
                    Condition::Compare {
                        field,
                        op: *op,
                        values,
                    }
                }
            }
        }
    })
}

fn read_all(
    field: &FieldSpec,
    items: &[String],
    now: NaiveDateTime,
) -> Result<Vec<Scalar>, Violation> {
    items
        .iter()
        .map(|item| {
            let read = match (&field.kind, read_relative(item, now)) {
                (Kind::Date, Some(shifted)) => shifted.map(|t| Scalar::Date(t.date())),
                (Kind::Instant, Some(shifted)) => shifted.map(Scalar::Instant),
                (kind, _) => kind.read(item),
            };
            read.map_err(|why| violation(format!("`{item}` for `{}` {why}", field.path)))
        })
        .collect()
}

/// The longest relative offset, in units, so that no arithmetic can overflow.
const MAX_RELATIVE: u32 = 100_000;

/// `-180d`, `2w`, `-6m` or `+1y` from `now` (days, weeks, calendar months, years; a month from
/// 31 March is 30 April). `None` when `raw` is not written that way.
pub fn read_relative(raw: &str, now: NaiveDateTime) -> Option<Result<NaiveDateTime, String>> {
    let (back, rest) = match raw.as_bytes().first()? {
        b'-' => (true, &raw[1..]),
        b'+' => (false, &raw[1..]),
        _ => (false, raw),
    };
    let unit = rest.chars().last()?;
    let digits = &rest[..rest.len() - unit.len_utf8()];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let count: u32 = match digits.parse() {
        Ok(count) if count <= MAX_RELATIVE => count,
        _ => return Some(Err(format!("is more than {MAX_RELATIVE} units away"))),
    };
    let months = |n: u32| {
        if back {
            now.checked_sub_months(Months::new(n))
        } else {
            now.checked_add_months(Months::new(n))
        }
    };
    let days = |n: i64| now.checked_add_signed(Duration::days(if back { -n } else { n }));
    let shifted = match unit {
        'd' => days(i64::from(count)),
        'w' => days(i64::from(count) * 7),
        'm' => months(count),
        'y' => months(count * 12),
        _ => return None,
    };
    // Both databases hold these years; PostgreSQL refuses some that chrono can count to.
    Some(
        shifted
            .filter(|t| (1..=9999).contains(&t.year()))
            .ok_or_else(|| "falls outside the years 1 to 9999".to_owned()),
    )
}

/// Parses and checks in one step.
pub fn compile(
    text: &str,
    lookup: &impl Fn(&str) -> Option<FieldSpec>,
    now: NaiveDateTime,
) -> Result<Condition, Violation> {
    check(&parse(text)?, lookup, now)
}

/// What a record holds at a path, for [`evaluate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    Null,
    One(Scalar),
    Many(Vec<Scalar>),
}

impl FieldValue {
    /// A text field's value; `None` is null.
    pub fn text(value: Option<&str>) -> FieldValue {
        value.map_or(FieldValue::Null, |v| {
            FieldValue::One(Scalar::Text(v.to_owned()))
        })
    }

    /// An integer field's value; `None` is null.
    pub fn integer(value: Option<i64>) -> FieldValue {
        value.map_or(FieldValue::Null, |v| FieldValue::One(Scalar::Integer(v)))
    }

    /// An instant field's value; `None` is null.
    pub fn instant(value: Option<NaiveDateTime>) -> FieldValue {
        value.map_or(FieldValue::Null, |v| FieldValue::One(Scalar::Instant(v)))
    }
}

fn lower(s: &Scalar) -> Option<String> {
    match s {
        Scalar::Text(t) => Some(t.to_lowercase()),
        _ => None,
    }
}

/// Whether a record, read through `get`, satisfies `condition`. The reference the SQL
/// compilers are tested against.
pub fn evaluate(condition: &Condition, get: &impl Fn(&str) -> FieldValue) -> bool {
    match condition {
        Condition::All(items) => items.iter().all(|c| evaluate(c, get)),
        Condition::Any(items) => items.iter().any(|c| evaluate(c, get)),
        Condition::Not(inner) => !evaluate(inner, get),
        Condition::IsNull(field) => match get(&field.path) {
            FieldValue::Null => true,
            FieldValue::Many(items) => items.is_empty(),
            FieldValue::One(_) => false,
        },
        Condition::Compare { field, op, values } => match get(&field.path) {
            FieldValue::Null => false,
            FieldValue::Many(items) => items.iter().any(|item| values.contains(item)),
            FieldValue::One(actual) => compare(&actual, *op, values),
        },
    }
}

fn compare(actual: &Scalar, op: Op, values: &[Scalar]) -> bool {
    let Some(first) = values.first() else {
        return false;
    };
    match op {
        Op::Eq => actual == first,
        Op::Neq => actual != first,
        Op::Lt => actual < first,
        Op::Lte => actual <= first,
        Op::Gt => actual > first,
        Op::Gte => actual >= first,
        Op::In => values.contains(actual),
        Op::Contains => match (lower(actual), lower(first)) {
            (Some(a), Some(b)) => a.contains(&b),
            _ => false,
        },
        Op::StartsWith => match (lower(actual), lower(first)) {
            (Some(a), Some(b)) => a.starts_with(&b),
            _ => false,
        },
        Op::Is => false,
    }
}

/// One key of a `sort`: a field, ascending or descending; nulls always come last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    pub field: FieldSpec,
    pub descending: bool,
}

/// The most keys a `sort` may name.
pub const MAX_SORT_KEYS: usize = 3;

/// Reads `sort` (`custom.segment,-last_name`): up to three sortable paths.
pub fn parse_sort(
    text: &str,
    lookup: &impl Fn(&str) -> Option<FieldSpec>,
) -> Result<Vec<SortKey>, Violation> {
    let keys: Vec<&str> = text.split(',').map(str::trim).collect();
    if keys.len() > MAX_SORT_KEYS {
        return Err(Violation::new(
            "sort",
            format!("names more than {MAX_SORT_KEYS} paths"),
        ));
    }
    let mut sort = Vec::with_capacity(keys.len());
    for key in keys {
        let (descending, path) = match key.strip_prefix('-') {
            Some(path) => (true, path),
            None => (false, key),
        };
        let field = lookup(path)
            .filter(|f| f.sortable)
            .ok_or_else(|| Violation::new("sort", format!("`{path}` is not a sortable path")))?;
        if sort.iter().any(|k: &SortKey| k.field.path == field.path) {
            return Err(Violation::new("sort", format!("names `{path}` twice")));
        }
        sort.push(SortKey { field, descending });
    }
    Ok(sort)
}

/// Orders two records by `sort` with nulls last, then by id in the first key's direction: the
/// order the lists page in.
pub fn order(
    sort: &[SortKey],
    a: (&str, &[FieldValue]),
    b: (&str, &[FieldValue]),
) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    for (i, key) in sort.iter().enumerate() {
        let (x, y) = (a.1.get(i), b.1.get(i));
        let ordering = match (x, y) {
            (Some(FieldValue::One(x)), Some(FieldValue::One(y))) => {
                let o = x.cmp(y);
                if key.descending {
                    o.reverse()
                } else {
                    o
                }
            }
            (Some(FieldValue::One(_)), _) => Ordering::Less,
            (_, Some(FieldValue::One(_))) => Ordering::Greater,
            _ => Ordering::Equal,
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    let by_id = a.0.cmp(b.0);
    if sort.first().is_some_and(|k| k.descending) {
        by_id.reverse()
    } else {
        by_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn companies(path: &str) -> Option<FieldSpec> {
        let kind = match path {
            "tier" => Kind::Choice(vec!["A".into(), "B".into(), "C".into()]),
            "billing_address.country" | "email" | "name" => Kind::Text,
            "last_order_at" => Kind::Instant,
            "custom.segment" => Kind::Choice(vec!["retail".into(), "food".into()]),
            "custom.employees" => Kind::Integer,
            "custom.rate" => Kind::Decimal(2),
            "tags" => Kind::Set(vec![]),
            "custom.active" => Kind::Boolean,
            _ => return None,
        };
        Some(FieldSpec {
            path: path.to_owned(),
            kind,
            sortable: true,
        })
    }

    fn now() -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 3, 31)
            .unwrap()
            .and_hms_opt(10, 30, 0)
            .unwrap()
    }

    #[test]
    fn relative_dates_count_from_now_in_days_weeks_months_and_years() {
        let at = |y, m, d| {
            NaiveDate::from_ymd_opt(y, m, d)
                .unwrap()
                .and_hms_opt(10, 30, 0)
                .unwrap()
        };
        let shifted = |raw: &str| read_relative(raw, now()).unwrap().unwrap();
        assert_eq!(shifted("-180d"), at(2025, 10, 2));
        assert_eq!(shifted("2w"), at(2026, 4, 14));
        assert_eq!(shifted("+1m"), at(2026, 4, 30));
        assert_eq!(shifted("-1m"), at(2026, 2, 28));
        assert_eq!(shifted("-1y"), at(2025, 3, 31));
        assert_eq!(shifted("0d"), now());
        for not_relative in ["2026-01-01", "d", "-d", "12", "1.5d", "1x", "--1d", "1dd"] {
            assert!(
                read_relative(not_relative, now()).is_none(),
                "{not_relative}"
            );
        }
        assert!(read_relative("100001d", now()).unwrap().is_err());
        assert!(read_relative("-99999y", now()).unwrap().is_err());

        let condition = compile(
            "and(last_order_at.lt.-180d,custom.since.gte.-1m)",
            &|path: &str| {
                companies(path).or_else(|| {
                    (path == "custom.since").then(|| FieldSpec {
                        path: path.to_owned(),
                        kind: Kind::Date,
                        sortable: true,
                    })
                })
            },
            now(),
        )
        .unwrap();
        let Condition::All(items) = condition else {
            panic!()
        };
        assert!(
            matches!(&items[0], Condition::Compare { values, .. } if values == &[Scalar::Instant(at(2025, 10, 2))])
        );
        assert!(
            matches!(&items[1], Condition::Compare { values, .. } if values == &[Scalar::Date(NaiveDate::from_ymd_opt(2026, 2, 28).unwrap())])
        );
        let error = compile("custom.rate.gt.-180d", &companies, now()).unwrap_err();
        assert!(error.message.contains("custom.rate"), "{error:?}");
    }

    const EXAMPLE: &str = "and(tier.eq.A,or(billing_address.country.eq.ES,billing_address.country.eq.PT),last_order_at.lt.2026-01-01,custom.segment.in.(retail,food),email.is.null)";

    #[test]
    fn the_issue_example_parses_and_checks() {
        let expr = parse(EXAMPLE).unwrap();
        let Expr::And(items) = &expr else {
            panic!("{expr:?}")
        };
        assert_eq!(items.len(), 5);
        assert_eq!(
            items[3],
            Expr::Compare {
                path: "custom.segment".into(),
                op: Op::In,
                value: Some(Literal::List(vec!["retail".into(), "food".into()])),
            }
        );
        let condition = check(&expr, &companies, now()).unwrap();
        let Condition::All(items) = condition else {
            panic!()
        };
        assert!(matches!(items[4], Condition::IsNull(_)));
        assert!(matches!(
            &items[2],
            Condition::Compare { values, .. } if values == &[Scalar::Instant(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap())]
        ));
    }

    #[test]
    fn quoted_values_keep_commas_parentheses_and_escapes() {
        let expr = parse(r#"name.eq."a,b) \"c\" \\ d""#).unwrap();
        assert_eq!(
            expr,
            Expr::Compare {
                path: "name".into(),
                op: Op::Eq,
                value: Some(Literal::One(r#"a,b) "c" \ d"#.into())),
            }
        );
        let injection = parse("name.eq.x' OR '1'='1").unwrap();
        assert_eq!(
            injection,
            Expr::Compare {
                path: "name".into(),
                op: Op::Eq,
                value: Some(Literal::One("x' OR '1'='1".into())),
            }
        );
    }

    #[test]
    fn a_bare_value_may_contain_dots_and_operator_names() {
        let expr = parse("email.eq.ana.eq@example.com").unwrap();
        assert_eq!(
            expr,
            Expr::Compare {
                path: "email".into(),
                op: Op::Eq,
                value: Some(Literal::One("ana.eq@example.com".into())),
            }
        );
        assert!(matches!(
            parse("name.eq.x.in.y").unwrap(),
            Expr::Compare { path, op: Op::Eq, value: Some(Literal::One(v)) } if path == "name" && v == "x.in.y"
        ));
        let rate = compile("custom.rate.gte.12.5", &companies, now()).unwrap();
        assert!(
            matches!(rate, Condition::Compare { values, .. } if values == [Scalar::Integer(1250)])
        );
    }

    #[test]
    fn errors_name_the_path_and_the_filter_field() {
        for (text, needle) in [
            ("nope.eq.1", "unknown path `nope`"),
            ("tier.lt.A", "does not take `lt`"),
            ("tier.eq.Z", "`Z` for `tier` is not one of"),
            ("custom.employees.eq.ten", "is not an integer"),
            ("custom.rate.eq.1.234", "at most 2 decimals"),
            ("email.is.nope", "takes only `null`"),
            ("tier.eq", "needs a value"),
            ("and(tier.eq.A", "expected `)`"),
            ("tier.eq.A)", "unexpected `)`"),
            ("justtext", "is not `path.op.value`"),
            ("name.eq.\"open", "not closed"),
            ("tier.eq.(A,B)", "takes one value"),
        ] {
            let error = compile(text, &companies, now()).unwrap_err();
            assert_eq!(error.field, "filter");
            assert!(error.message.contains(needle), "{text}: {}", error.message);
        }
    }

    #[test]
    fn depth_and_size_are_bounded() {
        let deep = format!("{}tier.eq.A{}", "not(".repeat(20), ")".repeat(20));
        assert!(parse(&deep).unwrap_err().message.contains("deeper"));
        let wide = format!("and({})", vec!["tier.eq.A"; 60].join(","));
        assert!(parse(&wide).unwrap_err().message.contains("comparisons"));
        assert!(parse(&"a".repeat(MAX_LENGTH + 1)).is_err());
    }

    #[test]
    fn the_parser_never_panics_on_any_input() {
        use rand::{Rng, SeedableRng};
        let alphabet: Vec<char> = "andortie.,()\"\\ql-_1A é".chars().collect();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(19);
        for _ in 0..20_000 {
            let len = rng.gen_range(0..40);
            let text: String = (0..len)
                .map(|_| alphabet[rng.gen_range(0..alphabet.len())])
                .collect();
            let _ = compile(&text, &companies, now());
        }
    }

    fn record(path: &str) -> FieldValue {
        match path {
            "tier" => FieldValue::One(Scalar::Text("A".into())),
            "billing_address.country" => FieldValue::One(Scalar::Text("PT".into())),
            "name" => FieldValue::One(Scalar::Text("Frutas Ana".into())),
            "custom.segment" => FieldValue::One(Scalar::Text("food".into())),
            "tags" => FieldValue::Many(vec![Scalar::Text("vip".into())]),
            "last_order_at" => FieldValue::One(Scalar::Instant(
                NaiveDate::from_ymd_opt(2025, 6, 1)
                    .unwrap()
                    .and_hms_opt(0, 0, 0)
                    .unwrap(),
            )),
            _ => FieldValue::Null,
        }
    }

    #[test]
    fn null_compares_false_and_not_flips_it() {
        let holds = |text: &str| evaluate(&compile(text, &companies, now()).unwrap(), &record);
        assert!(holds(EXAMPLE));
        assert!(!holds("custom.employees.neq.3"));
        assert!(holds("not(custom.employees.neq.3)"));
        assert!(!holds("custom.employees.eq.3"));
        assert!(holds("custom.employees.is.null"));
        assert!(holds("not(tier.is.null)"));
        assert!(holds("name.contains.ANA"));
        assert!(holds("name.starts_with.frutas"));
        assert!(!holds("name.eq.frutas ana"));
        assert!(holds("tags.contains.vip"));
        assert!(!holds("tags.contains.new"));
        assert!(holds("or(tier.eq.B,tags.in.(x,vip))"));
    }

    #[test]
    fn sort_takes_three_sortable_paths_and_orders_nulls_last() {
        let sort = parse_sort("custom.segment,-name", &companies).unwrap();
        assert_eq!(sort.len(), 2);
        assert!(sort[1].descending);
        assert!(parse_sort("a,b,c,d", &companies).is_err());
        assert!(parse_sort("nope", &companies).is_err());
        assert!(parse_sort("name,name", &companies).is_err());
        let one = |s: &str| FieldValue::One(Scalar::Text(s.into()));
        let mut rows = [
            ("1", vec![FieldValue::Null, one("b")]),
            ("2", vec![one("food"), one("a")]),
            ("3", vec![one("food"), one("b")]),
            ("4", vec![one("alpha"), FieldValue::Null]),
        ];
        rows.sort_by(|a, b| order(&sort, (a.0, &a.1), (b.0, &b.1)));
        let ids: Vec<&str> = rows.iter().map(|r| r.0).collect();
        assert_eq!(ids, ["4", "3", "2", "1"]);
    }

    #[test]
    fn scaled_decimals_are_exact() {
        assert_eq!(parse_scaled("12.5", 2), Some(1250));
        assert_eq!(parse_scaled("-0.05", 2), Some(-5));
        assert_eq!(parse_scaled("7", 0), Some(7));
        assert_eq!(parse_scaled("1.", 2), None);
        assert_eq!(parse_scaled(".5", 2), None);
        assert_eq!(parse_scaled("1e3", 2), None);
        assert_eq!(parse_scaled("99999999999999999999", 2), None);
    }
}
