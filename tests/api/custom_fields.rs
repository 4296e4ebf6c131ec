//! Custom fields, the filter language, sorts by any field, saved views, sparse fieldsets and
//! expansions, on contacts and companies.
use std::collections::BTreeSet;

use crm_domain::access::roles::Role;
use crm_domain::platform::filter::{self, FieldValue, Scalar};
use crm_tests::{on_both_backends, query_value, Order, Product, TestApp};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

fn ids(r: &crm_tests::Response) -> Vec<String> {
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["data"].as_array().unwrap().iter().map(id).collect()
}

fn set(ids: &[String]) -> BTreeSet<String> {
    ids.iter().cloned().collect()
}

async fn field(app: &TestApp, object: &str, body: Value) -> Value {
    app.create(&format!("/v1/schema/{object}/fields"), body)
        .await
}

/// Every id of `/v1/contacts` matching `filter` (and `extra` parameters), all pages.
async fn filtered(app: &TestApp, filter: &str, extra: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = app
            .get(&format!(
                "/v1/contacts?limit=200&filter={}{extra}{cursor}",
                query_value(filter)
            ))
            .await;
        found.extend(ids(&r));
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return found,
        }
    }
}

async fn segment_field(app: &TestApp) {
    field(
        app,
        "contacts",
        json!({"key": "segment", "label": "Segment", "type": "enum",
            "options": [{"value": "retail", "label": "Retail"}, {"value": "food", "label": "Food"}, {"value": "wholesale", "label": "Wholesale"}]}),
    )
    .await;
}

on_both_backends! {
    async fn an_enum_value_is_stored_a_bad_one_is_named_and_the_schema_lists_every_field(app: TestApp) {
        segment_field(&app).await;
        let ana = app.create("/v1/contacts", json!({"last_name": "García", "custom_fields": {"segment": "retail"}})).await;
        assert_eq!(ana["custom_fields"], json!({"segment": "retail"}));
        let read = app.get(&format!("/v1/contacts/{}", id(&ana))).await;
        assert_eq!(read.body["custom_fields"]["segment"], "retail");

        let before = app.get("/v1/contacts").await.body["data"].as_array().unwrap().len();
        let r = app.post("/v1/contacts", json!({"last_name": "Bad", "custom_fields": {"segment": "online", "nope": 1}})).await;
        assert_eq!(r.status, 422, "{}", r.text);
        let named: BTreeSet<&str> = r.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(named, BTreeSet::from(["custom_fields.segment", "custom_fields.nope"]));
        assert_eq!(app.get("/v1/contacts").await.body["data"].as_array().unwrap().len(), before, "nothing written");
        let r = app.patch(&format!("/v1/contacts/{}", id(&ana)), json!({"custom_fields": {"segment": 3}})).await;
        assert_eq!(r.status, 422);
        assert_eq!(r.body["errors"][0]["field"], "custom_fields.segment");

        let schema = app.get("/v1/schema/contacts").await;
        assert_eq!(schema.status, 200, "{}", schema.text);
        let fields = schema.body["fields"].as_array().unwrap();
        let path = |p: &str| fields.iter().find(|f| f["path"] == p).cloned().unwrap_or(Value::Null);
        assert_eq!(path("email")["custom"], false);
        assert_eq!(path("email")["indexed"], true);
        assert_eq!(path("custom.segment")["type"], "enum");
        assert_eq!(path("custom.segment")["custom"], true);
        assert_eq!(path("custom.segment")["options"][1]["value"], "food");
        assert!(path("custom.segment")["operators"].as_array().unwrap().contains(&json!("in")));
        assert!(schema.body["relations"].as_array().unwrap().iter().any(|r| r["name"] == "company"));

        let r = app.post("/v1/schema/contacts/fields", json!({"key": "email", "label": "x", "type": "text"})).await;
        assert_eq!(r.status, 422, "a built-in name");
        let r = app.post("/v1/schema/contacts/fields", json!({"key": "segment", "label": "x", "type": "text"})).await;
        assert_eq!(r.status, 409, "a key taken");
        let sales = app.token_for(Role::Sales, None).await;
        let r = app.request(reqwest::Method::POST, "/v1/schema/contacts/fields", Some(&sales), Some(json!({"key": "x", "label": "x", "type": "text"})), &[]).await;
        assert_eq!(r.status, 403, "admins manage fields");
    }

    async fn a_type_change_converts_every_value_or_none_and_a_deleted_field_refuses_writes(app: TestApp) {
        field(&app, "contacts", json!({"key": "size", "label": "Size", "type": "text"})).await;
        let a = app.create("/v1/contacts", json!({"last_name": "A", "custom_fields": {"size": "42"}})).await;
        let b = app.create("/v1/contacts", json!({"last_name": "B", "custom_fields": {"size": "big"}})).await;
        let r = app.patch("/v1/schema/contacts/fields/size", json!({"type": "number"})).await;
        assert_eq!(r.status, 409, "{}", r.text);
        assert!(r.text.contains(&id(&b)), "names the record: {}", r.text);
        let a_now = app.get(&format!("/v1/contacts/{}", id(&a))).await;
        assert_eq!(a_now.body["custom_fields"]["size"], "42", "nothing converted");
        assert_eq!(a_now.body["version"], a["version"]);

        app.patch(&format!("/v1/contacts/{}", id(&b)), json!({"custom_fields": {"size": "7"}})).await;
        let r = app.patch("/v1/schema/contacts/fields/size", json!({"type": "number"})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["type"], "number");
        let a_now = app.get(&format!("/v1/contacts/{}", id(&a))).await;
        assert_eq!(a_now.body["custom_fields"]["size"], 42);
        let found = filtered(&app, "custom.size.gt.10", "").await;
        assert_eq!(found, vec![id(&a)], "numbers compare as numbers");

        field(&app, "contacts", json!({"key": "tier", "label": "Tier", "type": "enum",
            "options": [{"value": "gold", "label": "Gold"}, {"value": "silver", "label": "Silver"}]})).await;
        app.patch(&format!("/v1/contacts/{}", id(&a)), json!({"custom_fields": {"tier": "silver"}})).await;
        let r = app.patch("/v1/schema/contacts/fields/tier", json!({"options": [{"value": "gold", "label": "Gold"}]})).await;
        assert_eq!(r.status, 409, "removing a used option: {}", r.text);

        assert_eq!(app.delete("/v1/schema/contacts/fields/size").await.status, 204);
        let read = app.get(&format!("/v1/contacts/{}", id(&a))).await;
        assert!(read.body["custom_fields"].get("size").is_none(), "archived values stop showing");
        let r = app.patch(&format!("/v1/contacts/{}", id(&a)), json!({"custom_fields": {"size": 1}})).await;
        assert_eq!(r.status, 422);
        assert_eq!(r.body["errors"][0]["field"], "custom_fields.size");
        assert_eq!(app.get("/v1/contacts?filter=custom.size.eq.1").await.status, 422, "nor filter");
        let listed = app.get("/v1/schema/contacts/fields").await;
        assert_eq!(listed.body["data"][0]["archived"], true);
    }

    #[smoke]
    async fn filters_combine_built_in_and_custom_paths_and_values_stay_values(app: TestApp) {
        segment_field(&app).await;
        field(&app, "contacts", json!({"key": "visits", "label": "Visits", "type": "number"})).await;
        let company = app.create("/v1/companies", json!({"name": "Acme"})).await;
        let a = app.create("/v1/contacts", json!({"last_name": "A", "email": "a@example.com", "company_id": id(&company),
            "lifecycle_stage": "customer", "tags": ["vip"], "custom_fields": {"segment": "retail", "visits": 5}})).await;
        let b = app.create("/v1/contacts", json!({"last_name": "B", "lifecycle_stage": "customer",
            "custom_fields": {"segment": "food", "visits": 1}})).await;
        let c = app.create("/v1/contacts", json!({"last_name": "C", "email": "c@example.com", "custom_fields": {"segment": "wholesale"}})).await;
        let d = app.create("/v1/contacts", json!({"last_name": "x' OR '1'='1", "title": "it's"})).await;
        let by_company = format!("company_id.eq.{}", id(&company));
        let cases: Vec<(&str, Vec<&Value>)> = vec![
            ("and(lifecycle_stage.eq.customer,custom.segment.in.(retail,food))", vec![&a, &b]),
            ("or(email.is.null,custom.visits.gte.5)", vec![&a, &b, &d]),
            ("not(custom.visits.gt.1)", vec![&b, &c, &d]),
            ("custom.visits.neq.1", vec![&a]),
            ("and(not(email.is.null),tags.contains.vip)", vec![&a]),
            ("custom.segment.is.null", vec![&d]),
            ("last_name.eq.\"x' OR '1'='1\"", vec![&d]),
            ("last_name.eq.x' OR '1'='1", vec![&d]),
            ("title.eq.it's", vec![&d]),
            ("email.contains.EXAMPLE", vec![&a, &c]),
            ("email.starts_with.c@", vec![&c]),
            (&by_company, vec![&a]),
        ];
        for (filter, expected) in cases {
            let found = filtered(&app, filter, "").await;
            assert_eq!(set(&found), set(&expected.iter().map(|v| id(v)).collect::<Vec<_>>()), "{filter}");
        }
        let found = filtered(&app, "custom.segment.in.(retail,food)", "&lifecycle_stage=customer&q=a").await;
        assert_eq!(found, vec![id(&a)], "old parameters are ANDed");
        for (bad, named) in [("nope.eq.1", "nope"), ("custom.segment.eq.online", "custom.segment"),
            ("custom.visits.contains.1", "custom.visits"), ("and(email.is.null", "`)`")] {
            let r = app.get(&format!("/v1/contacts?filter={}", query_value(bad))).await;
            assert_eq!(r.status, 422, "{bad}");
            assert_eq!(r.body["errors"][0]["field"], "filter", "{bad}");
            assert!(r.text.contains(named), "{bad}: {}", r.text);
        }
        let searched = app.post("/v1/contacts/search", json!({"filter": "custom.segment.eq.food", "fields": ["last_name"]})).await;
        assert_eq!(searched.status, 200, "{}", searched.text);
        assert_eq!(searched.body["data"], json!([{"id": id(&b), "last_name": "B"}]));
    }

    async fn random_filters_match_the_pure_evaluator(app: TestApp) {
        segment_field(&app).await;
        field(&app, "contacts", json!({"key": "visits", "label": "Visits", "type": "number"})).await;
        field(&app, "contacts", json!({"key": "rate", "label": "Rate", "type": "decimal", "scale": 2})).await;
        field(&app, "contacts", json!({"key": "active", "label": "Active", "type": "boolean"})).await;
        field(&app, "contacts", json!({"key": "since", "label": "Since", "type": "date"})).await;
        field(&app, "contacts", json!({"key": "channels", "label": "Channels", "type": "multi_enum",
            "options": [{"value": "web", "label": "Web"}, {"value": "shop", "label": "Shop"}]})).await;
        let mut rng = rand::rngs::StdRng::seed_from_u64(19);
        let names = ["Ana", "Bea", "anabel", "Carlos", "O'Brien"];
        let segments = ["retail", "food", "wholesale"];
        let mut records = Vec::new();
        for i in 0..36 {
            let mut custom = serde_json::Map::new();
            if rng.gen_bool(0.8) { custom.insert("segment".into(), json!(segments[rng.gen_range(0..3)])); }
            if rng.gen_bool(0.7) { custom.insert("visits".into(), json!(rng.gen_range(0..6))); }
            if rng.gen_bool(0.7) { custom.insert("rate".into(), json!(format!("{}.{:02}", rng.gen_range(0..3), rng.gen_range(0..100)))); }
            if rng.gen_bool(0.7) { custom.insert("active".into(), json!(rng.gen_bool(0.5))); }
            if rng.gen_bool(0.7) { custom.insert("since".into(), json!(format!("2026-0{}-1{}", rng.gen_range(1..4), rng.gen_range(0..3)))); }
            if rng.gen_bool(0.6) {
                let all = ["web", "shop"];
                let picked: Vec<&str> = all.iter().copied().filter(|_| rng.gen_bool(0.6)).collect();
                if !picked.is_empty() { custom.insert("channels".into(), json!(picked)); }
            }
            let stage = ["prospect", "customer", "former"][rng.gen_range(0..3)];
            let mut body = json!({"last_name": format!("{}{i}", names[rng.gen_range(0..names.len())]),
                "lifecycle_stage": stage,
                "custom_fields": custom});
            if rng.gen_bool(0.6) { body["email"] = json!(format!("p{i}@example.com")); }
            if rng.gen_bool(0.4) { body["tags"] = json!(["vip"]); }
            records.push(app.create("/v1/contacts", body).await);
        }
        let schema = app.get("/v1/schema/contacts").await;
        let specs: Vec<filter::FieldSpec> = records_specs(&schema.body);
        let lookup = |path: &str| specs.iter().find(|s| s.path == path).cloned();
        for round in 0..60 {
            let text = random_filter(&mut rng, 0);
            let condition = filter::compile(&text, &lookup, crm_store::now()).unwrap_or_else(|e| panic!("{text}: {e:?}"));
            let mut expected: Vec<String> = records
                .iter()
                .filter(|r| filter::evaluate(&condition, &|path: &str| value_at(r, path)))
                .map(id)
                .collect();
            expected.sort();
            let mut found = filtered(&app, &text, "").await;
            found.sort();
            assert_eq!(found, expected, "round {round}: {text}");
        }
    }

    async fn a_cursor_walk_by_a_custom_field_returns_each_row_once_nulls_last(app: TestApp) {
        segment_field(&app).await;
        field(&app, "contacts", json!({"key": "visits", "label": "Visits", "type": "number"})).await;
        let mut created = Vec::new();
        for i in 0..45 {
            let mut custom = json!({});
            if i % 4 != 0 { custom["visits"] = json!(i % 5); }
            if i % 3 != 0 { custom["segment"] = json!(if i % 2 == 0 { "retail" } else { "food" }); }
            created.push(app.create("/v1/contacts", json!({"last_name": format!("n{i:02}"), "custom_fields": custom})).await);
        }
        for sort in ["custom.visits,-custom.segment", "-custom.visits", "custom.segment,last_name"] {
            let mut seen = Vec::new();
            let mut cursor = String::new();
            let mut pages = 0;
            loop {
                let r = app.get(&format!("/v1/contacts?limit=7&sort={sort}{cursor}")).await;
                assert_eq!(r.status, 200, "{}", r.text);
                seen.extend(r.body["data"].as_array().unwrap().iter().cloned());
                pages += 1;
                if pages == 2 {
                    app.create("/v1/contacts", json!({"last_name": "late", "custom_fields": {"visits": 2}})).await;
                }
                match r.body["next_cursor"].as_str() {
                    Some(c) => cursor = format!("&cursor={c}"),
                    None => break,
                }
            }
            let unique: BTreeSet<String> = seen.iter().map(id).collect();
            assert_eq!(unique.len(), seen.len(), "{sort}: a row came twice");
            for original in &created {
                assert!(unique.contains(&id(original)), "{sort}: a row was skipped");
            }
            let first_key = sort.split(',').next().unwrap().trim_start_matches('-').trim_start_matches("custom.");
            let nulls_from = seen.iter().position(|c| c["custom_fields"].get(first_key).is_none()).unwrap();
            assert!(seen[nulls_from..].iter().all(|c| c["custom_fields"].get(first_key).is_none()), "{sort}: nulls last");
            let values: Vec<Value> = seen[..nulls_from].iter().map(|c| c["custom_fields"][first_key].clone()).collect();
            let mut ordered = values.clone();
            ordered.sort_by(|a, b| match (a, b) {
                (Value::Number(x), Value::Number(y)) => x.as_i64().cmp(&y.as_i64()),
                _ => a.as_str().cmp(&b.as_str()),
            });
            if sort.starts_with('-') { ordered.reverse(); }
            assert_eq!(values, ordered, "{sort}: in order");
        }
        let first = app.get("/v1/contacts?limit=5&sort=custom.visits").await;
        let cursor = first.body["next_cursor"].as_str().unwrap();
        let r = app.get(&format!("/v1/contacts?limit=5&sort=-custom.visits&cursor={cursor}")).await;
        assert_eq!(r.status, 422, "a cursor is bound to its sort");
        let r = app.get(&format!("/v1/contacts?limit=5&sort=custom.visits&filter=custom.visits.gt.1&cursor={cursor}")).await;
        assert_eq!(r.status, 422, "and to its filter");
        assert_eq!(r.body["errors"][0]["field"], "cursor");
        assert_eq!(app.get("/v1/contacts?sort=a,b,c,d").await.status, 422);
    }

    async fn views_apply_their_filter_sort_and_columns_and_private_ones_stay_private(app: TestApp) {
        segment_field(&app).await;
        let a = app.create("/v1/contacts", json!({"last_name": "A", "email": "a@example.com", "custom_fields": {"segment": "retail"}})).await;
        app.create("/v1/contacts", json!({"last_name": "B", "custom_fields": {"segment": "food"}})).await;
        let c = app.create("/v1/contacts", json!({"last_name": "C", "custom_fields": {"segment": "retail"}})).await;
        let view = app.create("/v1/views", json!({"name": "Retail", "object": "contacts",
            "filter": "custom.segment.eq.retail", "sort": "-last_name", "columns": ["last_name", "custom.segment"]})).await;
        let r = app.get(&format!("/v1/contacts?view={}", id(&view))).await;
        assert_eq!(r.body["data"], json!([
            {"id": id(&c), "last_name": "C", "custom_fields": {"segment": "retail"}},
            {"id": id(&a), "last_name": "A", "custom_fields": {"segment": "retail"}},
        ]));
        let r = app.get(&format!("/v1/contacts?view={}&filter=email.is.null&fields=email", id(&view))).await;
        assert_eq!(r.body["data"], json!([{"id": id(&c), "email": null}]), "a filter is ANDed, fields win");
        let bad = app.post("/v1/views", json!({"name": "Bad", "object": "contacts", "filter": "nope.eq.1"})).await;
        assert_eq!(bad.status, 422);

        let other = app.token_for(Role::Sales, None).await;
        let r = app.request(reqwest::Method::GET, &format!("/v1/views/{}", id(&view)), Some(&other), None, &[]).await;
        assert_eq!(r.status, 404, "a private view is another's secret");
        let r = app.request(reqwest::Method::GET, &format!("/v1/contacts?view={}", id(&view)), Some(&other), None, &[]).await;
        assert_eq!(r.status, 422, "a view another keeps private names nothing for them");
        assert_eq!(r.body["errors"][0]["field"], "view");
        app.patch(&format!("/v1/views/{}", id(&view)), json!({"shared": true})).await;
        let r = app.request(reqwest::Method::GET, &format!("/v1/contacts?view={}", id(&view)), Some(&other), None, &[]).await;
        assert_eq!(r.status, 200, "a shared one applies for all");
        let r = app.request(reqwest::Method::PATCH, &format!("/v1/views/{}", id(&view)), Some(&other), Some(json!({"name": "Mine"})), &[]).await;
        assert_eq!(r.status, 404, "only its owner changes it");
        let listed = app.request(reqwest::Method::GET, "/v1/views", Some(&other), None, &[]).await;
        assert_eq!(listed.body["data"].as_array().unwrap().len(), 1);
    }

    async fn fields_return_only_the_asked_keys_and_expand_embeds_related_records(app: TestApp) {
        segment_field(&app).await;
        let (owner_id, _, _) = app.login_new_user(Role::Manager, None).await;
        let company = app.create("/v1/companies", json!({"name": "Acme", "owner_id": owner_id})).await;
        let contact = app.create("/v1/contacts", json!({"last_name": "García", "email": "g@example.com",
            "company_id": id(&company), "custom_fields": {"segment": "food"}})).await;
        let r = app.get(&format!("/v1/contacts/{}?fields=last_name,custom.segment", id(&contact))).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body, json!({"id": id(&contact), "last_name": "García", "custom_fields": {"segment": "food"}}));
        assert!(r.headers.get("etag").is_some());
        let r = app.get("/v1/contacts?fields=email&expand=company.owner").await;
        let item = &r.body["data"][0];
        assert_eq!(item["email"], "g@example.com");
        assert_eq!(item["company"]["name"], "Acme");
        assert_eq!(item["company"]["owner"]["id"], owner_id.as_str());
        assert_eq!(item["company"]["owner"]["role"], "manager");
        assert!(item["company"]["owner"].get("password_hash").is_none());
        assert!(item.get("last_name").is_none());
        let r = app.get(&format!("/v1/contacts/{}?expand=company", id(&contact))).await;
        assert_eq!(r.body["company"]["id"], id(&company).as_str());
        assert_eq!(r.body["company_id"], id(&company).as_str());
        let key = app.create("/v1/api-keys", json!({"name": "contacts only", "scopes": ["contacts:read"]})).await;
        let secret = key["key"].as_str().unwrap().to_owned();
        let r = app.get_as(&secret, "/v1/contacts?expand=company").await;
        assert_eq!(r.status, 403, "an embedded company needs its read: {}", r.text);
        assert_eq!(app.get_as(&secret, "/v1/contacts?fields=email").await.status, 200);
        for bad in ["expand=company.owner.company", "expand=pipeline", "fields=nope"] {
            let r = app.get(&format!("/v1/contacts?{bad}")).await;
            assert_eq!(r.status, 422, "{bad}");
        }
        let r = app.get(&format!("/v1/companies/{}?fields=name,custom.segment&expand=owner", id(&company))).await;
        assert_eq!(r.body, json!({"id": id(&company), "name": "Acme", "owner": {"id": owner_id, "email": r.body["owner"]["email"], "role": "manager"}, "custom_fields": {}}));
    }

    async fn an_expansion_costs_one_query_per_relation_for_the_whole_page(app: TestApp) {
        let (owner_id, _, _) = app.login_new_user(Role::Manager, None).await;
        for i in 0..30 {
            let company = app.create("/v1/companies", json!({"name": format!("Co {i}"), "owner_id": owner_id})).await;
            app.create("/v1/contacts", json!({"last_name": format!("P{i}"), "company_id": id(&company), "owner_id": owner_id})).await;
        }
        let pool = app.pool.clone();
        let counts = actix_web::web::block(move || {
            use crm_store::parties::contacts::{list_expanded, ContactFilter};
            use crm_store::parties::companies::Expand;
            use crm_store::platform::query::ListQuery;
            use diesel::connection::{Connection, InstrumentationEvent};
            use std::sync::atomic::{AtomicUsize, Ordering};
            use std::sync::Arc;
            let mut conn = pool.get().unwrap();
            let queries = Arc::new(AtomicUsize::new(0));
            let counter = queries.clone();
            conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
                if matches!(event, InstrumentationEvent::StartQuery { .. }) {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
            });
            let query = ListQuery { filter: None, sort: "-created_at".into(), after: None, limit: 100, now: crm_store::now() };
            let mut count = |expand: Expand| {
                let before = queries.load(Ordering::SeqCst);
                let (page, related) = list_expanded(&mut conn, &ContactFilter::default(), &query, expand).unwrap();
                assert_eq!(page.items.len(), 30);
                (queries.load(Ordering::SeqCst) - before, related.companies.len(), related.users.len())
            };
            [
                count(Expand::default()),
                count(Expand { company: true, ..Expand::default() }),
                count(Expand { owner: true, ..Expand::default() }),
                count(Expand { company: true, owner: true, company_owner: true }),
            ]
        })
        .await
        .unwrap();
        let base = counts[0].0;
        assert_eq!(counts[1], (base + 1, 30, 0), "companies: one query");
        assert_eq!(counts[2], (base + 1, 0, 1), "owners: one query");
        assert_eq!(counts[3], (base + 2, 30, 1), "companies and every owner: two queries");
    }

    async fn expanded_products_show_their_cost_to_staff_and_never_to_customers(app: TestApp) {
        let company = app.company("Frutas Ana", json!({})).await;
        Product::new("EXP-1", 1000, 600).ensure(&app).await;
        let order = Order::new("expand-1").company(&id(&company)).line("EXP-1", "2", 1000).push(&app).await;
        let staff = app.get(&format!("/v1/orders/{}?expand=lines.product", id(&order))).await;
        assert_eq!(staff.status, 200, "{}", staff.text);
        assert_eq!(staff.body["lines"][0]["product"]["sku"], "EXP-1");
        assert_eq!(staff.body["lines"][0]["product"]["unit_cost"]["amount_minor"], 600);
        let listed = app.get("/v1/orders?expand=lines.product").await;
        assert_eq!(listed.body["data"][0]["lines"][0]["product"]["unit_cost"]["amount_minor"], 600);
        let read = app.get(&format!("/v1/companies/{}", id(&company))).await;
        let ordered_at: chrono::DateTime<chrono::Utc> = order["ordered_at"].as_str().unwrap().parse().unwrap();
        let last: chrono::DateTime<chrono::Utc> = read.body["last_order_at"].as_str().unwrap().parse().unwrap();
        assert_eq!(last, ordered_at, "last_order_at is the newest order's");
        let idle = app.company("Sin pedidos", json!({})).await;
        assert!(app.get(&format!("/v1/companies/{}", id(&idle))).await.body["last_order_at"].is_null());
        let pages: Vec<String> = {
            let first = app.get("/v1/companies?limit=1&sort=-last_order_at").await;
            let cursor = first.body["next_cursor"].as_str().unwrap().to_owned();
            let second = app.get(&format!("/v1/companies?limit=1&sort=-last_order_at&cursor={cursor}")).await;
            [ids(&first), ids(&second)].concat()
        };
        assert_eq!(pages, vec![id(&company), id(&idle)], "sorted by last_order_at, nulls last, across pages");
        let r = app.get("/v1/companies?filter=last_order_at.is.null").await;
        assert_eq!(ids(&r), vec![id(&idle)]);
        let plain = app.get(&format!("/v1/orders/{}", id(&order))).await;
        assert!(plain.body["lines"][0].get("product").is_none(), "only when asked");

        let customer = app.portal_user(&id(&company)).await;
        for path in [format!("/v1/portal/orders/{}?expand=lines.product", id(&order)), "/v1/portal/orders?expand=lines.product".to_owned()] {
            let r = app.get_as(&customer, &path).await;
            assert_eq!(r.status, 200, "{}", r.text);
            let line = if r.body.get("data").is_some() { &r.body["data"][0]["lines"][0] } else { &r.body["lines"][0] };
            assert_eq!(line["product"]["sku"], "EXP-1", "{path}");
            assert!(line["product"].get("unit_cost").is_none(), "{path}: {}", r.text);
            assert!(!r.text.contains("unit_cost"), "{path}");
        }
        assert_eq!(app.get_as(&customer, "/v1/portal/orders?expand=owner").await.status, 422);

        let product_id = Product::new("EXP-1", 1000, 600).ensure(&app).await;
        let quote = app.create("/v1/quotes", json!({"company_id": id(&company), "currency": "EUR",
            "lines": [{"product_id": product_id, "quantity": "1"}]})).await;
        assert_eq!(app.act(&format!("/v1/quotes/{}/send", id(&quote))).await.status, 200);
        let staff = app.get(&format!("/v1/quotes/{}?expand=lines.product", id(&quote))).await;
        assert_eq!(staff.body["lines"][0]["product"]["unit_cost"]["amount_minor"], 600, "{}", staff.text);
        let portal = app.get_as(&customer, &format!("/v1/portal/quotes/{}?expand=lines.product", id(&quote))).await;
        assert_eq!(portal.body["lines"][0]["product"]["sku"], "EXP-1", "{}", portal.text);
        assert!(!portal.text.contains("unit_cost"));
    }
}

/// The filter language's view of the contact fields the random test uses, from the schema.
fn records_specs(schema: &Value) -> Vec<filter::FieldSpec> {
    let wanted = [
        "last_name",
        "email",
        "lifecycle_stage",
        "tags",
        "custom.segment",
        "custom.visits",
        "custom.rate",
        "custom.active",
        "custom.since",
        "custom.channels",
    ];
    schema["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| wanted.contains(&f["path"].as_str().unwrap()))
        .map(|f| {
            let options = || {
                f["options"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|o| o["value"].as_str().unwrap().to_owned())
                    .collect()
            };
            let kind = match (f["path"].as_str().unwrap(), f["type"].as_str().unwrap()) {
                ("tags", _) => filter::Kind::Set(Vec::new()),
                (_, "enum") => filter::Kind::Choice(options()),
                (_, "multi_enum") => filter::Kind::Set(options()),
                (_, "number") => filter::Kind::Integer,
                (_, "decimal") => filter::Kind::Decimal(2),
                (_, "boolean") => filter::Kind::Boolean,
                (_, "date") => filter::Kind::Date,
                _ => filter::Kind::Text,
            };
            filter::FieldSpec {
                path: f["path"].as_str().unwrap().to_owned(),
                kind,
                sortable: true,
            }
        })
        .collect()
}

/// What a contact, as the API returned it, holds at `path`.
fn value_at(record: &Value, path: &str) -> FieldValue {
    let raw = match path.strip_prefix("custom.") {
        Some(key) => &record["custom_fields"][key],
        None => &record[path],
    };
    let text = |s: &str| Scalar::Text(s.to_owned());
    match (path, raw) {
        (_, Value::Null) => FieldValue::Null,
        (_, Value::Array(items)) => {
            FieldValue::Many(items.iter().map(|i| text(i.as_str().unwrap())).collect())
        }
        ("custom.rate", Value::String(s)) => {
            FieldValue::One(Scalar::Integer(filter::parse_scaled(s, 2).unwrap()))
        }
        ("custom.since", Value::String(s)) => FieldValue::One(Scalar::Date(s.parse().unwrap())),
        (_, Value::String(s)) => FieldValue::One(text(s)),
        (_, Value::Number(n)) => FieldValue::One(Scalar::Integer(n.as_i64().unwrap())),
        (_, Value::Bool(b)) => FieldValue::One(Scalar::Boolean(*b)),
        _ => FieldValue::Null,
    }
}

fn random_filter(rng: &mut impl Rng, depth: usize) -> String {
    if depth < 2 && rng.gen_bool(0.45) {
        let items: Vec<String> = (0..rng.gen_range(1..4))
            .map(|_| random_filter(rng, depth + 1))
            .collect();
        return match rng.gen_range(0..3) {
            0 => format!("and({})", items.join(",")),
            1 => format!("or({})", items.join(",")),
            _ => format!("not({})", items[0]),
        };
    }
    let pick = |rng: &mut dyn rand::RngCore, options: &[&str]| {
        options[rng.gen_range(0..options.len())].to_owned()
    };
    match rng.gen_range(0..10) {
        0 => format!(
            "last_name.{}.{}",
            pick(rng, &["contains", "starts_with"]),
            pick(rng, &["an", "AN", "bea", "o'b", "1"])
        ),
        1 => format!(
            "email.{}",
            pick(rng, &["is.null", "contains.p1", "eq.p3@example.com"])
        ),
        2 => format!(
            "lifecycle_stage.{}",
            pick(rng, &["eq.customer", "neq.former", "in.(prospect,former)"])
        ),
        3 => format!("tags.{}", pick(rng, &["contains.vip", "is.null"])),
        4 => format!(
            "custom.segment.{}",
            pick(
                rng,
                &["eq.retail", "neq.food", "in.(food,wholesale)", "is.null"]
            )
        ),
        5 => format!(
            "custom.visits.{}.{}",
            pick(rng, &["eq", "neq", "lt", "lte", "gt", "gte"]),
            rng.gen_range(0..6)
        ),
        6 => format!(
            "custom.rate.{}.{}",
            pick(rng, &["lt", "gte", "eq"]),
            pick(rng, &["1", "1.5", "0.99", "2.10"])
        ),
        7 => format!(
            "custom.active.{}",
            pick(rng, &["eq.true", "neq.true", "eq.false", "is.null"])
        ),
        8 => format!(
            "custom.since.{}",
            pick(
                rng,
                &[
                    "lt.2026-02-11",
                    "gte.2026-03-10",
                    "eq.2026-01-12",
                    "is.null"
                ]
            )
        ),
        _ => format!(
            "custom.channels.{}",
            pick(rng, &["contains.web", "in.(shop)", "is.null"])
        ),
    }
}

/// The ids `path` lists with `filter` and `sort`, one page.
async fn listed(app: &TestApp, path: &str, filter: &str, sort: &str) -> Vec<String> {
    ids(&app
        .get(&format!(
            "{path}?limit=200&filter={}&sort={}",
            query_value(filter),
            query_value(sort)
        ))
        .await)
}

async fn region_field(app: &TestApp, object: &str, portal_visible: bool) {
    field(
        app,
        object,
        json!({"key": "region", "label": "Region", "type": "enum", "portal_visible": portal_visible,
            "options": [{"value": "north", "label": "North"}, {"value": "south", "label": "South"}]}),
    )
    .await;
}

on_both_backends! {
    async fn leads_opportunities_and_orders_take_custom_fields_filters_sorts_and_views(app: TestApp) {
        for object in ["leads", "opportunities", "orders"] {
            region_field(&app, object, object == "orders").await;
            let schema = app.get(&format!("/v1/schema/{object}")).await;
            assert_eq!(schema.status, 200, "{}", schema.text);
            let paths: Vec<&str> = schema.body["fields"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
            assert!(paths.contains(&"custom.region") && paths.contains(&"created_at"), "{object}: {paths:?}");
            let clash = app.post(&format!("/v1/schema/{object}/fields"), json!({"key": "status", "label": "S", "type": "text"})).await;
            let built_in_status = object != "opportunities";
            assert_eq!(clash.status == 422, built_in_status, "{object}: {}", clash.text);
        }

        // Leads.
        let north = app.create("/v1/leads", json!({"last_name": "Norte", "score": 10, "custom_fields": {"region": "north"}})).await;
        assert_eq!(north["custom_fields"], json!({"region": "north"}));
        let south = app.create("/v1/leads", json!({"last_name": "Sur", "score": 90, "custom_fields": {"region": "south"}})).await;
        let bare = app.create("/v1/leads", json!({"last_name": "Nadie", "score": 50})).await;
        let bad = app.post("/v1/leads", json!({"last_name": "Mal", "custom_fields": {"region": "east"}})).await;
        assert_eq!(bad.status, 422, "{}", bad.text);
        assert_eq!(bad.body["errors"][0]["field"], "custom_fields.region");
        assert_eq!(listed(&app, "/v1/leads", "custom.region.eq.north", "-created_at").await, vec![id(&north)]);
        assert_eq!(listed(&app, "/v1/leads", "or(custom.region.eq.south,not(custom.region.is.null))", "score").await, vec![id(&north), id(&south)]);
        assert_eq!(listed(&app, "/v1/leads", "score.gte.0", "-custom.region").await, vec![id(&south), id(&north), id(&bare)]);
        assert_eq!(app.get("/v1/leads?filter=nope.eq.1").await.status, 422);
        let patched = app.patch(&format!("/v1/leads/{}", id(&bare)), json!({"custom_fields": {"region": "south"}})).await;
        assert_eq!(patched.body["custom_fields"]["region"], "south", "{}", patched.text);
        let sparse = app.get(&format!("/v1/leads/{}?fields=last_name,custom.region", id(&north))).await;
        assert_eq!(sparse.body, json!({"id": id(&north), "last_name": "Norte", "custom_fields": {"region": "north"}}));
        let view = app.create("/v1/views", json!({"name": "South", "object": "leads", "filter": "custom.region.eq.south", "sort": "score", "columns": ["score"]})).await;
        let through_view = app.get(&format!("/v1/leads?view={}", id(&view))).await;
        assert_eq!(ids(&through_view), vec![id(&bare), id(&south)]);
        assert_eq!(through_view.body["data"][0], json!({"id": id(&bare), "score": 50}));

        // Opportunities.
        let company = app.company("Oportunidades SL", json!({})).await;
        let opportunity = |name: &str, amount: i64, region: Option<&str>| {
            let mut body = json!({"name": name, "company_id": id(&company), "amount": {"amount_minor": amount, "currency": "EUR"}, "expected_close_date": "2027-01-31"});
            if let Some(region) = region {
                body["custom_fields"] = json!({"region": region});
            }
            body
        };
        let big = app.create("/v1/opportunities", opportunity("Big", 900_000, Some("north"))).await;
        let small = app.create("/v1/opportunities", opportunity("Small", 1_000, Some("north"))).await;
        app.create("/v1/opportunities", opportunity("Other", 5_000, Some("south"))).await;
        assert_eq!(listed(&app, "/v1/opportunities", "and(custom.region.eq.north,amount.amount_minor.gte.500)", "-amount").await, vec![id(&big), id(&small)]);
        assert_eq!(app.post("/v1/opportunities", opportunity("Bad", 1, Some("west"))).await.status, 422);

        // Orders, pushed by a shop, and the portal shows portal-visible values only.
        field(&app, "orders", json!({"key": "gift_note", "label": "Gift note", "type": "text"})).await;
        Product::new("CF-1", 1000, 600).ensure(&app).await;
        let first = Order::new("cf-1").company(&id(&company)).line("CF-1", "1", 1000)
            .custom_fields(json!({"region": "north", "gift_note": "Happy birthday"})).push(&app).await;
        assert_eq!(first["custom_fields"], json!({"region": "north", "gift_note": "Happy birthday"}));
        let second = Order::new("cf-2").company(&id(&company)).line("CF-1", "5", 1000)
            .custom_fields(json!({"region": "south"})).push(&app).await;
        let refused = Order::new("cf-3").line("CF-1", "1", 1000).custom_fields(json!({"region": 7})).send(&app).await;
        assert_eq!(refused.status, 422, "{}", refused.text);
        assert_eq!(refused.body["errors"][0]["field"], "custom_fields.region");
        assert_eq!(listed(&app, "/v1/orders", "custom.region.in.(north,south)", "-total.amount_minor").await, vec![id(&second), id(&first)]);
        assert_eq!(listed(&app, "/v1/orders", "and(custom.region.eq.north,total.amount_minor.lt.5000)", "ordered_at").await, vec![id(&first)]);

        // Expansions: the company, contact and user beside their ids, one query per kind.
        let contact = app.create("/v1/contacts", json!({"last_name": "Contacto", "company_id": id(&company)})).await;
        app.patch(&format!("/v1/opportunities/{}", id(&big)), json!({"contact_id": id(&contact)})).await;
        let expanded = app.get(&format!("/v1/opportunities/{}?expand=company,contact,owner&fields=name", id(&big))).await;
        assert_eq!(expanded.status, 200, "{}", expanded.text);
        assert_eq!(expanded.body["company"]["name"], "Oportunidades SL");
        assert_eq!(expanded.body["contact"]["last_name"], "Contacto");
        assert_eq!(expanded.body["owner"]["role"], "admin", "{}", expanded.text);
        assert!(expanded.body.get("amount").is_none());
        let page = app.get("/v1/opportunities?expand=company&filter=custom.region.eq.north").await;
        assert!(page.body["data"].as_array().unwrap().iter().all(|o| o["company"]["id"] == id(&company)), "{}", page.text);
        let lead_owner = app.get("/v1/leads?expand=owner&filter=custom.region.eq.north").await;
        assert_eq!(lead_owner.body["data"][0]["owner"]["role"], "admin", "{}", lead_owner.text);
        let order = app.get(&format!("/v1/orders/{}?expand=company,contact,lines.product", id(&first))).await;
        assert_eq!(order.body["company"]["id"], id(&company).as_str(), "{}", order.text);
        assert_eq!(order.body["contact"]["email"], "cf-1@example.com");
        assert_eq!(order.body["lines"][0]["product"]["sku"], "CF-1");
        assert_eq!(app.get("/v1/orders?expand=pipeline").await.status, 422);
        let searched = app.post("/v1/orders/search", json!({"filter": "custom.region.eq.north", "fields": ["external_id"], "expand": ["company"]})).await;
        assert_eq!(searched.body["data"], json!([{"id": id(&first), "external_id": "cf-1", "company": searched.body["data"][0]["company"]}]), "{}", searched.text);
        assert_eq!(searched.body["data"][0]["company"]["name"], "Oportunidades SL");
        let searched = app.post("/v1/leads/search", json!({"filter": "custom.region.eq.north"})).await;
        assert_eq!(ids(&searched), vec![id(&north)]);
        let searched = app.post("/v1/opportunities/search", json!({"filter": "custom.region.eq.south", "fields": ["name"]})).await;
        assert_eq!(searched.body["data"][0]["name"], "Other", "{}", searched.text);
        assert_eq!(app.post("/v1/opportunities/search", json!({"filter": "nope.eq.1"})).await.status, 422);
        for object in ["leads", "opportunities", "orders"] {
            let wrong_method = app.patch(&format!("/v1/{object}/search"), json!({})).await;
            assert_eq!(wrong_method.status, 405, "{object}: {}", wrong_method.text);
        }
        let key = app.create("/v1/api-keys", json!({"name": "orders only", "scopes": ["orders:read"]})).await;
        let secret = key["key"].as_str().unwrap().to_owned();
        assert_eq!(app.get_as(&secret, "/v1/orders?expand=company").await.status, 403);
        assert_eq!(app.get_as(&secret, "/v1/orders?expand=salesperson,lines.product").await.status, 200);

        let customer = app.portal_user(&id(&company)).await;
        let portal = app.get_as(&customer, &format!("/v1/portal/orders/{}", id(&first))).await;
        assert_eq!(portal.body["custom_fields"], json!({"region": "north"}), "{}", portal.text);
        let portal_list = app.get_as(&customer, "/v1/portal/orders").await;
        assert!(!portal_list.text.contains("Happy birthday"));
        assert_eq!(portal_list.body["data"].as_array().unwrap().len(), 2);
    }
}

on_both_backends! {
    async fn a_parameter_a_list_does_not_take_is_refused_not_ignored(app: TestApp) {
        for path in ["/v1/quotes?filter=status.eq.sent", "/v1/contacts?lifecycle=customer", "/v1/invoices?limit=5&sorting=number"] {
            let r = app.get(path).await;
            assert_eq!(r.status, 422, "{path}: {}", r.text);
            let named = r.body["errors"][0]["field"].as_str().unwrap();
            assert!(path.contains(&format!("{named}=")), "{path} names {named}");
        }
        assert_eq!(app.get("/v1/contacts?lifecycle_stage=customer").await.status, 200);
    }
}

on_both_backends! {
    #[smoke]
    async fn concurrent_writers_of_a_unique_value_and_of_the_last_field_leave_one_winner(app: TestApp) {
        field(&app, "contacts", json!({"key": "external_ref", "label": "Ref", "type": "text", "unique": true})).await;
        let racers = (0..8).map(|i| {
            app.post("/v1/contacts", json!({"last_name": format!("Racer {i}"), "custom_fields": {"external_ref": "X-1"}}))
        });
        let results = futures_util::future::join_all(racers).await;
        assert_eq!(results.iter().filter(|r| r.status == 201).count(), 1);
        for r in results.iter().filter(|r| r.status != 201) {
            assert_eq!(r.status, 409, "{}", r.text);
            assert!(r.text.contains("custom_fields.external_ref"), "the conflict names the field: {}", r.text);
        }
        let holders = app.get("/v1/contacts?filter=custom.external_ref.eq.X-1").await;
        assert_eq!(ids(&holders).len(), 1);

        for i in 1..99 {
            field(&app, "contacts", json!({"key": format!("filler_{i}"), "label": "Filler", "type": "text"})).await;
        }
        let racers = (0..4).map(|i| {
            app.post("/v1/schema/contacts/fields", json!({"key": format!("last_{i}"), "label": "Last", "type": "text"}))
        });
        let results = futures_util::future::join_all(racers).await;
        assert_eq!(results.iter().filter(|r| r.status == 201).count(), 1, "{:?}", results.iter().map(|r| r.status).collect::<Vec<_>>());
        assert!(results.iter().all(|r| r.status == 201 || r.status == 422));
        let defined = app.get("/v1/schema/contacts/fields").await;
        assert_eq!(defined.body["data"].as_array().unwrap().len(), 100);
    }
}
