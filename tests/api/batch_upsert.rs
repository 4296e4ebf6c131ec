//! Batch upserts: `POST /v1/contacts/batch` and `/v1/companies/batch` create, update or leave
//! alone each item's record, found by email, tax id or a unique custom field.

use crm_tests::{on_both_backends, Response, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

/// The status of each result, asserting the batch itself was answered `200` in input order.
fn statuses(r: &Response) -> Vec<String> {
    assert_eq!(r.status, 200, "{}", r.text);
    let results = r.body["results"].as_array().unwrap();
    for (i, result) in results.iter().enumerate() {
        assert_eq!(result["index"], i, "results in input order: {}", r.text);
    }
    results
        .iter()
        .map(|result| result["status"].as_str().unwrap().to_owned())
        .collect()
}

fn id_at(r: &Response, index: usize) -> String {
    r.body["results"][index]["id"].as_str().unwrap().to_owned()
}

fn ids(r: &Response) -> Vec<String> {
    (0..r.body["results"].as_array().unwrap().len())
        .map(|i| id_at(r, i))
        .collect()
}

/// The problem of an `error` result, and the fields its `errors` name.
fn problem_at(r: &Response, index: usize) -> (u64, Vec<String>) {
    let result = &r.body["results"][index];
    assert_eq!(result["status"], "error", "{}", r.text);
    assert!(result["id"].is_null());
    let problem = &result["problem"];
    let fields = problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["field"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default();
    (problem["status"].as_u64().unwrap(), fields)
}

/// How many events of `kind` (such as `contact.updated`) the feed holds, waiting a little for
/// `expected`: the feed shows an event once every older transaction has ended.
async fn events(app: &TestApp, kind: &str, expected: usize) -> usize {
    let mut count = 0;
    for _ in 0..30 {
        let r = app.get(&format!("/v1/events?type={kind}&limit=200")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        count = r.body["data"].as_array().unwrap().len();
        if count == expected {
            break;
        }
        actix_rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    count
}

async fn version(app: &TestApp, path: &str) -> i64 {
    app.get(path).await.body["version"].as_i64().unwrap()
}

on_both_backends! {
    async fn a_batch_sent_twice_creates_then_changes_nothing(app: TestApp) {
        let batch = json!({"items": [
            {"email": "ana@example.com", "first_name": "Ana", "last_name": "García", "phone": "600 123 456", "tags": ["vip"]},
            {"email": "luis@example.com", "last_name": "Martín", "preferences": {"language": "es"}},
            {"email": "eva@example.com", "last_name": "Ruiz", "birthday": "1990-05-01"},
        ]});
        let first = app.post("/v1/contacts/batch", batch.clone()).await;
        assert_eq!(statuses(&first), ["created", "created", "created"]);
        let created = ids(&first);
        let ana = app.get(&format!("/v1/contacts/{}", created[0])).await.body;
        assert_eq!(ana["phone"], "+34600123456", "an item is checked as POST /v1/contacts checks it");
        assert_eq!(ana["version"], 1);
        assert!(ana["owner_id"].is_string(), "the caller owns what it creates");
        assert_eq!(events(&app, "contact.created", 3).await, 3);

        let second = app.post("/v1/contacts/batch", batch).await;
        assert_eq!(statuses(&second), ["unchanged", "unchanged", "unchanged"]);
        assert_eq!(ids(&second), created, "the same contacts");
        for id in &created {
            let contact = app.get(&format!("/v1/contacts/{id}")).await.body;
            assert_eq!(contact["version"], 1, "nothing written");
        }
        assert_eq!(app.get(&format!("/v1/contacts/{}", created[0])).await.body["updated_at"], ana["updated_at"]);
        assert_eq!(events(&app, "contact.created", 3).await, 3);
        assert_eq!(events(&app, "contact.updated", 0).await, 0, "no event for an unchanged item");

        // Matched case-insensitively; only the fields given change.
        let third = app.post("/v1/contacts/batch", json!({"match_on": "email", "items": [
            {"email": "ANA@example.com", "title": "Buyer"},
            {"email": "luis@example.com", "last_name": "Martín"},
        ]})).await;
        assert_eq!(statuses(&third), ["updated", "unchanged"]);
        assert_eq!(ids(&third), created[..2].to_vec());
        let ana = app.get(&format!("/v1/contacts/{}", created[0])).await.body;
        assert_eq!(ana["title"], "Buyer");
        assert_eq!(ana["first_name"], "Ana", "a field the item leaves out stays");
        assert_eq!(ana["tags"], json!(["vip"]));
        assert_eq!(ana["version"], 2);
        assert_eq!(events(&app, "contact.updated", 1).await, 1);
    }

    async fn a_bad_item_is_an_error_and_the_rest_apply(app: TestApp) {
        let r = app.post("/v1/contacts/batch", json!({"items": [
            {"email": "good1@example.com", "last_name": "Good"},
            {"email": "not-an-email", "last_name": "Bad"},
            {"email": "good2@example.com", "last_name": "Good"},
            {"last_name": "No email"},
            {"email": "new@example.com"},
            {"email": "odd@example.com", "last_name": "Odd", "version": 3},
            "not an object",
            {"email": "good1@example.com", "last_name": "Again", "phone": "not a phone"},
        ]})).await;
        assert_eq!(statuses(&r), ["created", "error", "created", "error", "error", "error", "error", "error"]);
        assert_eq!(problem_at(&r, 1), (422, vec!["email".to_owned()]));
        assert_eq!(problem_at(&r, 3), (422, vec!["email".to_owned()]), "the value matched on is required");
        assert_eq!(problem_at(&r, 4), (422, vec!["last_name".to_owned()]), "a new contact needs its last name");
        assert_eq!(problem_at(&r, 5), (422, vec!["version".to_owned()]), "read-only fields are refused");
        assert_eq!(problem_at(&r, 6).0, 400);
        assert_eq!(problem_at(&r, 7), (422, vec!["phone".to_owned()]));
        let good = id_at(&r, 0);
        let contact = app.get(&format!("/v1/contacts/{good}")).await.body;
        assert_eq!(contact["last_name"], "Good", "the failed item wrote nothing of itself");
        assert_eq!(contact["version"], 1);
        for email in ["good2@example.com"] {
            let list = app.get(&format!("/v1/contacts?email={email}")).await;
            assert_eq!(list.body["data"].as_array().unwrap().len(), 1, "{email}");
        }
        for email in ["new@example.com", "odd@example.com"] {
            let list = app.get(&format!("/v1/contacts?email={email}")).await;
            assert_eq!(list.body["data"].as_array().unwrap().len(), 0, "{email}");
        }
    }

    async fn later_items_see_earlier_ones(app: TestApp) {
        let r = app.post("/v1/contacts/batch", json!({"items": [
            {"email": "twice@example.com", "last_name": "First"},
            {"email": "Twice@Example.com", "last_name": "Second"},
        ]})).await;
        assert_eq!(statuses(&r), ["created", "updated"]);
        assert_eq!(id_at(&r, 0), id_at(&r, 1));
        let contact = app.get(&format!("/v1/contacts/{}", id_at(&r, 0))).await.body;
        assert_eq!(contact["last_name"], "Second");
        assert_eq!(contact["version"], 2);
    }

    async fn a_replayed_key_gives_the_same_response_and_writes_nothing(app: TestApp) {
        let token = app.admin_token.clone();
        let batch = json!({"items": [
            {"email": "key1@example.com", "last_name": "One"},
            {"email": "key2@example.com", "last_name": "Two"},
        ]});
        let headers = [("Idempotency-Key", "batch-0001")];
        let first = app.request(Method::POST, "/v1/contacts/batch", Some(&token), Some(batch.clone()), &headers).await;
        assert_eq!(statuses(&first), ["created", "created"]);
        let retry = app.request(Method::POST, "/v1/contacts/batch", Some(&token), Some(batch), &headers).await;
        assert_eq!(retry.status, 200);
        assert_eq!(retry.header("idempotent-replayed"), Some("true"));
        assert_eq!(retry.text, first.text, "the first response, `created` and all, not a second run's `unchanged`");
        assert_eq!(events(&app, "contact.created", 2).await, 2);
        for id in ids(&first) {
            assert_eq!(version(&app, &format!("/v1/contacts/{id}")).await, 1);
        }
    }

    async fn a_unique_custom_field_is_an_external_id(app: TestApp) {
        app.create("/v1/schema/contacts/fields", json!({"key": "external_id", "label": "External id", "type": "text", "unique": true})).await;
        app.create("/v1/schema/contacts/fields", json!({"key": "segment", "label": "Segment", "type": "text"})).await;
        let batch = |last_name: &str| json!({"match_on": "custom.external_id", "items": [
            {"last_name": last_name, "custom_fields": {"external_id": "X1"}},
            {"last_name": "Dos", "custom_fields": {"external_id": "X2", "segment": "retail"}},
        ]});
        let first = app.post("/v1/contacts/batch", batch("Uno")).await;
        assert_eq!(statuses(&first), ["created", "created"]);
        let second = app.post("/v1/contacts/batch", batch("Uno")).await;
        assert_eq!(statuses(&second), ["unchanged", "unchanged"], "custom values compare too");
        let third = app.post("/v1/contacts/batch", batch("Uno bis")).await;
        assert_eq!(statuses(&third), ["updated", "unchanged"]);
        assert_eq!(ids(&third), ids(&first));
        let contact = app.get(&format!("/v1/contacts/{}", id_at(&first, 0))).await.body;
        assert_eq!(contact["last_name"], "Uno bis");
        assert_eq!(contact["custom_fields"]["external_id"], "X1");
        assert_eq!(contact["version"], 2);

        let changed = app.post("/v1/contacts/batch", json!({"match_on": "custom.external_id", "items": [
            {"custom_fields": {"external_id": "X2", "segment": "food"}},
            {"last_name": "Without"},
        ]})).await;
        assert_eq!(statuses(&changed), ["updated", "error"]);
        assert_eq!(problem_at(&changed, 1), (422, vec!["custom_fields.external_id".to_owned()]));
        let dos = app.get(&format!("/v1/contacts/{}", id_at(&first, 1))).await.body;
        assert_eq!(dos["custom_fields"]["segment"], "food");
        assert_eq!(dos["last_name"], "Dos");

        for match_on in ["custom.segment", "custom.nothing", "phone", "custom."] {
            let r = app.post("/v1/contacts/batch", json!({"match_on": match_on, "items": [{"last_name": "X"}]})).await;
            assert_eq!(r.status, 422, "{match_on}: {}", r.text);
            assert_eq!(r.body["errors"][0]["field"], "match_on", "{match_on}");
        }
    }

    async fn companies_match_on_tax_id(app: TestApp) {
        let batch = json!({"items": [
            {"tax_id": "ESB12345678", "name": "Acme Iberia", "billing_address": {"city": "Madrid", "country": "ES"}},
            {"name": "No tax id"},
        ]});
        let first = app.post("/v1/companies/batch", batch.clone()).await;
        assert_eq!(statuses(&first), ["created", "error"]);
        assert_eq!(problem_at(&first, 1), (422, vec!["tax_id".to_owned()]));
        let acme = id_at(&first, 0);
        let second = app.post("/v1/companies/batch", batch).await;
        assert_eq!(statuses(&second), ["unchanged", "error"]);
        assert_eq!(id_at(&second, 0), acme);
        let third = app.post("/v1/companies/batch", json!({"match_on": "tax_id", "items": [
            {"tax_id": "ESB12345678", "industry": "Retail"},
        ]})).await;
        assert_eq!(statuses(&third), ["updated"]);
        assert_eq!(id_at(&third, 0), acme);
        let company = app.get(&format!("/v1/companies/{acme}")).await.body;
        assert_eq!(company["industry"], "Retail");
        assert_eq!(company["name"], "Acme Iberia");
        assert_eq!(company["billing_address"]["city"], "Madrid");
        assert_eq!(company["version"], 2);
        assert_eq!(events(&app, "company.created", 1).await, 1);
        assert_eq!(events(&app, "company.updated", 1).await, 1);
    }

    async fn more_than_a_thousand_items_are_refused_whole(app: TestApp) {
        let items: Vec<Value> = (0..1001).map(|i| json!({"email": format!("{i}@x.io"), "last_name": "N"})).collect();
        let r = app.post("/v1/contacts/batch", json!({"items": items})).await;
        assert_eq!(r.status, 422, "{}", r.text);
        assert_eq!(r.body["errors"][0]["field"], "items");
        assert_eq!(app.get("/v1/contacts?email=0@x.io").await.body["data"].as_array().unwrap().len(), 0);
        let r = app.post("/v1/companies/batch", json!({"items": (0..1001).map(|i| json!({"tax_id": format!("T{i}")})).collect::<Vec<_>>()})).await;
        assert_eq!(r.status, 422, "{}", r.text);
        assert_eq!(r.body["errors"][0]["field"], "items");
    }
}
