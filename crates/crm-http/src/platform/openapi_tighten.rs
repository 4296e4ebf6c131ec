//! Passes over the generated document that make it say exactly what the server does, where the
//! derive cannot: list items refer to their resource's schema instead of inlining a copy, every
//! field a response always carries is required (nullable where it can be null), and ids are
//! marked `format: uuid`.

use std::collections::{BTreeSet, VecDeque};

use serde_json::{Map, Value};

use crate::platform::ids::is_our_id;

/// Schemas that responses carry with fields left out when empty.
const SPARSE_RESPONSES: [&str; 2] = ["Problem", "FieldError"];

pub fn tighten(document: &mut Value) {
    refer_list_items(document);
    require_response_fields(document);
    mark_uuids(document);
}

fn schemas(document: &mut Value) -> Option<&mut Map<String, Value>> {
    document
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
}

/// `ListResponse_X.data.items` becomes a `$ref` to `X`, which is added to the components when
/// no operation had registered it; `next_cursor` is always sent, so it is required.
fn refer_list_items(document: &mut Value) {
    let Some(schemas) = schemas(document) else {
        return;
    };
    let lists: Vec<String> = schemas
        .keys()
        .filter(|name| name.starts_with("ListResponse_"))
        .cloned()
        .collect();
    for list in lists {
        let item_name = list.trim_start_matches("ListResponse_").to_owned();
        let Some(items) = schemas
            .get_mut(&list)
            .and_then(|s| s.pointer_mut("/properties/data/items"))
        else {
            continue;
        };
        if items.get("$ref").is_some() {
            continue;
        }
        let inline = std::mem::replace(
            items,
            serde_json::json!({"$ref": format!("#/components/schemas/{item_name}")}),
        );
        schemas.entry(item_name).or_insert(inline);
        if let Some(required) = schemas
            .get_mut(&list)
            .and_then(|s| s.get_mut("required"))
            .and_then(Value::as_array_mut)
        {
            if !required.iter().any(|r| r == "next_cursor") {
                required.push(Value::from("next_cursor"));
            }
        }
    }
}

/// The component names a value refers to, directly.
fn references(value: &Value, found: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                if let Some(name) = reference.strip_prefix("#/components/schemas/") {
                    found.insert(name.to_owned());
                }
            }
            map.values().for_each(|v| references(v, found));
        }
        Value::Array(values) => values.iter().for_each(|v| references(v, found)),
        _ => {}
    }
}

/// Every component schema reachable from `roots`, through other components.
fn reachable(schemas: &Map<String, Value>, roots: BTreeSet<String>) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut queue: VecDeque<String> = roots.into_iter().collect();
    while let Some(name) = queue.pop_front() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let mut next = BTreeSet::new();
        if let Some(schema) = schemas.get(&name) {
            references(schema, &mut next);
        }
        queue.extend(next.into_iter().filter(|n| !seen.contains(n)));
    }
    seen
}

/// Serde writes every field of a response (only problems skip empty ones), so each property of
/// a schema that only responses use is required. Schemas that requests use too keep their
/// optional fields.
fn require_response_fields(document: &mut Value) {
    let mut request_roots = BTreeSet::new();
    let mut response_roots = BTreeSet::new();
    if let Some(paths) = document.get("paths").and_then(Value::as_object) {
        for operation in paths
            .values()
            .filter_map(Value::as_object)
            .flat_map(|item| item.values())
        {
            if let Some(body) = operation.get("requestBody") {
                references(body, &mut request_roots);
            }
            if let Some(parameters) = operation.get("parameters") {
                references(parameters, &mut request_roots);
            }
            if let Some(responses) = operation.get("responses") {
                references(responses, &mut response_roots);
            }
        }
    }
    let Some(schemas) = schemas(document) else {
        return;
    };
    let in_requests = reachable(schemas, request_roots);
    let in_responses = reachable(schemas, response_roots);
    for name in in_responses.difference(&in_requests) {
        if SPARSE_RESPONSES.contains(&name.as_str()) {
            continue;
        }
        let Some(schema) = schemas.get_mut(name).and_then(Value::as_object_mut) else {
            continue;
        };
        require_all(schema);
    }
}

fn require_all(schema: &mut Map<String, Value>) {
    if let Some(Value::Object(properties)) = schema.get_mut("properties") {
        for property in properties.values_mut().filter_map(Value::as_object_mut) {
            if property.get("type").and_then(Value::as_str) == Some("object") {
                require_all(property);
            }
        }
        let names: Vec<Value> = properties.keys().cloned().map(Value::from).collect();
        schema.insert("required".to_owned(), Value::Array(names));
    }
}

fn is_string(schema: &Value) -> bool {
    match schema.get("type") {
        Some(Value::String(t)) => t == "string",
        Some(Value::Array(types)) => types.iter().any(|t| t == "string"),
        _ => false,
    }
}

fn mark_uuid(schema: &mut Value) {
    if is_string(schema) && schema.get("format").is_none() {
        if let Some(map) = schema.as_object_mut() {
            map.insert("format".to_owned(), Value::from("uuid"));
        }
    } else if let Some(items) = schema.get_mut("items") {
        mark_uuid(items);
    }
}

/// Every property and parameter that holds one of our ids.
fn mark_uuids(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Object(properties)) = map.get_mut("properties") {
                for (name, schema) in properties.iter_mut() {
                    if is_our_id(name) {
                        mark_uuid(schema);
                    }
                }
            }
            let parameter_name = map
                .get("in")
                .and(map.get("name"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            if let (Some(name), Some(schema)) = (parameter_name, map.get_mut("schema")) {
                if is_our_id(&name) {
                    mark_uuid(schema);
                }
            }
            map.values_mut().for_each(mark_uuids);
        }
        Value::Array(values) => values.iter_mut().for_each(mark_uuids),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_list_refers_to_its_item_and_requires_the_cursor() {
        let mut document = json!({"paths": {}, "components": {"schemas": {
            "ListResponse_Thing": {"type": "object", "required": ["data"], "properties": {
                "data": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "string"}}}},
                "next_cursor": {"type": ["string", "null"]}}}}}});
        refer_list_items(&mut document);
        let schemas = &document["components"]["schemas"];
        assert_eq!(
            schemas["ListResponse_Thing"]["properties"]["data"]["items"]["$ref"],
            "#/components/schemas/Thing"
        );
        assert_eq!(
            schemas["ListResponse_Thing"]["required"],
            json!(["data", "next_cursor"])
        );
        assert_eq!(schemas["Thing"]["properties"]["id"]["type"], "string");
    }

    #[test]
    fn only_schemas_that_no_request_uses_get_every_field_required() {
        let mut document = json!({
            "paths": {"/things": {
                "post": {"requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Input"}}}},
                         "responses": {"200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}}}}}},
            "components": {"schemas": {
                "Input": {"type": "object", "properties": {"name": {"type": ["string", "null"]}, "price": {"$ref": "#/components/schemas/Money"}}},
                "Money": {"type": "object", "properties": {"amount": {"type": "integer"}}},
                "Thing": {"type": "object", "properties": {"name": {"type": ["string", "null"]}, "price": {"$ref": "#/components/schemas/Money"}}}}}});
        require_response_fields(&mut document);
        let schemas = &document["components"]["schemas"];
        assert_eq!(schemas["Thing"]["required"], json!(["name", "price"]));
        assert!(schemas["Input"].get("required").is_none());
        assert!(
            schemas["Money"].get("required").is_none(),
            "requests use it too"
        );
    }

    #[test]
    fn our_ids_are_uuids_and_foreign_ones_are_not() {
        let mut document = json!({"properties": {
            "id": {"type": "string"}, "company_id": {"type": ["string", "null"]},
            "order_ids": {"type": "array", "items": {"type": "string"}},
            "external_id": {"type": "string"}, "tax_id": {"type": "string"}},
            "parameters": [{"in": "path", "name": "id", "schema": {"type": "string"}}]});
        mark_uuids(&mut document);
        assert_eq!(document["properties"]["id"]["format"], "uuid");
        assert_eq!(document["properties"]["company_id"]["format"], "uuid");
        assert_eq!(
            document["properties"]["order_ids"]["items"]["format"],
            "uuid"
        );
        assert!(document["properties"]["external_id"]
            .get("format")
            .is_none());
        assert!(document["properties"]["tax_id"].get("format").is_none());
        assert_eq!(document["parameters"][0]["schema"]["format"], "uuid");
    }
}
