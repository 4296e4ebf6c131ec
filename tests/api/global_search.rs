//! `GET /v1/search`: one box over contacts, companies, leads, opportunities, quotes, orders and
//! invoices.

use crm_tests::{id_of, on_both_backends, Order, Product, TestApp};
use serde_json::{json, Value};

/// The hits of a search as the admin, asserting `200`.
async fn search(app: &TestApp, query: &str) -> Vec<Value> {
    let r = app.get(&format!("/v1/search?{query}")).await;
    assert_eq!(r.status, 200, "{query}: {}", r.text);
    r.body["data"].as_array().unwrap().clone()
}

fn ids(hits: &[Value]) -> Vec<&str> {
    hits.iter().map(|h| h["id"].as_str().unwrap()).collect()
}

on_both_backends! {
    async fn a_caller_is_found_by_a_phone_in_national_format(app: TestApp) {
        let ana = app.create("/v1/contacts", json!({"first_name": "Ana", "last_name": "García", "phone": "+34600123456"})).await;
        app.create("/v1/contacts", json!({"last_name": "Someone else", "phone": "+34 611 222 333"})).await;
        for q in ["600%20123%20456", "0034%20600-123-456", "%2B34600123456", "600123456"] {
            let hits = search(&app, &format!("q={q}")).await;
            assert_eq!(hits.len(), 1, "{q}: {hits:?}");
            assert_eq!(hits[0], json!({"object": "contact", "id": ana["id"], "title": "Ana García", "matched_on": "phone"}), "{q}");
        }
        assert_eq!(app.delete(&format!("/v1/contacts/{}", id_of(&ana))).await.status, 204);
        assert!(search(&app, "q=600%20123%20456").await.is_empty(), "archived records are left out");
    }

    async fn hits_rank_exact_then_prefix_then_substring_then_newest(app: TestApp) {
        let exact = app.create("/v1/contacts", json!({"last_name": "Zorro"})).await;
        let older_prefix = app.company("Zorrogroup", json!({})).await;
        let newer_prefix = app.create("/v1/contacts", json!({"last_name": "Zorros"})).await;
        let substring = app.create("/v1/contacts", json!({"last_name": "Elzorro"})).await;
        let hits = search(&app, "q=ZORRO").await;
        assert_eq!(ids(&hits), [&exact, &newer_prefix, &older_prefix, &substring].map(|v| v["id"].as_str().unwrap()));
        assert_eq!(hits[2]["object"], "company");
        assert!(hits.iter().all(|h| h["matched_on"] == "name"));
        assert_eq!(ids(&search(&app, "q=zorro&limit=2").await), ids(&hits[..2]), "limit keeps the best");

        let companies = search(&app, "q=zorro&types=company").await;
        assert_eq!(ids(&companies), [older_prefix["id"].as_str().unwrap()], "types narrows the kinds");
        assert_eq!(search(&app, "q=zorro&types=contact,opportunity").await.len(), 3);

        let with_email = app.company("Vulpes", json!({"email": "info@zorro.example", "tax_id": "ESB99887766"})).await;
        let hits = search(&app, "q=b99887766&types=company").await;
        assert_eq!(hits, [json!({"object": "company", "id": with_email["id"], "title": "Vulpes", "matched_on": "tax_id"})]);
        let hits = search(&app, "q=info%40zorro&types=company").await;
        assert_eq!(hits[0]["matched_on"], "email");
    }

    async fn numbers_find_quotes_orders_and_invoices(app: TestApp) {
        Product::new("GS-1", 1000, 300).ensure(&app).await;
        app.configure_issuer().await;
        let company = id_of(&app.company("Numbered", json!({"legal_name": "Numbered SL"})).await);
        let order = Order::new("gs-100234").company(&company).status("fulfilled").line("GS-1", "1", 1000).push(&app).await;
        let invoice = app.issued_invoice(&company, &order).await;
        let quote = app.sent_quote(&company, "Lamps").await;
        let invoice_number = app.get(&format!("/v1/invoices/{invoice}")).await.body["number"].as_str().unwrap().to_owned();
        let quote_number = app.get(&format!("/v1/quotes/{quote}")).await.body["number"].as_str().unwrap().to_owned();

        let hits = search(&app, &format!("q={}&types=quote", quote_number.to_lowercase())).await;
        assert_eq!(hits, [json!({"object": "quote", "id": quote, "title": quote_number, "matched_on": "number"})], "numbers compare case-insensitively");
        let hits = search(&app, &format!("q={invoice_number}&types=invoice")).await;
        assert_eq!(hits, [json!({"object": "invoice", "id": invoice, "title": invoice_number, "matched_on": "number"})]);
        let hits = search(&app, "q=GS-100234&types=order").await;
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!((&hits[0]["object"], &hits[0]["id"], &hits[0]["matched_on"]), (&json!("order"), &order["id"], &json!("external_id")));
        let hits = search(&app, "q=numbered%20sl&types=company").await;
        assert_eq!(hits[0]["matched_on"], "legal_name");
    }

    async fn the_query_and_the_types_are_checked(app: TestApp) {
        let field = async |query: &str| {
            let r = app.get(&format!("/v1/search{query}")).await;
            assert_eq!(r.status, 422, "{query}: {}", r.text);
            r.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
        };
        assert_eq!(field("").await, ["q"]);
        assert_eq!(field("?q=%20%20").await, ["q"]);
        assert_eq!(field(&format!("?q={}", "a".repeat(201))).await, ["q"]);
        assert_eq!(field("?q=ana&types=contact,product").await, ["types"]);
        assert_eq!(field("?types=nope").await, ["q", "types"]);
        assert_eq!(field("?q=ana&limit=0").await, ["limit"]);
        assert_eq!(app.get(&format!("/v1/search?q={}", "a".repeat(200))).await.status, 200);
        assert_eq!(app.get("/v1/search?q=ana&limit=1000").await.status, 200, "a large limit is capped");
    }

    async fn a_customer_may_not_search(app: TestApp) {
        let company = id_of(&app.company("Portal Co", json!({})).await);
        let customer = app.portal_user(&company).await;
        let r = app.get_as(&customer, "/v1/search?q=portal").await;
        assert_eq!(r.status, 403, "{}", r.text);
    }

    async fn kinds_the_caller_may_not_read_are_skipped(app: TestApp) {
        let contact = app.create("/v1/contacts", json!({"last_name": "Keyson"})).await;
        app.company("Keyson SL", json!({})).await;
        assert_eq!(search(&app, "q=keyson").await.len(), 2);
        let key = app.create("/v1/api-keys", json!({"name": "Contacts only", "scopes": ["contacts:read"]})).await;
        let key = key["key"].as_str().unwrap();
        let r = app.get_as(key, "/v1/search?q=keyson").await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["data"], json!([{"object": "contact", "id": contact["id"], "title": "Keyson", "matched_on": "name"}]));
        let r = app.get_as(key, "/v1/search?q=keyson&types=company").await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["data"], json!([]));
        let none = app.create("/v1/api-keys", json!({"name": "Cases only", "scopes": ["cases:read"]})).await;
        assert_eq!(app.get_as(none["key"].as_str().unwrap(), "/v1/search?q=keyson").await.status, 403, "a caller who may read no kind");
    }
}
