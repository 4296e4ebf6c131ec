//! Fields that admins add to records: their definitions, the values they take, the canonical
//! form those values are stored in, and how values convert when a field changes type.
//!
//! Canonical values compare the same on both databases: datetimes are UTC microseconds,
//! decimals are integers scaled by the field's `scale`, multi-enums are sorted sets, money is
//! `{"amount_minor", "currency"}`.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde_json::{Map, Value};

use crate::platform::filter::{self, Kind};
use crate::platform::money::{check_amount, Currency};
use crate::{Violation, Violations};

text_enum! {
    /// The objects that take custom fields.
    CustomObject {
        Contacts => "contacts",
        Companies => "companies",
        Leads => "leads",
        Opportunities => "opportunities",
        Orders => "orders",
    }
}

impl CustomObject {
    /// The object as the permission matrix names it: reading its schema or views needs its read.
    pub fn resource(self) -> crate::access::permissions::Resource {
        use crate::access::permissions::Resource;
        match self {
            CustomObject::Contacts => Resource::Contacts,
            CustomObject::Companies => Resource::Companies,
            CustomObject::Leads => Resource::Leads,
            CustomObject::Opportunities => Resource::Opportunities,
            CustomObject::Orders => Resource::Orders,
        }
    }
}

/// The most custom fields one object may have, archived ones included.
pub const MAX_FIELDS: usize = 100;
const MAX_TEXT: usize = 2_000;
const MAX_SCALE: u32 = 9;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum CustomFieldType {
    Text,
    Number,
    Decimal,
    Boolean,
    Date,
    Datetime,
    Enum,
    MultiEnum,
    Url,
    Email,
    Money,
}

impl CustomFieldType {
    pub const ALL: [CustomFieldType; 11] = [
        CustomFieldType::Text,
        CustomFieldType::Number,
        CustomFieldType::Decimal,
        CustomFieldType::Boolean,
        CustomFieldType::Date,
        CustomFieldType::Datetime,
        CustomFieldType::Enum,
        CustomFieldType::MultiEnum,
        CustomFieldType::Url,
        CustomFieldType::Email,
        CustomFieldType::Money,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CustomFieldType::Text => "text",
            CustomFieldType::Number => "number",
            CustomFieldType::Decimal => "decimal",
            CustomFieldType::Boolean => "boolean",
            CustomFieldType::Date => "date",
            CustomFieldType::Datetime => "datetime",
            CustomFieldType::Enum => "enum",
            CustomFieldType::MultiEnum => "multi_enum",
            CustomFieldType::Url => "url",
            CustomFieldType::Email => "email",
            CustomFieldType::Money => "money",
        }
    }

    fn has_options(self) -> bool {
        matches!(self, CustomFieldType::Enum | CustomFieldType::MultiEnum)
    }

    /// Whether a value can be unique: one scalar compared exactly.
    fn can_be_unique(self) -> bool {
        matches!(
            self,
            CustomFieldType::Text
                | CustomFieldType::Number
                | CustomFieldType::Email
                | CustomFieldType::Url
                | CustomFieldType::Enum
                | CustomFieldType::Date
        )
    }
}

impl fmt::Display for CustomFieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CustomFieldType {
    type Err = Violation;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CustomFieldType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| Violation::new("type", format!("`{s}` is not a field type")))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldOption {
    /// What is stored and filtered on.
    pub value: String,
    /// What people read.
    pub label: String,
}

/// A custom field's definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomField {
    pub key: String,
    pub label: String,
    pub field_type: CustomFieldType,
    /// Decimals only: how many fractional digits.
    pub scale: Option<u32>,
    /// Enums only.
    pub options: Vec<FieldOption>,
    pub required: bool,
    pub unique: bool,
    /// In canonical form.
    pub default: Option<Value>,
    pub indexed: bool,
    pub portal_visible: bool,
    pub archived: bool,
}

impl CustomField {
    /// A new field of `field_type`, without a label, options or any constraint yet.
    pub fn new(key: String, field_type: CustomFieldType) -> Self {
        CustomField {
            key,
            label: String::new(),
            field_type,
            scale: None,
            options: Vec::new(),
            required: false,
            unique: false,
            default: None,
            indexed: false,
            portal_visible: false,
            archived: false,
        }
    }
}

/// Checks a new field's key: lower-case, at most 63 characters, not a built-in field, not an
/// operator of the filter language (which would make `custom.<key>` paths ambiguous).
pub fn check_key(key: &str, built_in: &[&str]) -> Result<(), Violation> {
    let mut chars = key.chars();
    let well_formed = key.len() <= 63
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !well_formed {
        return Err(Violation::new("key", "must match ^[a-z][a-z0-9_]{0,62}$"));
    }
    if built_in.contains(&key) || filter::Op::ALL.iter().any(|op| op.as_str() == key) {
        return Err(Violation::new("key", format!("`{key}` is a built-in name")));
    }
    Ok(())
}

impl CustomField {
    /// The rules of a definition, apart from its key.
    pub fn check(&self) -> Result<(), Violations> {
        let mut violations = Violations::default();
        let label = self.label.trim();
        if label.is_empty() || label.chars().count() > 200 {
            violations.push(Violation::new("label", "must be 1 to 200 characters"));
        }
        match (self.field_type, self.scale) {
            (CustomFieldType::Decimal, Some(scale)) if scale > MAX_SCALE => violations.push(
                Violation::new("scale", format!("must be at most {MAX_SCALE}")),
            ),
            (CustomFieldType::Decimal, None) => {
                violations.push(Violation::new("scale", "is required for a decimal"))
            }
            (CustomFieldType::Decimal, Some(_)) | (_, None) => {}
            (_, Some(_)) => violations.push(Violation::new("scale", "applies to decimals only")),
        }
        if self.field_type.has_options() {
            if self.options.is_empty() {
                violations.push(Violation::new(
                    "options",
                    "an enum needs at least one option",
                ));
            }
            for (i, option) in self.options.iter().enumerate() {
                if option.value.is_empty() || option.value.len() > 100 {
                    violations.push(Violation::new(
                        format!("options[{i}].value"),
                        "must be 1 to 100 characters",
                    ));
                }
                if self.options[..i].iter().any(|o| o.value == option.value) {
                    violations.push(Violation::new(
                        format!("options[{i}].value"),
                        format!("`{}` is listed twice", option.value),
                    ));
                }
            }
        } else if !self.options.is_empty() {
            violations.push(Violation::new(
                "options",
                "apply to enum and multi_enum only",
            ));
        }
        if self.unique && !self.field_type.can_be_unique() {
            violations.push(Violation::new(
                "unique",
                format!("a {} field cannot be unique", self.field_type),
            ));
        }
        if self.unique && self.default.is_some() {
            violations.push(Violation::new("default", "a unique field has no default"));
        }
        violations.into_result()
    }

    fn scale(&self) -> u32 {
        self.scale.unwrap_or(0)
    }

    /// Reads a value as a client wrote it into canonical form; the error says why not.
    pub fn read(&self, value: &Value) -> Result<Value, String> {
        use CustomFieldType as T;
        match (self.field_type, value) {
            (T::Number, Value::Number(n)) => n
                .as_i64()
                .map(Value::from)
                .ok_or_else(|| "must be an integer".to_owned()),
            (T::Decimal, Value::Number(n)) => self.read_text(&n.to_string()),
            (T::Boolean, Value::Bool(b)) => Ok(Value::Bool(*b)),
            (T::MultiEnum, Value::Array(items)) => {
                let mut values = Vec::with_capacity(items.len());
                for item in items {
                    let Value::String(item) = item else {
                        return Err("must be an array of option values".to_owned());
                    };
                    self.option(item)?;
                    values.push(item.clone());
                }
                values.sort();
                values.dedup();
                Ok(Value::from(values))
            }
            (T::Money, Value::Object(money)) => {
                let amount = money
                    .get("amount_minor")
                    .and_then(Value::as_i64)
                    .ok_or("needs an integer `amount_minor`")?;
                let currency = money
                    .get("currency")
                    .and_then(Value::as_str)
                    .ok_or("needs a `currency`")?;
                if money.len() != 2 {
                    return Err("takes only `amount_minor` and `currency`".to_owned());
                }
                check_amount("amount_minor", amount).map_err(|v| v.message)?;
                let currency: Currency = currency.parse().map_err(|v: Violation| v.message)?;
                Ok(serde_json::json!({"amount_minor": amount, "currency": currency.as_str()}))
            }
            (
                T::Text | T::Decimal | T::Date | T::Datetime | T::Enum | T::Url | T::Email,
                Value::String(text),
            ) => self.read_text(text),
            _ => Err(format!("must be a {}", self.expected())),
        }
    }

    fn expected(&self) -> &'static str {
        match self.field_type {
            CustomFieldType::Number => "integer",
            CustomFieldType::Decimal => "decimal string such as \"12.50\"",
            CustomFieldType::Boolean => "boolean",
            CustomFieldType::Date => "date string (YYYY-MM-DD)",
            CustomFieldType::Datetime => "RFC 3339 string",
            CustomFieldType::MultiEnum => "array of option values",
            CustomFieldType::Money => "money object",
            _ => "string",
        }
    }

    fn option(&self, value: &str) -> Result<(), String> {
        if self.options.iter().any(|o| o.value == value) {
            Ok(())
        } else {
            let values: Vec<&str> = self.options.iter().map(|o| o.value.as_str()).collect();
            Err(format!("`{value}` is not one of {}", values.join(", ")))
        }
    }

    /// Reads a value from its text, as a string value or a converted one is.
    fn read_text(&self, text: &str) -> Result<Value, String> {
        use CustomFieldType as T;
        match self.field_type {
            T::Text => {
                if text.chars().count() > MAX_TEXT {
                    Err(format!("is longer than {MAX_TEXT} characters"))
                } else {
                    Ok(Value::from(text))
                }
            }
            T::Number => text
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| "must be an integer".to_owned()),
            T::Decimal => filter::parse_scaled(text, self.scale())
                .map(Value::from)
                .ok_or_else(|| format!("must be a decimal with at most {} decimals", self.scale())),
            T::Boolean => match text {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                _ => Err("must be true or false".to_owned()),
            },
            T::Date => NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map(|d| Value::from(d.to_string()))
                .map_err(|_| "must be a date (YYYY-MM-DD)".to_owned()),
            T::Datetime => DateTime::parse_from_rfc3339(text)
                .map(|t| Value::from(t.with_timezone(&Utc).timestamp_micros()))
                .map_err(|_| "must be an RFC 3339 instant".to_owned()),
            T::Enum => self.option(text).map(|()| Value::from(text)),
            T::MultiEnum => self.option(text).map(|()| Value::from(vec![text])),
            T::Url => match url::Url::parse(text) {
                Ok(url) if matches!(url.scheme(), "http" | "https") && text.len() <= MAX_TEXT => {
                    Ok(Value::from(text))
                }
                _ => Err("must be an http or https URL".to_owned()),
            },
            T::Email => {
                if is_email(text) {
                    Ok(Value::from(text))
                } else {
                    Err("must be an email address".to_owned())
                }
            }
            T::Money => Err("must be a money object".to_owned()),
        }
    }

    /// A stored value as clients see it.
    pub fn show(&self, stored: &Value) -> Value {
        match (self.field_type, stored) {
            (CustomFieldType::Decimal, Value::Number(n)) => n
                .as_i64()
                .map(|scaled| Value::from(format_scaled(scaled, self.scale())))
                .unwrap_or(Value::Null),
            (CustomFieldType::Datetime, Value::Number(n)) => n
                .as_i64()
                .and_then(DateTime::<Utc>::from_timestamp_micros)
                .map(|t| Value::from(t.to_rfc3339_opts(SecondsFormat::AutoSi, true)))
                .unwrap_or(Value::Null),
            _ => stored.clone(),
        }
    }

    fn text_of(&self, stored: &Value) -> Option<String> {
        match (self.field_type, stored) {
            (CustomFieldType::Decimal, Value::Number(n)) => {
                let text = format_scaled(n.as_i64()?, self.scale());
                Some(if text.contains('.') {
                    text.trim_end_matches('0').trim_end_matches('.').to_owned()
                } else {
                    text
                })
            }
            (CustomFieldType::Money | CustomFieldType::MultiEnum, _) => None,
            (_, Value::String(s)) => Some(s.clone()),
            (_, Value::Number(n)) => match self.field_type {
                CustomFieldType::Datetime => self.show(stored).as_str().map(str::to_owned),
                _ => Some(n.to_string()),
            },
            (_, Value::Bool(b)) => Some(b.to_string()),
            _ => None,
        }
    }

    /// This field's stored value converted for the field `to` (a new type, options or
    /// scale), or `None` when it cannot be.
    pub fn convert(&self, stored: &Value, to: &CustomField) -> Option<Value> {
        use CustomFieldType as T;
        match (self.field_type, to.field_type) {
            (T::Money, T::Money) => Some(stored.clone()),
            (T::MultiEnum, T::MultiEnum) => to.read(stored).ok(),
            (T::MultiEnum, T::Text) => {
                let items: Vec<&str> = stored
                    .as_array()?
                    .iter()
                    .filter_map(Value::as_str)
                    .collect();
                to.read_text(&items.join(", ")).ok()
            }
            (T::Money | T::MultiEnum, _) | (_, T::Money) => None,
            (T::Decimal, T::Decimal) => {
                let scaled = stored.as_i64()?;
                let (from, to) = (self.scale(), to.scale());
                if to >= from {
                    scaled
                        .checked_mul(10i64.checked_pow(to - from)?)
                        .map(Value::from)
                } else {
                    let factor = 10i64.checked_pow(from - to)?;
                    (scaled % factor == 0).then(|| Value::from(scaled / factor))
                }
            }
            (T::Datetime, T::Date) => None,
            _ => to.read_text(&self.text_of(stored)?).ok(),
        }
    }

    /// How the filter language sees this field.
    pub fn kind(&self) -> Option<Kind> {
        let options = || self.options.iter().map(|o| o.value.clone()).collect();
        Some(match self.field_type {
            CustomFieldType::Text | CustomFieldType::Url | CustomFieldType::Email => Kind::Text,
            CustomFieldType::Number => Kind::Integer,
            CustomFieldType::Decimal => Kind::Decimal(self.scale()),
            CustomFieldType::Boolean => Kind::Boolean,
            CustomFieldType::Date => Kind::Date,
            CustomFieldType::Datetime => Kind::Instant,
            CustomFieldType::Enum => Kind::Choice(options()),
            CustomFieldType::MultiEnum => Kind::Set(options()),
            CustomFieldType::Money => return None,
        })
    }
}

fn format_scaled(scaled: i64, scale: u32) -> String {
    if scale == 0 {
        return scaled.to_string();
    }
    let factor = 10u64.pow(scale);
    let magnitude = scaled.unsigned_abs();
    let sign = if scaled < 0 { "-" } else { "" };
    format!(
        "{sign}{}.{:0width$}",
        magnitude / factor,
        magnitude % factor,
        width = scale as usize
    )
}

fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    text.len() <= 254
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !text.chars().any(|c| c.is_whitespace() || c.is_control())
        && !domain.contains('@')
}

/// The violation's field for a custom field key.
pub fn path(key: &str) -> String {
    format!("custom_fields.{key}")
}

/// Applies what a client wrote under `custom_fields` (a JSON Merge Patch: `null` removes) to
/// the stored values. A new record takes the defaults of fields it leaves out and must have
/// every required one; a changed record may not clear a required field.
pub fn apply(
    fields: &[CustomField],
    stored: &Map<String, Value>,
    written: Option<&Value>,
    creating: bool,
) -> Result<Map<String, Value>, Violations> {
    let mut values = stored.clone();
    let mut violations = Violations::default();
    let written = match written {
        None | Some(Value::Null) => None,
        Some(Value::Object(map)) => Some(map),
        Some(_) => {
            violations.push(Violation::new("custom_fields", "must be an object"));
            return Err(violations);
        }
    };
    for (key, value) in written.into_iter().flatten() {
        let Some(field) = fields.iter().find(|f| &f.key == key) else {
            violations.push(Violation::new(
                path(key),
                "is not a custom field of this object",
            ));
            continue;
        };
        if field.archived {
            violations.push(Violation::new(path(key), "is archived and takes no values"));
            continue;
        }
        if value.is_null() {
            if field.required {
                violations.push(Violation::new(path(key), "is required"));
            }
            values.remove(key);
            continue;
        }
        match field.read(value) {
            Ok(canonical) => {
                values.insert(key.clone(), canonical);
            }
            Err(why) => violations.push(Violation::new(path(key), why)),
        }
    }
    if creating {
        for field in fields.iter().filter(|f| !f.archived) {
            let written_here = written.is_some_and(|w| w.contains_key(&field.key));
            if values.contains_key(&field.key) || written_here {
                continue;
            }
            match &field.default {
                Some(default) => {
                    values.insert(field.key.clone(), default.clone());
                }
                None if field.required => {
                    violations.push(Violation::new(path(&field.key), "is required"))
                }
                None => {}
            }
        }
    }
    violations.into_result().map(|()| values)
}

/// The values of a record nobody wrote custom values for: the defaults of the live fields.
pub fn defaults(fields: &[CustomField]) -> Map<String, Value> {
    fields
        .iter()
        .filter(|f| !f.archived)
        .filter_map(|f| f.default.clone().map(|d| (f.key.clone(), d)))
        .collect()
}

/// The values clients see: live fields only, and for a customer only portal-visible ones.
pub fn visible(
    fields: &[CustomField],
    stored: &Map<String, Value>,
    customer: bool,
) -> Map<String, Value> {
    fields
        .iter()
        .filter(|f| !f.archived && (!customer || f.portal_visible))
        .filter_map(|f| stored.get(&f.key).map(|v| (f.key.clone(), f.show(v))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(key: &str, field_type: CustomFieldType) -> CustomField {
        CustomField {
            label: key.into(),
            scale: (field_type == CustomFieldType::Decimal).then_some(2),
            options: if field_type.has_options() {
                ["retail", "food"]
                    .iter()
                    .map(|v| FieldOption {
                        value: (*v).into(),
                        label: v.to_uppercase(),
                    })
                    .collect()
            } else {
                vec![]
            },
            ..CustomField::new(key.into(), field_type)
        }
    }

    #[test]
    fn keys_are_lower_snake_and_not_built_in() {
        assert!(check_key("segment", &["email"]).is_ok());
        assert!(check_key("a1_b", &[]).is_ok());
        for bad in [
            "",
            "Segment",
            "1a",
            "a-b",
            "email",
            "eq",
            "is",
            &"a".repeat(64),
        ] {
            assert_eq!(
                check_key(bad, &["email"]).unwrap_err().field,
                "key",
                "{bad}"
            );
        }
    }

    #[test]
    fn values_are_stored_canonically_and_shown_back() {
        let cases = [
            (
                CustomFieldType::Decimal,
                json!("12.5"),
                json!(1250),
                json!("12.50"),
            ),
            (
                CustomFieldType::Decimal,
                json!(3),
                json!(300),
                json!("3.00"),
            ),
            (
                CustomFieldType::Datetime,
                json!("2026-03-01T10:00:00+01:00"),
                json!(1_772_355_600_000_000_i64),
                json!("2026-03-01T09:00:00Z"),
            ),
            (
                CustomFieldType::MultiEnum,
                json!(["retail", "food", "retail"]),
                json!(["food", "retail"]),
                json!(["food", "retail"]),
            ),
            (
                CustomFieldType::Money,
                json!({"amount_minor": 1050, "currency": "EUR"}),
                json!({"amount_minor": 1050, "currency": "EUR"}),
                json!({"amount_minor": 1050, "currency": "EUR"}),
            ),
            (
                CustomFieldType::Date,
                json!("2026-02-28"),
                json!("2026-02-28"),
                json!("2026-02-28"),
            ),
        ];
        for (field_type, written, stored, shown) in cases {
            let f = field("x", field_type);
            assert_eq!(f.read(&written).unwrap(), stored, "{field_type}");
            assert_eq!(f.show(&stored), shown, "{field_type}");
        }
    }

    #[test]
    fn bad_values_say_why() {
        let cases = [
            (
                CustomFieldType::Enum,
                json!("wholesale"),
                "is not one of retail, food",
            ),
            (CustomFieldType::Number, json!(1.5), "integer"),
            (CustomFieldType::Number, json!("3"), "integer"),
            (
                CustomFieldType::Decimal,
                json!("1.234"),
                "at most 2 decimals",
            ),
            (CustomFieldType::Date, json!("2026-02-30"), "date"),
            (CustomFieldType::Url, json!("ftp://x.org"), "http"),
            (CustomFieldType::Email, json!("ana@"), "email"),
            (CustomFieldType::Boolean, json!("yes"), "boolean"),
            (
                CustomFieldType::Money,
                json!({"amount_minor": 1, "currency": "XXX1"}),
                "",
            ),
        ];
        for (field_type, written, needle) in cases {
            let error = field("x", field_type).read(&written).unwrap_err();
            assert!(error.contains(needle), "{field_type}: {error}");
        }
    }

    #[test]
    fn apply_names_each_bad_key_and_fills_defaults() {
        let mut segment = field("segment", CustomFieldType::Enum);
        segment.required = true;
        let mut size = field("size", CustomFieldType::Number);
        size.default = Some(json!(10));
        let mut old = field("old", CustomFieldType::Text);
        old.archived = true;
        let fields = [segment, size, old];
        let errors = apply(
            &fields,
            &Map::new(),
            Some(&json!({"segment": "nope", "old": "x", "unknown": 1})),
            true,
        )
        .unwrap_err();
        let mut named: Vec<&str> = errors.0.iter().map(|v| v.field.as_str()).collect();
        named.sort();
        assert_eq!(
            named,
            [
                "custom_fields.old",
                "custom_fields.segment",
                "custom_fields.unknown"
            ]
        );
        let missing = apply(&fields, &Map::new(), None, true).unwrap_err();
        assert_eq!(missing.0[0].field, "custom_fields.segment");
        let values = apply(
            &fields,
            &Map::new(),
            Some(&json!({"segment": "food"})),
            true,
        )
        .unwrap();
        assert_eq!(
            Value::Object(values.clone()),
            json!({"segment": "food", "size": 10})
        );
        let cleared = apply(&fields, &values, Some(&json!({"size": null})), false).unwrap();
        assert_eq!(Value::Object(cleared), json!({"segment": "food"}));
        assert!(apply(&fields, &values, Some(&json!({"segment": null})), false).is_err());
        assert!(apply(&fields, &values, Some(&json!([1])), false).is_err());
    }

    #[test]
    fn archived_and_private_fields_do_not_show() {
        let mut secret = field("secret", CustomFieldType::Text);
        secret.archived = true;
        let mut public = field("public", CustomFieldType::Text);
        public.portal_visible = true;
        let internal = field("internal", CustomFieldType::Text);
        let stored = json!({"secret": "s", "public": "p", "internal": "i"});
        let stored = stored.as_object().unwrap();
        let fields = [secret, public, internal];
        assert_eq!(
            Value::Object(visible(&fields, stored, false)),
            json!({"public": "p", "internal": "i"})
        );
        assert_eq!(
            Value::Object(visible(&fields, stored, true)),
            json!({"public": "p"})
        );
    }

    #[test]
    fn conversions_keep_what_fits_and_refuse_the_rest() {
        let text = field("x", CustomFieldType::Text);
        let number = field("x", CustomFieldType::Number);
        let decimal = field("x", CustomFieldType::Decimal);
        let choice = field("x", CustomFieldType::Enum);
        let many = field("x", CustomFieldType::MultiEnum);
        assert_eq!(text.convert(&json!("42"), &number), Some(json!(42)));
        assert_eq!(text.convert(&json!("forty"), &number), None);
        assert_eq!(number.convert(&json!(42), &decimal), Some(json!(4200)));
        assert_eq!(decimal.convert(&json!(4200), &number), Some(json!(42)));
        assert_eq!(decimal.convert(&json!(4250), &number), None);
        assert_eq!(text.convert(&json!("food"), &choice), Some(json!("food")));
        assert_eq!(text.convert(&json!("meat"), &choice), None);
        assert_eq!(choice.convert(&json!("food"), &many), Some(json!(["food"])));
        assert_eq!(
            many.convert(&json!(["food", "retail"]), &text),
            Some(json!("food, retail"))
        );
        let mut fewer = choice.clone();
        fewer.options.retain(|o| o.value == "retail");
        assert_eq!(choice.convert(&json!("food"), &fewer), None);
        let mut finer = decimal.clone();
        finer.scale = Some(4);
        assert_eq!(decimal.convert(&json!(125), &finer), Some(json!(12500)));
        assert_eq!(finer.convert(&json!(12501), &decimal), None);
    }

    #[test]
    fn definitions_are_checked() {
        let mut f = field("x", CustomFieldType::Enum);
        f.options.push(f.options[0].clone());
        f.unique = true;
        assert!(f.check().is_err());
        let mut m = field("x", CustomFieldType::MultiEnum);
        m.unique = true;
        let errors = m.check().unwrap_err();
        assert_eq!(errors.0[0].field, "unique");
        let mut d = field("x", CustomFieldType::Decimal);
        d.scale = None;
        assert_eq!(d.check().unwrap_err().0[0].field, "scale");
        assert!(field("x", CustomFieldType::Text).check().is_ok());
    }
}
