use std::collections::HashSet;

use chrono::{DateTime, Utc};
use crm_tests::{on_both_backends, TestApp};
use serde_json::{json, Value};

/// Walks every page of `path` (which has no query yet) with `query`, returning the ids.
async fn all_pages(
    app: &TestApp,
    path: &str,
    query: &str,
    between_pages: impl AsyncFn(usize),
) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    let mut page = 0;
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}?{query}&cursor={c}"),
            None => format!("{path}?{query}"),
        };
        let r = app.get(&url).await;
        assert_eq!(r.status, 200, "{}", r.text);
        items.extend(r.body["data"].as_array().unwrap().iter().cloned());
        page += 1;
        between_pages(page).await;
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    items
}

fn created_key(v: &Value) -> (DateTime<Utc>, String) {
    (
        v["created_at"].as_str().unwrap().parse().unwrap(),
        v["id"].as_str().unwrap().to_owned(),
    )
}

on_both_backends! {
    async fn duplicate_email_gets_409_with_the_existing_id(app: TestApp) {
        let first = app.create("/v1/contacts", json!({"last_name": "Lopez", "email": "Maria@Example.com"})).await;
        let r = app.post("/v1/contacts", json!({"last_name": "Other", "email": "maria@EXAMPLE.com"})).await;
        assert_eq!(r.status, 409);
        assert_eq!(r.body["existing_id"], first["id"]);
        let second = app.create("/v1/contacts", json!({"last_name": "Other", "email": "other@example.com"})).await;
        let r = app.patch(&format!("/v1/contacts/{}", second["id"].as_str().unwrap()), json!({"email": "MARIA@example.com"})).await;
        assert_eq!(r.status, 409, "also on update");
        assert_eq!(r.body["existing_id"], first["id"]);
        assert_eq!(app.delete(&format!("/v1/contacts/{}", first["id"].as_str().unwrap())).await.status, 204);
        let r = app.post("/v1/contacts", json!({"last_name": "New", "email": "maria@example.com"})).await;
        assert_eq!(r.status, 201, "archiving frees the email");
    }

    async fn a_caller_is_found_by_phone_in_any_format(app: TestApp) {
        let c = app.create("/v1/contacts", json!({"last_name": "Caller", "phone": "600 123 456"})).await;
        assert_eq!(c["phone"], "+34600123456");
        app.create("/v1/contacts", json!({"last_name": "Someone else", "phone": "+34 611 222 333"})).await;
        for query in ["phone=%2B34600123456", "phone=0034%20600-123-456", "phone=600123456"] {
            let r = app.get(&format!("/v1/contacts?{query}")).await;
            let data = r.body["data"].as_array().unwrap();
            assert_eq!(data.len(), 1, "{query}");
            assert_eq!(data[0]["id"], c["id"]);
        }
        assert_eq!(app.get("/v1/contacts?phone=hello").await.status, 422);
    }

    async fn cursor_pagination_returns_each_contact_once_in_order_despite_inserts(app: TestApp) {
        let mut created = Vec::new();
        for i in 0..250 {
            created.push(app.create("/v1/contacts", json!({"last_name": format!("n{i:03}")})).await);
        }
        let mut newest_first = created.clone();
        newest_first.sort_by_key(|c| std::cmp::Reverse(created_key(c)));

        let inserted = std::cell::RefCell::new(Vec::new());
        let pages = all_pages(&app, "/v1/contacts", "limit=40", async |page| {
            let c = app.create("/v1/contacts", json!({"last_name": format!("late{page}")})).await;
            inserted.borrow_mut().push(c);
        })
        .await;
        let ids: Vec<&str> = pages.iter().map(|c| c["id"].as_str().unwrap()).collect();
        let expected: Vec<&str> = newest_first.iter().map(|c| c["id"].as_str().unwrap()).collect();
        assert_eq!(ids, expected, "newest first: rows inserted after the walk began are ahead of it");

        let oldest_first = all_pages(&app, "/v1/contacts", "limit=33&sort=created_at", async |page| {
            if page == 2 {
                app.create("/v1/contacts", json!({"last_name": "during ascending walk"})).await;
            }
        })
        .await;
        let keys: Vec<_> = oldest_first.iter().map(created_key).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "strictly ordered");
        let unique: HashSet<&str> = oldest_first.iter().map(|c| c["id"].as_str().unwrap()).collect();
        assert_eq!(unique.len(), oldest_first.len(), "no repeats");
        assert_eq!(oldest_first.len(), 250 + inserted.borrow().len() + 1, "inserts at the end are reached");

        let by_name = all_pages(&app, "/v1/contacts", "limit=50&sort=-last_name", async |_| {}).await;
        let names: Vec<&str> = by_name.iter().map(|c| c["last_name"].as_str().unwrap()).collect();
        assert_eq!(by_name.len(), oldest_first.len());
        let n_names: Vec<&&str> = names.iter().filter(|n| n.starts_with('n')).collect();
        assert!(n_names.windows(2).all(|w| w[0] > w[1]), "descending by last name");
    }

    async fn filters_narrow_the_list(app: TestApp) {
        let company = app.create("/v1/companies", json!({"name": "Filter Co"})).await;
        let cid = company["id"].as_str().unwrap();
        app.create("/v1/contacts", json!({"last_name": "Alpha", "first_name": "José", "company_id": cid, "tags": ["vip"], "lifecycle_stage": "customer"})).await;
        app.create("/v1/contacts", json!({"last_name": "Beta", "email": "beta@example.com"})).await;
        let count = async |q: &str| app.get(&format!("/v1/contacts?{q}")).await.body["data"].as_array().unwrap().len();
        assert_eq!(count("q=jos").await, 1, "q matches names case-insensitively, accents included");
        assert_eq!(count("q=JOSÉ").await, 1);
        assert_eq!(count("q=beta%40example").await, 1);
        assert_eq!(count(&format!("company_id={cid}")).await, 1);
        assert_eq!(count("tag=vip").await, 1);
        assert_eq!(count("lifecycle_stage=customer").await, 1);
        assert_eq!(count("email=BETA@example.com").await, 1);
        assert_eq!(count("created_after=2000-01-01T00:00:00Z").await, 2);
        assert_eq!(count("created_before=2000-01-01T00:00:00Z").await, 0);
        assert_eq!(app.get("/v1/contacts?lifecycle_stage=alien").await.status, 422);
        let r = app.get(&format!("/v1/companies/{cid}/contacts")).await;
        assert_eq!(r.body["data"].as_array().unwrap().len(), 1);
        assert_eq!(app.get("/v1/companies/does-not-exist/contacts").await.status, 404);
    }

    async fn patch_follows_json_merge_patch(app: TestApp) {
        let c = app.create("/v1/contacts", json!({"last_name": "Merge", "title": "CTO", "preferences": {"channel": "email", "language": "es"}})).await;
        let path = format!("/v1/contacts/{}", c["id"].as_str().unwrap());
        let r = app.patch(&path, json!({"title": null, "preferences": {"language": null, "wine": "rioja"}})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["title"], Value::Null);
        assert_eq!(r.body["last_name"], "Merge", "absent fields stay");
        assert_eq!(r.body["preferences"], json!({"channel": "email", "wine": "rioja"}));
        assert_eq!((&r.body["marketing_consent"], &r.body["marketing_consent_at"]), (&json!(false), &Value::Null));
        assert_eq!(app.patch(&path, json!({"last_name": null})).await.status, 422);
        assert_eq!(app.patch(&path, json!({"version": 7})).await.status, 422);
    }

    async fn delete_archives_and_lists_hide_archived(app: TestApp) {
        let c = app.create("/v1/contacts", json!({"last_name": "Gone"})).await;
        let path = format!("/v1/contacts/{}", c["id"].as_str().unwrap());
        assert_eq!(app.delete(&path).await.status, 204);
        let r = app.get(&path).await;
        assert_eq!(r.status, 200, "archived records stay readable");
        assert!(r.body["archived_at"].is_string());
        assert_eq!(app.get("/v1/contacts").await.body["data"].as_array().unwrap().len(), 0);
        assert_eq!(app.get("/v1/contacts?include_archived=true").await.body["data"].as_array().unwrap().len(), 1);
        assert_eq!(app.delete("/v1/contacts/unknown").await.status, 404);
    }

    async fn references_must_exist(app: TestApp) {
        let r = app.post("/v1/contacts", json!({"last_name": "X", "company_id": "nope", "owner_id": "nobody"})).await;
        assert_eq!(r.status, 422);
        let fields: Vec<&str> = r.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert!(fields.contains(&"company_id"), "{fields:?}");
    }
}
