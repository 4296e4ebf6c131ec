//! Passes over the generated document that make it say exactly what the server does, where the
//! derive cannot: list items refer to their resource's schema instead of inlining a copy, every
//! field a response always carries is required (nullable where it can be null), ids are
//! marked `format: uuid`, and request text says what the server refuses in it.

use std::collections::{BTreeSet, VecDeque};

use serde_json::{Map, Value};

use crate::platform::ids::{id_keywords, is_our_id};

/// Schemas that responses carry with fields left out when empty.
const SPARSE_RESPONSES: [&str; 2] = ["Problem", "FieldError"];

pub fn tighten(document: &mut Value) {
    refer_list_items(document);
    require_response_fields(document);
    mark_uuids(document);
    constrain_request_text(document);
    bound_page_limits(document);
    allow_sparse_records(document);
    open_custom_fields(document);
}

/// `custom_fields` holds whatever keys admins define: an open object.
fn open_custom_fields(document: &mut Value) {
    let Some(schemas) = schemas(document) else {
        return;
    };
    for schema in schemas.values_mut() {
        if let Some(Value::Object(custom)) = schema.pointer_mut("/properties/custom_fields") {
            custom.insert("additionalProperties".to_owned(), Value::Bool(true));
        }
    }
}

/// The record a read cut down with `fields=` answers: its `id` and the fields named.
fn sparse_record() -> Value {
    serde_json::json!({
        "type": "object",
        "description": "A record cut down by `fields=`: its `id` and the fields named, custom ones under `custom_fields`, and any relation `expand=` embedded.",
        "required": ["id"],
        "properties": {"id": {"type": "string", "format": "uuid"}},
        "additionalProperties": true,
    })
}

/// A read that takes `fields=` (as a query parameter, or in a search body) answers its record
/// whole or cut down: its schema, and a list's items, become `anyOf` the record and
/// `SparseRecord`.
fn allow_sparse_records(document: &mut Value) {
    let mut whole: BTreeSet<String> = BTreeSet::new();
    let mut lists: BTreeSet<String> = BTreeSet::new();
    let paths: Vec<String> = document["paths"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    for path in paths {
        for method in ["get", "post"] {
            let Some(operation) = document.pointer_mut(&format!(
                "/paths/{}/{method}",
                path.replace('~', "~0").replace('/', "~1")
            )) else {
                continue;
            };
            let takes_fields = operation["parameters"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| p["name"] == "fields"))
                || operation["operationId"]
                    .as_str()
                    .is_some_and(|id| id.starts_with("search"));
            if !takes_fields {
                continue;
            }
            let Some(schema) =
                operation.pointer_mut("/responses/200/content/application~1json/schema")
            else {
                continue;
            };
            let Some(target) = schema["$ref"].as_str().map(str::to_owned) else {
                continue;
            };
            let name = target
                .trim_start_matches("#/components/schemas/")
                .to_owned();
            if name.starts_with("ListResponse_") {
                lists.insert(name);
            } else {
                *schema = serde_json::json!({"anyOf": [{"$ref": target}, {"$ref": "#/components/schemas/SparseRecord"}]});
                whole.insert(name);
            }
        }
    }
    let Some(schemas) = schemas(document) else {
        return;
    };
    if whole.is_empty() && lists.is_empty() {
        return;
    }
    schemas.insert("SparseRecord".to_owned(), sparse_record());
    for list in lists {
        if let Some(items) = schemas
            .get_mut(&list)
            .and_then(|s| s.pointer_mut("/properties/data/items"))
        {
            let item = std::mem::take(items);
            *items =
                serde_json::json!({"anyOf": [item, {"$ref": "#/components/schemas/SparseRecord"}]});
        }
    }
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

/// The component schemas that requests reach, and those that responses reach.
fn request_and_response_schemas(document: &mut Value) -> (BTreeSet<String>, BTreeSet<String>) {
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
    match schemas(document) {
        Some(schemas) => (
            reachable(schemas, request_roots),
            reachable(schemas, response_roots),
        ),
        None => Default::default(),
    }
}

/// Serde writes every field of a response (only problems skip empty ones), so each property of
/// a schema that only responses use is required. Schemas that requests use too keep their
/// optional fields.
fn require_response_fields(document: &mut Value) {
    let (in_requests, in_responses) = request_and_response_schemas(document);
    let Some(schemas) = schemas(document) else {
        return;
    };
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
                if is_our_id(&name) && id_keywords(&name).is_empty() {
                    mark_uuid(schema);
                }
            }
            map.values_mut().for_each(mark_uuids);
        }
        Value::Array(values) => values.iter_mut().for_each(mark_uuids),
        _ => {}
    }
}

/// The characters `crm_domain::platform::text` refuses: controls other than tab, line feed and
/// carriage return.
const CONTROLS: &str = r"\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F";

/// A year the server takes: 1000 to 9999.
const YEAR: &str = "[1-9][0-9]{3}";
/// A month of such a year, `YYYY-MM`.
const MONTH: &str = "[1-9][0-9]{3}-(0[1-9]|1[0-2])";

/// What a request may put in a field, by the field's name, where a name means one rule.
fn value_rule(name: &str) -> Option<Value> {
    match name {
        "currency" => {
            Some(serde_json::json!({"enum": crm_domain::platform::money::currency_codes()}))
        }
        "country" => {
            Some(serde_json::json!({"enum": crm_domain::platform::address::country_codes()}))
        }
        "fiscal_time_zone" => {
            Some(serde_json::json!({"enum": crm_domain::platform::time::time_zone_names()}))
        }
        // A positive decimal with at most three decimals that fits in thousandths.
        "quantity" => Some(serde_json::json!({"pattern":
            r"^(0*[1-9][0-9]{0,14}(\.[0-9]{1,3})?|0+\.([1-9][0-9]{0,2}|0[1-9][0-9]?|00[1-9]))$"})),
        // A tag, as each of `tags` and as the `tag` filter.
        "tag" | "tags" => Some(serde_json::json!({"maxLength": 50, "pattern": text_pattern(true)})),
        _ => None,
    }
}

/// What a query parameter may hold, by its name, where the name means one rule.
fn parameter_rule(name: &str) -> Option<Value> {
    match name {
        "period" => Some(serde_json::json!({"pattern": format!(r"^{YEAR}$|^{MONTH}\.\.{MONTH}$")})),
        "from" | "to" => Some(serde_json::json!({"pattern": format!("^{MONTH}$")})),
        "q" => Some(serde_json::json!({"pattern": text_pattern(false)})),
        _ => value_rule(name),
    }
}

fn text_pattern(not_blank: bool) -> Value {
    if not_blank {
        Value::from(format!("^[^{CONTROLS}]*[^\\s{CONTROLS}][^{CONTROLS}]*$"))
    } else {
        Value::from(format!("^[^{CONTROLS}]*$"))
    }
}

/// Constrains a string schema that says nothing of its values yet: by `rule`, or as text the
/// server cleans. Secrets are left as they are: the server compares them, it does not clean them.
fn constrain_string(name: &str, schema: &mut Value, rule: Option<Value>, not_blank: bool) {
    let Some(map) = schema.as_object_mut() else {
        return;
    };
    let open = ["format", "enum", "pattern"]
        .iter()
        .all(|k| !map.contains_key(*k));
    let secret = matches!(name, "password" | "refresh_token");
    if !is_string(&Value::Object(map.clone())) || !open || secret {
        return;
    }
    match rule {
        Some(Value::Object(rule)) => {
            let nullable =
                matches!(map.get("type"), Some(Value::Array(t)) if t.iter().any(|t| t == "null"));
            for (key, mut value) in rule {
                if let (true, Some(values)) = (nullable, value.as_array_mut()) {
                    values.push(Value::Null);
                }
                map.insert(key, value);
            }
        }
        _ => {
            map.insert("pattern".to_owned(), text_pattern(not_blank));
        }
    }
}

/// Basis points in a request are a share: 0 to 10000.
fn bound_basis_points(name: &str, schema: &mut Value) {
    let Some(map) = schema.as_object_mut() else {
        return;
    };
    let integer = matches!(map.get("type"), Some(Value::String(t)) if t == "integer")
        || matches!(map.get("type"), Some(Value::Array(t)) if t.iter().any(|t| t == "integer"));
    if name.ends_with("_bp") && integer && !map.contains_key("minimum") {
        map.insert("minimum".to_owned(), Value::from(0));
        map.insert("maximum".to_owned(), Value::from(10_000));
    }
}

/// Request text says what the server refuses in it: control characters anywhere, and a blank
/// value where a field is required. An update may leave out a field that the matching create
/// requires, but may not blank it. Currencies, countries, time zones, quantities, tags,
/// periods, months and basis points list or spell what they accept.
fn constrain_request_text(document: &mut Value) {
    let (in_requests, _) = request_and_response_schemas(document);
    let Some(schemas) = schemas(document) else {
        return;
    };
    let required_of = |schema: &Value| -> BTreeSet<String> {
        schema
            .get("required")
            .and_then(Value::as_array)
            .map(|names| {
                names
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let created: Vec<(String, BTreeSet<String>)> = in_requests
        .iter()
        .filter_map(|name| {
            let base = name.strip_suffix("Update")?;
            let create = schemas.get(&format!("{base}Create"))?;
            Some((name.clone(), required_of(create)))
        })
        .collect();
    for name in &in_requests {
        let Some(schema) = schemas.get_mut(name) else {
            continue;
        };
        let mut not_blank = required_of(schema);
        if let Some((_, required)) = created.iter().find(|(update, _)| update == name) {
            not_blank.extend(required.iter().cloned());
        }
        if let Some(Value::Object(properties)) = schema.get_mut("properties") {
            for (property, value) in properties.iter_mut() {
                let rule = value_rule(property);
                match value.get_mut("items") {
                    Some(items) if property == "tags" => {
                        constrain_string(property, items, rule, true);
                    }
                    _ => constrain_string(property, value, rule, not_blank.contains(property)),
                }
                bound_basis_points(property, value);
            }
        }
    }
    for parameter in parameters(document) {
        let name = parameter
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if let (Some(name), Some(schema)) = (name, parameter.get_mut("schema")) {
            if let Some(rule) = parameter_rule(&name) {
                constrain_string(&name, schema, Some(rule), false);
            }
        }
    }
}

/// Every operation's parameters.
fn parameters(document: &mut Value) -> impl Iterator<Item = &mut Value> {
    document
        .get_mut("paths")
        .and_then(Value::as_object_mut)
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
        .filter_map(|operation| {
            operation
                .get_mut("parameters")
                .and_then(Value::as_array_mut)
        })
        .flatten()
}

/// Every list's `limit` is at least 1, as `pagination::page_limit` checks; said here once
/// rather than on each list's query.
fn bound_page_limits(document: &mut Value) {
    for parameter in parameters(document) {
        if parameter.get("name").and_then(Value::as_str) != Some("limit") {
            continue;
        }
        if let Some(schema) = parameter.get_mut("schema").and_then(Value::as_object_mut) {
            schema.insert("minimum".to_owned(), Value::from(1));
        }
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

    #[test]
    fn request_text_refuses_what_the_server_refuses() {
        let mut document = json!({
            "paths": {"/things": {"post": {
                "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ThingCreate"}}}},
                "parameters": [{"in": "query", "name": "currency", "schema": {"type": "string"}},
                               {"in": "query", "name": "q", "schema": {"type": "string"}}],
                "responses": {}}},
                "/things/{id}": {"patch": {
                "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ThingUpdate"}}}},
                "responses": {}}}},
            "components": {"schemas": {
                "ThingCreate": {"type": "object", "required": ["name", "quantity"], "properties": {
                    "name": {"type": "string"}, "notes": {"type": ["string", "null"]},
                    "quantity": {"type": "string"}, "currency": {"type": ["string", "null"]},
                    "id": {"type": "string", "format": "uuid"}, "password": {"type": "string"}}},
                "ThingUpdate": {"type": "object", "properties": {"name": {"type": "string"}}}}}});
        constrain_request_text(&mut document);
        let create = &document["components"]["schemas"]["ThingCreate"]["properties"];
        let blank_refused = text_pattern(true);
        assert_eq!(create["name"]["pattern"], blank_refused);
        assert_eq!(create["notes"]["pattern"], text_pattern(false));
        assert_eq!(
            document["components"]["schemas"]["ThingUpdate"]["properties"]["name"]["pattern"],
            blank_refused,
            "the create requires it"
        );
        assert!(create["quantity"]["pattern"]
            .as_str()
            .unwrap()
            .starts_with("^(0*[1-9]"));
        let currencies = create["currency"]["enum"].as_array().unwrap();
        assert!(currencies.contains(&json!("EUR")) && currencies.contains(&Value::Null));
        assert!(
            create["id"].get("pattern").is_none() && create["password"].get("pattern").is_none()
        );
        let parameters = &document["paths"]["/things"]["post"]["parameters"];
        assert!(parameters[0]["schema"]["enum"]
            .as_array()
            .unwrap()
            .contains(&json!("USD")));
        assert_eq!(
            parameters[1]["schema"]["pattern"],
            text_pattern(false),
            "search text is cleaned too"
        );
    }

    #[test]
    fn every_page_limit_is_at_least_one() {
        let mut document = json!({"paths": {"/things": {"get": {"parameters": [
            {"in": "query", "name": "limit", "schema": {"type": "integer", "format": "int64"}},
            {"in": "query", "name": "cursor", "schema": {"type": "string"}}],
            "responses": {}}}}});
        bound_page_limits(&mut document);
        let parameters = &document["paths"]["/things"]["get"]["parameters"];
        assert_eq!(parameters[0]["schema"]["minimum"], 1);
        assert!(parameters[1]["schema"].get("minimum").is_none());
    }

    #[test]
    fn tags_periods_and_basis_points_say_their_bounds() {
        let mut document = json!({
            "paths": {"/report": {"get": {"parameters": [
                {"in": "query", "name": "period", "schema": {"type": "string"}},
                {"in": "query", "name": "tag", "schema": {"type": "string"}}],
                "responses": {}}},
                "/things": {"post": {"requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ThingCreate"}}}},
                "responses": {}}}},
            "components": {"schemas": {"ThingCreate": {"type": "object", "properties": {
                "tags": {"type": "array", "items": {"type": "string"}},
                "discount_bp": {"type": "integer"}, "score": {"type": "integer"}}}}}});
        constrain_request_text(&mut document);
        let period = document["paths"]["/report"]["get"]["parameters"][0]["schema"]["pattern"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(period.starts_with("^[1-9][0-9]{3}$|"), "{period}");
        assert_eq!(
            document["paths"]["/report"]["get"]["parameters"][1]["schema"]["maxLength"],
            50
        );
        let thing = &document["components"]["schemas"]["ThingCreate"]["properties"];
        assert_eq!(thing["tags"]["items"]["maxLength"], 50);
        assert_eq!(
            (
                &thing["discount_bp"]["minimum"],
                &thing["discount_bp"]["maximum"]
            ),
            (&json!(0), &json!(10_000))
        );
        assert!(thing["score"].get("maximum").is_none());
    }
}

#[cfg(test)]
mod round_trip {
    /// The passes run on JSON read back into utoipa's types; JSON those types cannot read makes
    /// the whole tightening fall away silently, which this catches.
    #[test]
    fn the_tightened_document_reads_back() {
        let document = crate::openapi_document().unwrap_or_default();
        assert!(
            document
                .pointer("/components/schemas/SparseRecord")
                .is_some(),
            "a pass wrote JSON utoipa cannot read back, so no pass applied"
        );
        assert_eq!(
            document.pointer(
                "/components/schemas/ListResponse_Contact/properties/data/items/anyOf/0/$ref"
            ),
            Some(&serde_json::json!("#/components/schemas/Contact"))
        );
    }
}
