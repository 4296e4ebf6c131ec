//! Reads a parsed JSON value into a DTO with one rule serde's derive lacks: an object is an
//! object. Derived structs also accept a JSON array, field by position, so `[null, null]` would
//! clear the first two fields of a settings patch. Here an array (or any other type) where a
//! struct is expected is an error at any depth, which the extractor turns into a `422`. And a
//! whole number written with a fraction (`8104.0`) is an integer, as JSON Schema counts it.

use serde::de::{
    self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Unexpected,
    Visitor,
};
use serde_json::{Map, Value};

/// A JSON value read strictly: structs only from objects.
pub struct Strict<'a>(pub &'a Value);

type Error = serde_json::Error;

fn unexpected(value: &Value) -> Unexpected<'_> {
    match value {
        Value::Null => Unexpected::Unit,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => Unexpected::Signed(i),
            (_, Some(u), _) => Unexpected::Unsigned(u),
            (_, _, Some(f)) => Unexpected::Float(f),
            _ => Unexpected::Other("number"),
        },
        Value::String(s) => Unexpected::Str(s),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    }
}

struct StrictMap<'a> {
    entries: serde_json::map::Iter<'a>,
    value: Option<&'a Value>,
}

impl<'a> StrictMap<'a> {
    fn new(map: &'a Map<String, Value>) -> Self {
        StrictMap {
            entries: map.iter(),
            value: None,
        }
    }
}

impl<'de> MapAccess<'de> for StrictMap<'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.entries.next() {
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(key.as_str().into_deserializer()).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let value = self
            .value
            .take()
            .ok_or_else(|| de::Error::custom("a value was read before its key"))?;
        seed.deserialize(Strict(value))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

struct StrictSeq<'a>(std::slice::Iter<'a, Value>);

impl<'de> SeqAccess<'de> for StrictSeq<'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        self.0
            .next()
            .map(|v| seed.deserialize(Strict(v)))
            .transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

impl<'de> Deserializer<'de> for Strict<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Array(items) => visitor.visit_seq(StrictSeq(items.iter())),
            Value::Object(map) => visitor.visit_map(StrictMap::new(map)),
            other => other.deserialize_any(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            Value::Object(map) => visitor.visit_map(StrictMap::new(map)),
            other => Err(de::Error::invalid_type(unexpected(other), &"an object")),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Object(map) => visitor.visit_map(StrictMap::new(map)),
            other => Err(de::Error::invalid_type(unexpected(other), &"an object")),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Array(items) => visitor.visit_seq(StrictSeq(items.iter())),
            other => Err(de::Error::invalid_type(unexpected(other), &"an array")),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.0.deserialize_enum(name, variants, visitor)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.0.deserialize_unit_struct(name, visitor)
    }

    fn deserialize_i8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.integer(visitor)
    }

    fn deserialize_i16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.integer(visitor)
    }

    fn deserialize_i32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.integer(visitor)
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.integer(visitor)
    }

    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.integer(visitor)
    }

    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.integer(visitor)
    }

    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.integer(visitor)
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.integer(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i128 u128 f32 f64 char str string bytes byte_buf unit identifier ignored_any
    }
}

/// 2^53: below it every whole float is exactly the integer it was written as. A literal beyond
/// i64 also arrives as a float, and must not round into range.
const EXACT_BOUND: f64 = 9_007_199_254_740_992.0;

impl<'de> Strict<'de> {
    /// An integer, also when written as a float with no fraction; the visitor checks the range.
    fn integer<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Number(n) if n.is_f64() => match n.as_f64() {
                Some(f) if f.fract() == 0.0 && (-EXACT_BOUND..=EXACT_BOUND).contains(&f) => {
                    visitor.visit_i64(f as i64)
                }
                _ => self.0.deserialize_any(visitor),
            },
            other => other.deserialize_any(visitor),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Price {
        amount_minor: i64,
        currency: String,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Line {
        description: Option<String>,
        unit_price: Option<Price>,
        tags: Vec<String>,
    }

    fn read<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T, String> {
        let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        serde_path_to_error::deserialize(Strict(&value))
            .map_err(|e| format!("{}: {}", e.path(), e.inner()))
    }

    #[test]
    fn objects_read_as_before() {
        let line: Line = read(
            r#"{"description": null, "unit_price": {"amount_minor": 5, "currency": "EUR"}, "tags": ["a"]}"#,
        )
        .unwrap();
        assert_eq!(
            line,
            Line {
                description: None,
                unit_price: Some(Price {
                    amount_minor: 5,
                    currency: "EUR".into()
                }),
                tags: vec!["a".into()],
            }
        );
    }

    #[test]
    fn an_array_for_an_object_is_refused_at_the_top() {
        let error = read::<Line>(r#"[null, null, []]"#).unwrap_err();
        assert!(error.contains("expected an object"), "{error}");
    }

    #[test]
    fn an_array_for_an_object_is_refused_deep_down_naming_the_field() {
        let error =
            read::<Vec<Line>>(r#"[{"description": "x", "unit_price": [5, "EUR"], "tags": []}]"#)
                .unwrap_err();
        assert!(error.starts_with("[0].unit_price: "), "{error}");
        assert!(error.contains("expected an object"), "{error}");
    }

    #[test]
    fn a_whole_float_is_an_integer_and_a_fraction_is_not() {
        let price: Price = read(r#"{"amount_minor": 8104.0, "currency": "EUR"}"#).unwrap();
        assert_eq!(price.amount_minor, 8104);
        let error = read::<Price>(r#"{"amount_minor": 8104.5, "currency": "EUR"}"#).unwrap_err();
        assert!(error.starts_with("amount_minor: "), "{error}");
        let error = read::<Price>(r#"{"amount_minor": 1e300, "currency": "EUR"}"#).unwrap_err();
        assert!(error.starts_with("amount_minor: "), "{error}");
        let below_i64 = r#"{"amount_minor": -9223372036854775809, "currency": "EUR"}"#;
        assert!(
            read::<Price>(below_i64).is_err(),
            "does not round to i64::MIN"
        );
    }

    #[test]
    fn unknown_fields_are_still_refused() {
        let error = read::<Price>(r#"{"amount_minor": 1, "currency": "EUR", "x": 1}"#).unwrap_err();
        assert!(error.contains("unknown field `x`"), "{error}");
    }
}
