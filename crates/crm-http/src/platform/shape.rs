//! What a read returns when the caller shapes it: `fields=` (sparse fieldsets) and `expand=`
//! (related records inline, at most two hops).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::IntoParams;

use crate::platform::error::ApiError;

/// `fields` and `expand` of a single read.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReadQuery {
    /// Only these keys (and `id`), comma-separated; `custom.<key>` for custom fields.
    pub fields: Option<String>,
    /// Related records to embed beside their ids, comma-separated (`GET /v1/schema/{object}`
    /// lists an object's relations).
    pub expand: Option<String>,
}

/// A record as a read answers it: whole, serialized straight from its DTO, or cut down and
/// embellished as `fields=` and `expand=` asked. The whole record is the common read, and
/// skips building a JSON tree only to write it out (docs/benchmarks.md).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Shaped<T> {
    Whole(T),
    Projected(Value),
}

/// The most relations one `expand` path crosses.
const MAX_HOPS: usize = 2;

/// A read's `fields` and `expand`, checked.
#[derive(Debug, Clone, Default)]
pub struct Shape {
    fields: Option<Vec<String>>,
    expand: Vec<String>,
}

impl Shape {
    /// Reads `fields` (top-level keys of the record, or `custom.<key>`) and `expand` (one of
    /// `relations`, such as `company` or `company.owner`).
    pub fn parse(
        fields: Option<&str>,
        expand: Option<&str>,
        keys: &[&str],
        relations: &[&str],
    ) -> Result<Shape, ApiError> {
        let split = |text: Option<&str>| -> Vec<String> {
            text.unwrap_or("")
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let fields = fields.map(|f| split(Some(f)));
        for field in fields.iter().flatten() {
            let custom = field
                .strip_prefix("custom.")
                .is_some_and(|key| !key.is_empty() && !key.contains('.'));
            if !custom && !keys.contains(&field.as_str()) {
                return Err(ApiError::validation(
                    "fields",
                    format!("`{field}` is not a field of this record"),
                ));
            }
        }
        let expand = split(expand);
        for path in &expand {
            if path.split('.').count() > MAX_HOPS {
                return Err(ApiError::validation(
                    "expand",
                    format!("`{path}` crosses more than {MAX_HOPS} relations"),
                ));
            }
            if !relations.contains(&path.as_str()) {
                return Err(ApiError::validation(
                    "expand",
                    format!(
                        "`{path}` is not a relation of this record; it has {}",
                        relations.join(", ")
                    ),
                ));
            }
        }
        Ok(Shape { fields, expand })
    }

    /// `record` as this shape asks: whole when it picks no fields and expands nothing; else
    /// serialized, given its relations by `embed`, and cut down to the asked fields.
    pub fn apply<T: Serialize>(&self, record: T, embed: impl FnOnce(&mut Value)) -> Shaped<T> {
        if self.fields.is_none() && self.expand.is_empty() {
            return Shaped::Whole(record);
        }
        let mut value = serde_json::to_value(record).unwrap_or(Value::Null);
        embed(&mut value);
        Shaped::Projected(self.project(value))
    }

    /// Whether `path` is expanded.
    pub fn expands(&self, path: &str) -> bool {
        self.expand.iter().any(|p| p == path)
    }

    /// Keeps `id`, the asked fields and the expanded relations of a serialized record.
    pub fn project(&self, record: Value) -> Value {
        let Some(fields) = &self.fields else {
            return record;
        };
        let Value::Object(mut all) = record else {
            return record;
        };
        let mut kept = Map::new();
        let mut take = |key: &str, all: &mut Map<String, Value>| {
            if let Some(value) = all.remove(key) {
                kept.insert(key.to_owned(), value);
            }
        };
        take("id", &mut all);
        for path in &self.expand {
            if let Some(first) = path.split('.').next() {
                take(first, &mut all);
            }
        }
        let mut custom = Map::new();
        let stored_custom = match all.remove("custom_fields") {
            Some(Value::Object(values)) => values,
            _ => Map::new(),
        };
        let mut wants_custom = false;
        for field in fields {
            match field.strip_prefix("custom.") {
                Some(key) => {
                    wants_custom = true;
                    if let Some(value) = stored_custom.get(key) {
                        custom.insert(key.to_owned(), value.clone());
                    }
                }
                None if field == "custom_fields" => {
                    wants_custom = true;
                    custom.extend(stored_custom.clone());
                }
                None => take(field, &mut all),
            }
        }
        if wants_custom {
            kept.insert("custom_fields".to_owned(), Value::Object(custom));
        }
        Value::Object(kept)
    }
}

/// Sets `record[key]` to `embedded` (or null when the id points nowhere or was null).
pub fn embed(record: &mut Value, key: &str, embedded: Option<Value>) {
    if let Value::Object(map) = record {
        map.insert(key.to_owned(), embedded.unwrap_or(Value::Null));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_keep_id_the_asked_keys_and_custom_ones() {
        let shape = Shape::parse(
            Some("last_name,custom.segment"),
            Some("company"),
            &["id", "last_name", "email", "custom_fields"],
            &["company"],
        )
        .unwrap();
        let record = json!({"id": "1", "last_name": "G", "email": "e", "company": {"id": "c"},
            "custom_fields": {"segment": "retail", "size": 3}});
        assert_eq!(
            shape.project(record),
            json!({"id": "1", "last_name": "G", "company": {"id": "c"},
                "custom_fields": {"segment": "retail"}})
        );
    }

    #[test]
    fn unknown_fields_and_deep_or_unknown_relations_are_refused() {
        let keys = ["id", "last_name"];
        let relations = ["company", "company.owner"];
        assert!(Shape::parse(Some("nope"), None, &keys, &relations).is_err());
        assert!(Shape::parse(None, Some("company.owner.company"), &keys, &relations).is_err());
        assert!(Shape::parse(None, Some("pipeline"), &keys, &relations).is_err());
        assert!(Shape::parse(None, Some("company.owner"), &keys, &relations).is_ok());
    }
}
