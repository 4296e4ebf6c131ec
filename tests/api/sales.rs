use std::collections::HashSet;

use crm_domain::access::roles::Role;
use crm_tests::{eur, id_of, on_both_backends, Backend, Order, Product, TestApp};
use diesel::RunQueryDsl;
use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};

/// The events of orders recorded, committed or not: the feed shows them only once every older
/// transaction of the server, other tests' included, has ended.
fn order_events(conn: &mut crm_store::DbConnection) -> i64 {
    use crm_store::platform::schema::events;
    use diesel::{QueryDsl, TextExpressionMethods};
    events::table
        .filter(events::event_type.like("order.%"))
        .count()
        .get_result(conn)
        .unwrap()
}

fn order_payload(external_id: &str, email: &str, sku: &str) -> Value {
    json!({
        "channel": "shop-es", "external_id": external_id, "ordered_at": "2026-03-01T10:00:00Z",
        "currency": "EUR", "status": "paid",
        "customer": {"email": email, "first_name": "Ana", "last_name": "García", "phone": "+34600123456", "company_name": "Optional SL"},
        "lines": [{"sku": sku, "quantity": "2", "unit_price": eur(1000), "unit_cost": eur(600), "discount_bp": 0, "tax_rate_bp": 2100}],
        "salesperson_id": null, "campaign_id": null
    })
}

on_both_backends! {
    async fn products_have_unique_skus(app: TestApp) {
        let id = Product::new("W-1", 1000, 600).ensure(&app).await;
        let r = app.post("/v1/products", json!({"sku": "W-1", "name": "Again", "unit_price": eur(5)})).await;
        assert_eq!(r.status, 409);
        assert_eq!(r.body["existing_id"], id.as_str());
        let r = app.post("/v1/products", json!({"sku": "X", "name": "Bad", "unit_price": {"amount_minor": -1, "currency": "EURO"}, "tax_rate_bp": 20000})).await;
        assert_eq!(r.status, 422);
        assert!(r.body["errors"].as_array().unwrap().len() >= 2, "{}", r.text);
        let got = app.get(&format!("/v1/products/{id}")).await;
        assert_eq!(got.body["unit_cost"], eur(600));
    }

    #[smoke]
    async fn a_quote_goes_from_draft_to_order_with_the_same_totals(app: TestApp) {
        let widget = Product::new("W-1", 1999, 1200).ensure(&app).await;
        let company = app.create("/v1/companies", json!({"name": "Buyer SL"})).await;
        let q = app.create("/v1/quotes", json!({
            "company_id": company["id"], "currency": "EUR", "valid_until": "2099-12-31",
            "lines": [
                {"product_id": widget, "quantity": "2.5", "discount_bp": 1500},
                {"description": "Installation", "quantity": "1", "unit_price": eur(5000), "tax_rate_bp": 1000}
            ]
        })).await;
        assert!(q["number"].as_str().unwrap().starts_with("Q-"));
        assert_eq!(q["status"], "draft");
        assert_eq!(q["lines"][0]["gross"], eur(4998));
        assert_eq!(q["lines"][0]["unit_cost"], eur(1200), "cost snapshot");
        assert_eq!(q["totals"]["subtotal"], eur(9998));
        assert_eq!(q["totals"]["discount"], eur(750));
        assert_eq!(q["totals"]["tax"], eur(892 + 500));
        assert_eq!(q["totals"]["total"], eur(9998 - 750 + 1392));
        let id = q["id"].as_str().unwrap();

        let r = app.patch(&format!("/v1/quotes/{id}"), json!({"notes": "Thanks"})).await;
        assert_eq!(r.status, 200, "a draft is editable");
        assert_eq!(app.act(&format!("/v1/quotes/{id}/send")).await.status, 200);
        let r = app.patch(&format!("/v1/quotes/{id}"), json!({"notes": "changed"})).await;
        assert_eq!(r.status, 409, "a sent quote is not editable");
        assert_eq!(r.body["current_state"], "sent");
        assert!(r.body["allowed_actions"].as_array().unwrap().contains(&json!("revise")));
        let r = app.act(&format!("/v1/quotes/{id}/convert")).await;
        assert_eq!(r.status, 409, "not accepted yet");
        assert_eq!(app.act(&format!("/v1/quotes/{id}/accept")).await.status, 200);
        let converted = app.act(&format!("/v1/quotes/{id}/convert")).await;
        assert_eq!(converted.status, 200, "{}", converted.text);
        assert_eq!(converted.body["status"], "converted");
        let order = app.get(&format!("/v1/orders/{}", converted.body["order_id"].as_str().unwrap())).await;
        assert_eq!(order.body["channel"], "quote");
        assert_eq!(order.body["totals"], q["totals"], "the order's totals equal the quote's");
        assert_eq!(order.body["lines"][0]["unit_cost"], eur(1200));
        assert_eq!(order.body["quote_id"], id);
        assert_eq!(app.act(&format!("/v1/quotes/{id}/convert")).await.status, 409, "only once");
    }

    async fn expired_quotes_cannot_be_accepted_and_sent_ones_are_revised(app: TestApp) {
        let company = app.create("/v1/companies", json!({"name": "Late SL"})).await;
        let lines = json!([{"description": "Service", "quantity": "1", "unit_price": eur(100)}]);
        let old = app.create("/v1/quotes", json!({"company_id": company["id"], "currency": "EUR", "valid_until": "2020-01-01", "lines": lines})).await;
        let old_id = old["id"].as_str().unwrap();
        assert_eq!(app.act(&format!("/v1/quotes/{old_id}/send")).await.body["status"], "expired");
        let r = app.act(&format!("/v1/quotes/{old_id}/accept")).await;
        assert_eq!(r.status, 409);
        assert_eq!(r.body["current_state"], "expired");

        let q = app.create("/v1/quotes", json!({"company_id": company["id"], "currency": "EUR", "lines": lines})).await;
        let id = q["id"].as_str().unwrap();
        app.act(&format!("/v1/quotes/{id}/send")).await;
        let revised = app.act(&format!("/v1/quotes/{id}/revise")).await;
        assert_eq!(revised.status, 201, "{}", revised.text);
        assert_eq!(revised.body["revision"], 2);
        assert_eq!(revised.body["number"], q["number"]);
        assert_eq!(revised.body["previous_revision_id"], id);
        assert_eq!(revised.body["status"], "draft");
        assert_eq!(app.get(&format!("/v1/quotes/{id}")).await.body["status"], "cancelled");
        let r = app.request(Method::POST, &format!("/v1/quotes/{id}/reject"), Some(&app.admin_token.clone()), Some(json!({"reason": "x"})), &[]).await;
        assert_eq!(r.status, 409);
    }

    #[smoke]
    async fn concurrent_quote_creations_get_distinct_sequential_numbers(app: TestApp) {
        let company = app.create("/v1/companies", json!({"name": "Busy SL"})).await;
        let body = json!({"company_id": company["id"], "currency": "EUR", "lines": [{"description": "x", "quantity": "1", "unit_price": eur(1)}]});
        let requests = (0..8).map(|_| app.post("/v1/quotes", body.clone()));
        let responses = join_all(requests).await;
        let mut numbers: Vec<String> = responses.iter().map(|r| {
            assert_eq!(r.status, 201, "{}", r.text);
            r.body["number"].as_str().unwrap().to_owned()
        }).collect();
        numbers.sort();
        let sequences: Vec<i64> = numbers.iter().map(|n| n.rsplit('-').next().unwrap().parse().unwrap()).collect();
        assert_eq!(sequences, (1..=8).collect::<Vec<_>>(), "{numbers:?}");
    }

    #[smoke]
    async fn importing_the_same_orders_twice_creates_them_once(app: TestApp) {
        Product::new("W-1", 1000, 600).ensure(&app).await;
        let batch: Vec<Value> = (0..200).map(|i| order_payload(&format!("A{i:04}"), &format!("buyer{}@example.com", i % 20), "W-1")).collect();
        let first = app.post("/v1/orders/import", Value::Array(batch.clone())).await;
        assert_eq!(first.status, 200, "{}", first.text);
        let statuses: Vec<&str> = first.body["results"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
        assert_eq!(statuses.len(), 200);
        assert!(statuses.iter().all(|s| *s == "created"), "{:?}", first.body["results"][0]);
        let second = app.post("/v1/orders/import", Value::Array(batch)).await;
        assert!(second.body["results"].as_array().unwrap().iter().all(|r| r["status"] == "unchanged"));
        let ids: HashSet<&str> = second.body["results"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), 200);
        let pool = app.pool.clone();
        let count = actix_web::web::block(move || crm_store::sales::orders::count(&mut pool.get().unwrap())).await.unwrap().unwrap();
        assert_eq!(count, 200, "exactly 200 orders in the database");
        let customers = app.get("/v1/contacts?lifecycle_stage=customer&limit=200").await;
        assert_eq!(customers.body["data"].as_array().unwrap().len(), 20, "customers matched by email, not duplicated");
    }

    async fn bad_orders_in_a_batch_fail_alone(app: TestApp) {
        Product::new("W-1", 1000, 600).ensure(&app).await;
        let mut batch: Vec<Value> = (0..10).map(|i| order_payload(&format!("B{i}"), "b@example.com", "W-1")).collect();
        batch[2] = order_payload("B2", "b@example.com", "NO-SUCH-SKU");
        batch[5]["lines"][0]["quantity"] = json!("-3");
        batch[7] = json!({"channel": "shop-es", "external_id": "B7", "nonsense": true});
        let r = app.request(Method::POST, "/v1/orders/import", Some(&app.admin_token.clone()), None, &[]).await;
        assert!(r.status.is_client_error(), "an empty body is refused");
        let ndjson: String = batch.iter().map(|o| format!("{o}\n")).collect();
        let raw = app.client.post(app.url("/v1/orders/import")).bearer_auth(&app.admin_token).header("content-type", "application/x-ndjson").body(ndjson).send().await.unwrap();
        let r = TestApp::read(raw).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let results = r.body["results"].as_array().unwrap();
        let errors: Vec<usize> = results.iter().enumerate().filter(|(_, r)| r["status"] == "error").map(|(i, _)| i).collect();
        assert_eq!(errors, vec![2, 5, 7], "{results:?}");
        assert_eq!(results[2]["problem"]["errors"][0]["field"], "lines[0].sku");
        assert_eq!(results[2]["external_id"], "B2");
        assert_eq!(results.iter().filter(|r| r["status"] == "created").count(), 7);
        assert_eq!(app.get("/v1/orders?channel=shop-es&limit=200").await.body["data"].as_array().unwrap().len(), 7);
        let mut negative = order_payload("C2", "c@example.com", "W-1");
        negative["lines"][0]["quantity"] = json!("-3");
        let none_valid = json!([{"channel": "shop-es", "external_id": "C1", "nonsense": true}, negative, 7]);
        let refused = app.post("/v1/orders/import", none_valid).await;
        assert_eq!(refused.status, 422, "nothing to import: {}", refused.text);
        let fields: Vec<&str> = refused.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert!(fields.iter().any(|f| f.starts_with("[0]")) && fields.iter().any(|f| f.starts_with("[1].lines[0]")) && fields.contains(&"[2]"), "{fields:?}");
        assert_eq!(app.get("/v1/orders?channel=shop-es&limit=200").await.body["data"].as_array().unwrap().len(), 7, "nothing written");
    }

    async fn a_chunk_whose_deferred_inserts_fail_is_written_again_order_by_order(app: TestApp) {
        Product::new("W-1", 1000, 600).ensure(&app).await;
        let company = app.create("/v1/companies", json!({"name": "Bulk SL"})).await;
        // Orders of a company, without a customer to match, wait for their chunk's end to be
        // inserted together. A trigger refuses one of them there, as a company deleted
        // meanwhile would: the others must still be written, and only it fail.
        let refuse = match app.backend {
            Backend::Postgres => vec![
                "CREATE FUNCTION refuse_d3() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$",
                "CREATE TRIGGER refuse_d3 BEFORE INSERT ON orders FOR EACH ROW WHEN (NEW.external_id = 'D3') EXECUTE FUNCTION refuse_d3()",
            ],
            Backend::Sqlite => vec![
                "CREATE TRIGGER refuse_d3 BEFORE INSERT ON orders WHEN NEW.external_id = 'D3' BEGIN SELECT RAISE(ABORT, 'refused'); END",
            ],
        };
        let mut conn = app.pool.get().unwrap();
        for statement in refuse {
            diesel::sql_query(statement).execute(&mut conn).unwrap();
        }
        let order = |i: usize| json!({
            "channel": "shop-es", "external_id": format!("D{i}"), "ordered_at": "2026-03-01T10:00:00Z",
            "currency": "EUR", "status": "paid", "company_id": company["id"],
            "lines": [{"sku": "W-1", "quantity": "2", "unit_price": eur(1000), "tax_rate_bp": 2100},
                      {"sku": "W-1", "quantity": "1", "unit_price": eur(900), "tax_rate_bp": 2100}],
        });
        let r = app.post("/v1/orders/import", Value::Array((0..6).map(order).collect())).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let statuses: Vec<&str> = r.body["results"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
        assert_eq!(statuses, ["created", "created", "created", "error", "created", "created"]);
        let listed = app.get("/v1/orders?channel=shop-es&limit=200").await;
        assert_eq!(listed.body["data"].as_array().unwrap().len(), 5);
        assert_eq!(listed.body["data"][0]["lines"].as_array().unwrap().len(), 2);
        assert_eq!(order_events(&mut conn), 10, "created and paid, for each order written");
        assert_eq!(
            crm_store::analytics::rollups::stored(&mut conn).unwrap(),
            crm_store::analytics::rollups::from_scratch(&mut conn).unwrap(),
            "the rollups hold the five orders written, not the refused one"
        );
        // Without the trigger, the same orders go in together at the chunk's end.
        let unrefuse = match app.backend {
            Backend::Postgres => "DROP TRIGGER refuse_d3 ON orders",
            Backend::Sqlite => "DROP TRIGGER refuse_d3",
        };
        diesel::sql_query(unrefuse).execute(&mut conn).unwrap();
        let again = app.post("/v1/orders/import", Value::Array((0..8).map(order).collect())).await;
        let statuses: Vec<&str> = again.body["results"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
        assert_eq!(statuses, ["unchanged", "unchanged", "unchanged", "created", "unchanged", "unchanged", "created", "created"]);
        assert_eq!(app.get("/v1/orders?channel=shop-es&limit=200").await.body["data"].as_array().unwrap().len(), 8);
        assert_eq!(order_events(&mut conn), 16);
        assert_eq!(
            crm_store::analytics::rollups::stored(&mut conn).unwrap(),
            crm_store::analytics::rollups::from_scratch(&mut conn).unwrap(),
        );
    }

    async fn an_upsert_creates_updates_and_leaves_identical_pushes_alone(app: TestApp) {
        Product::new("W-1", 1000, 600).ensure(&app).await;
        let path = "/v1/orders/by-external-id/shop-es/100234";
        let payload = order_payload("100234", "ana@example.com", "W-1");
        let token = app.admin_token.clone();
        let created = app.request(Method::PUT, path, Some(&token), Some(payload.clone()), &[]).await;
        assert_eq!(created.status, 201, "{}", created.text);
        assert_eq!(created.body["totals"]["total"], eur(2420));
        assert_eq!(created.body["margin"]["gross_profit"], eur(800));
        let contact = app.get(&format!("/v1/contacts/{}", created.body["contact_id"].as_str().unwrap())).await;
        assert_eq!(contact.body["lifecycle_stage"], "customer");
        assert_eq!(contact.body["company_id"], created.body["company_id"]);
        let same = app.request(Method::PUT, path, Some(&token), Some(payload.clone()), &[]).await;
        assert_eq!(same.status, 200);
        assert_eq!(same.body["updated_at"], created.body["updated_at"], "nothing written");
        assert_eq!(same.body["version"], 1);
        let mut changed = payload.clone();
        changed["status"] = json!("fulfilled");
        let updated = app.request(Method::PUT, path, Some(&token), Some(changed), &[]).await;
        assert_eq!(updated.status, 200);
        assert_eq!(updated.body["status"], "fulfilled");
        assert_eq!(updated.body["version"], 2);
        assert_eq!(updated.body["id"], created.body["id"]);
        let r = app.request(Method::POST, &format!("/v1/orders/{}/cancel", created.body["id"].as_str().unwrap()), Some(&token), None, &[]).await;
        assert_eq!(r.status, 409, "a fulfilled order cannot be cancelled");
        let mut no_cost = payload.clone();
        no_cost["external_id"] = json!("100235");
        no_cost["lines"][0].as_object_mut().unwrap().remove("unit_cost");
        let r = app.request(Method::PUT, "/v1/orders/by-external-id/shop-es/100235", Some(&token), Some(no_cost), &[]).await;
        assert_eq!(r.body["lines"][0]["unit_cost"], eur(600), "falls back to the product's cost");
        let shop = app.post("/v1/api-keys", json!({"name": "Shop", "scopes": ["orders:write"]})).await.body["key"].as_str().unwrap().to_owned();
        let mut pushed = payload.clone();
        pushed["external_id"] = json!("100236");
        let r = app.request(Method::PUT, "/v1/orders/by-external-id/shop-es/100236", Some(&shop), Some(pushed), &[]).await;
        assert_eq!(r.status, 201, "an orders:write key pushes orders");
        assert_eq!(app.request(Method::GET, "/v1/contacts", Some(&shop), None, &[]).await.status, 403, "but reads no contacts");
        let mut mismatch = payload;
        mismatch["external_id"] = json!("other");
        assert_eq!(app.request(Method::PUT, path, Some(&token), Some(mismatch), &[]).await.status, 422);
    }

    #[smoke]
    async fn concurrent_upserts_of_one_order_make_one_order(app: TestApp) {
        Product::new("W-1", 1000, 600).ensure(&app).await;
        let token = app.admin_token.clone();
        let pushes = (0..8).map(|i| {
            let mut payload = order_payload("RACE-1", "race@example.com", "W-1");
            payload["lines"][0]["quantity"] = json!(format!("{}", i + 1));
            let token = token.clone();
            let app = &app;
            async move { app.request(Method::PUT, "/v1/orders/by-external-id/shop-es/RACE-1", Some(&token), Some(payload), &[]).await }
        });
        let responses = join_all(pushes).await;
        for r in &responses {
            assert!(r.status == 200 || r.status == 201, "{} {}", r.status, r.text);
        }
        assert_eq!(responses.iter().filter(|r| r.status == 201).count(), 1, "one creation");
        let ids: HashSet<&str> = responses.iter().map(|r| r.body["id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), 1);
        assert_eq!(app.get("/v1/orders?channel=shop-es").await.body["data"].as_array().unwrap().len(), 1);
        assert_eq!(app.get("/v1/contacts?email=race@example.com").await.body["data"].as_array().unwrap().len(), 1);
    }

    async fn customers_never_see_costs_or_margins(app: TestApp) {
        let product_id = Product::new("W-1", 1000, 600).ensure(&app).await;
        let company = app.create("/v1/companies", json!({"name": "Portal Buyer"})).await;
        let cid = company["id"].as_str().unwrap();
        let q = app.create("/v1/quotes", json!({"company_id": cid, "currency": "EUR", "lines": [{"product_id": product_id, "quantity": "1"}]})).await;
        let mut payload = order_payload("C-1", "portal@example.com", "W-1");
        payload["company_id"] = json!(cid);
        let o = app.request(Method::PUT, "/v1/orders/by-external-id/shop-es/C-1", Some(&app.admin_token.clone()), Some(payload), &[]).await;
        let token = app.token_for(Role::Customer, Some(cid.to_owned())).await;
        let paths = [
            "/v1/products".to_owned(),
            format!("/v1/products/{product_id}"),
            "/v1/quotes".to_owned(),
            format!("/v1/quotes/{}", q["id"].as_str().unwrap()),
            "/v1/orders".to_owned(),
            format!("/v1/orders/{}", o.body["id"].as_str().unwrap()),
            format!("/v1/companies/{cid}/last-prices?product_id={product_id}"),
            format!("/v1/companies/{cid}/timeline"),
        ];
        for path in paths {
            let r = app.request(Method::GET, &path, Some(&token), None, &[]).await;
            assert!(r.status == 403 || r.status == 404, "{path}: {}", r.status);
            for word in ["unit_cost", "margin", "gross_profit", "cost"] {
                assert!(!r.text.contains(word), "{path} leaks {word}");
            }
        }
    }

    async fn converting_a_lead_links_the_existing_contact(app: TestApp) {
        let existing = app.create("/v1/contacts", json!({"last_name": "Known", "email": "known@example.com"})).await;
        let lead = app.create("/v1/leads", json!({"source": "phone", "first_name": "K", "last_name": "Known", "email": "KNOWN@example.com", "company_name": "Known SL"})).await;
        let id = lead["id"].as_str().unwrap();
        assert_eq!(lead["status"], "new");
        let r = app.request(Method::POST, &format!("/v1/leads/{id}/convert"), Some(&app.admin_token.clone()), Some(json!({"quote": {"currency": "EUR", "lines": [{"description": "Audit", "quantity": "1", "unit_price": eur(50000)}]}})), &[]).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["contact_id"], existing["id"]);
        assert_eq!(r.body["contact_created"], false);
        assert_eq!(r.body["company_created"], true);
        assert_eq!(r.body["lead"]["status"], "converted");
        assert_eq!(r.body["lead"]["converted_contact_id"], existing["id"]);
        let quote = app.get(&format!("/v1/quotes/{}", r.body["quote_id"].as_str().unwrap())).await;
        assert_eq!(quote.body["status"], "draft");
        assert_eq!(quote.body["contact_id"], existing["id"]);
        assert_eq!(app.get("/v1/contacts?email=known@example.com&include_archived=true").await.body["data"].as_array().unwrap().len(), 1, "no duplicate");
        let again = app.request(Method::POST, &format!("/v1/leads/{id}/convert"), Some(&app.admin_token.clone()), None, &[]).await;
        assert_eq!(again.status, 409);
        assert_eq!(again.body["current_state"], "converted");
        assert_eq!(app.patch(&format!("/v1/leads/{id}"), json!({"score": 5})).await.status, 409, "read-only");

        let by_phone = app.create("/v1/contacts", json!({"last_name": "Phoned", "phone": "611 222 333"})).await;
        let lead = app.create("/v1/leads", json!({"last_name": "Phoned", "phone": "+34611222333"})).await;
        let r = app.request(Method::POST, &format!("/v1/leads/{}/convert", lead["id"].as_str().unwrap()), Some(&app.admin_token.clone()), None, &[]).await;
        assert_eq!(r.body["contact_id"], by_phone["id"], "matched by phone");

        let fresh = app.create("/v1/leads", json!({"first_name": "New", "last_name": "Person", "email": "new.person@example.com"})).await;
        let fid = fresh["id"].as_str().unwrap();
        let r = app.request(Method::POST, &format!("/v1/leads/{fid}/disqualify"), Some(&app.admin_token.clone()), Some(json!({"reason": "No budget"})), &[]).await;
        assert_eq!(r.body["status"], "unqualified");
        assert_eq!(app.request(Method::POST, &format!("/v1/leads/{fid}/convert"), Some(&app.admin_token.clone()), None, &[]).await.status, 409);
        assert_eq!(app.get("/v1/leads?status=unqualified").await.body["data"].as_array().unwrap().len(), 1);
    }

    async fn web_intake_is_scoped_rate_limited_and_idempotent(app: TestApp) {
        let key = app.post("/v1/api-keys", json!({"name": "Website", "scopes": ["leads:intake"]})).await.body["key"].as_str().unwrap().to_owned();
        let writer = app.post("/v1/api-keys", json!({"name": "CRM sync", "scopes": ["leads:write"]})).await.body["key"].as_str().unwrap().to_owned();
        let form = json!({"first_name": "Web", "last_name": "Visitor", "email": "visitor@example.com"});
        let r = app.request(Method::POST, "/v1/leads/intake", Some(&writer), Some(form.clone()), &[]).await;
        assert_eq!(r.status, 403, "leads:write is not leads:intake");
        let first = app.request(Method::POST, "/v1/leads/intake", Some(&key), Some(form.clone()), &[("Idempotency-Key", "form-1")]).await;
        assert_eq!(first.status, 201, "{}", first.text);
        assert_eq!(first.body["source"], "web");
        let retry = app.request(Method::POST, "/v1/leads/intake", Some(&key), Some(form.clone()), &[("Idempotency-Key", "form-1")]).await;
        assert_eq!(retry.body["id"], first.body["id"]);
        assert_eq!(app.get("/v1/leads").await.body["data"].as_array().unwrap().len(), 1, "one lead");
        assert_eq!(app.request(Method::GET, "/v1/leads", Some(&key), None, &[]).await.status, 403, "intake cannot read");
        assert_eq!(app.request(Method::POST, "/v1/leads/intake", Some(&key), Some(json!({"email": "bad"})), &[]).await.status, 422);
        let mut statuses = Vec::new();
        for i in 0..6 {
            let r = app.request(Method::POST, "/v1/leads/intake", Some(&key), Some(json!({"email": format!("v{i}@example.com")})), &[]).await;
            statuses.push(r.status.as_u16());
            if r.status == 429 {
                assert!(r.header("retry-after").is_some());
            }
        }
        assert!(statuses.contains(&429), "over 5 a minute: {statuses:?}");
    }

    async fn last_prices_follow_quotes_and_orders(app: TestApp) {
        let widget = Product::new("W-1", 1000, 600).ensure(&app).await;
        let company = app.create("/v1/companies", json!({"name": "Optional SL"})).await;
        let cid = company["id"].as_str().unwrap();
        let path = format!("/v1/companies/{cid}/last-prices?product_id={widget}");
        let empty = app.get(&path).await;
        assert_eq!(empty.status, 200, "{}", empty.text);
        assert_eq!(empty.body["last_quoted"], Value::Null);
        for price in [900, 950] {
            let q = app.create("/v1/quotes", json!({"company_id": cid, "currency": "EUR", "lines": [{"product_id": widget, "quantity": "1", "unit_price": eur(price)}]})).await;
            app.act(&format!("/v1/quotes/{}/send", q["id"].as_str().unwrap())).await;
        }
        app.create("/v1/quotes", json!({"company_id": cid, "currency": "EUR", "lines": [{"product_id": widget, "quantity": "1", "unit_price": eur(1)}]})).await;
        let token = app.admin_token.clone();
        for (ext, day, price) in [("L1", "2026-01-01", 990), ("L2", "2026-02-01", 980), ("L0", "2025-06-01", 10)] {
            let mut o = order_payload(ext, "lp@example.com", "W-1");
            o["company_id"] = json!(cid);
            o["ordered_at"] = json!(format!("{day}T00:00:00Z"));
            o["lines"][0]["unit_price"] = eur(price);
            app.request(Method::PUT, &format!("/v1/orders/by-external-id/shop-es/{ext}"), Some(&token), Some(o), &[]).await;
        }
        let r = app.get(&path).await;
        assert_eq!(r.body["last_quoted"]["unit_price"], eur(950), "drafts were never quoted");
        assert!(r.body["last_quoted"]["document_number"].as_str().unwrap().starts_with("Q-"));
        assert_eq!(r.body["last_sold"]["unit_price"], eur(980), "the latest order by date");
        assert_eq!(r.body["last_sold"]["document_number"], "L2");
        let contact_id = app.get("/v1/contacts?email=lp@example.com").await.body["data"][0]["id"].as_str().unwrap().to_owned();
        let by_contact = app.get(&format!("/v1/contacts/{contact_id}/last-prices?product_id={widget}")).await;
        assert_eq!(by_contact.body["last_sold"]["unit_price"], eur(980));
        assert_eq!(app.get(&format!("/v1/companies/{cid}/last-prices?product_id=nope")).await.status, 422);
    }

    async fn quotes_and_orders_join_the_timeline(app: TestApp) {
        Product::new("W-1", 1000, 600).ensure(&app).await;
        let mut o = order_payload("T-1", "timeline@example.com", "W-1");
        o["ordered_at"] = json!("2026-05-01T00:00:00Z");
        let order = app.request(Method::PUT, "/v1/orders/by-external-id/shop-es/T-1", Some(&app.admin_token.clone()), Some(o), &[]).await;
        let contact_id = order.body["contact_id"].as_str().unwrap();
        app.create("/v1/quotes", json!({"contact_id": contact_id, "currency": "EUR", "lines": [{"description": "x", "quantity": "1", "unit_price": eur(5)}]})).await;
        let r = app.get(&format!("/v1/contacts/{contact_id}/timeline")).await;
        let kinds: Vec<&str> = r.body["data"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, vec!["quote", "order"], "{}", r.text);
        let company = app.get(&format!("/v1/companies/{}/timeline", order.body["company_id"].as_str().unwrap())).await;
        assert_eq!(company.body["data"][0]["kind"], "order");
    }
}

on_both_backends! {
    async fn a_push_with_if_match_changes_the_order_only_at_that_version(app: TestApp) {
        Product::new("W-1", 1000, 600).ensure(&app).await;
        let first = Order::new("IFM-1").line("W-1", "1", 1000);
        let path = "/v1/orders/by-external-id/shop/IFM-1";
        let token = app.admin_token.clone();
        let created = first.send(&app).await;
        assert_eq!(created.status, 201, "{}", created.text);
        let changed = Order::new("IFM-1").line("W-1", "2", 1000);
        let r = app.request(Method::PUT, path, Some(&token), Some(changed.body().clone()), &[("If-Match", "\"1\"")]).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.header("etag"), Some("\"2\""));
        let stale = Order::new("IFM-1").line("W-1", "3", 1000);
        let r = app.request(Method::PUT, path, Some(&token), Some(stale.body().clone()), &[("If-Match", "\"1\"")]).await;
        assert_eq!(r.status, 412, "{}", r.text);
        assert_eq!(r.body["current_version"], 2);
        let order = app.get(&format!("/v1/orders/{}", id_of(&created.body))).await;
        assert_eq!(order.body["lines"][0]["quantity"], "2", "the stale push changed nothing");
    }
}
