use crm_domain::access::roles::Role;
use crm_tests::{eur, id_of, on_both_backends, Order, Product, TestApp};
use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};

/// An order of 2 × 10.00 EUR at 21% for a new company, placed `days_ago`; returns (company,
/// order) bodies.
async fn order(app: &TestApp, external_id: &str, days_ago: i64) -> (Value, Value) {
    Product::new("RET-1", 1000, 400).ensure(app).await;
    let company = app
        .company(&format!("Buyer {external_id}"), json!({}))
        .await;
    let order = Order::new(external_id)
        .company(&id_of(&company))
        .status("fulfilled")
        .days_ago(days_ago)
        .line("RET-1", "2", 1000)
        .push(app)
        .await;
    (company, order)
}

fn return_body(order: &Value, quantity: &str) -> Value {
    json!({"order_id": order["id"], "lines": [{"order_line_id": order["lines"][0]["id"], "quantity": quantity, "reason": "damaged"}]})
}

async fn act(app: &TestApp, id: &str, action: &str, body: Option<Value>) -> crm_tests::Response {
    app.act_with(&format!("/v1/returns/{id}/{action}"), body)
        .await
}

async fn root_cause(app: &TestApp, id: &str) {
    let r = app.patch(&format!("/v1/returns/{id}"), json!({"root_cause": {"category": "packaging", "notes": "Crushed box", "preventive_action": "Double-wall boxes"}})).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

on_both_backends! {
    #[smoke]
    async fn returns_never_exceed_what_was_sold_even_when_racing(app: TestApp) {
        let (company, order) = order(&app, "R-1", 1).await;
        let first = app.post("/v1/returns", return_body(&order, "1")).await;
        assert_eq!(first.status, 201, "{}", first.text);
        let timeline = app.get(&format!("/v1/companies/{}/timeline", id_of(&company))).await;
        let opened = timeline.body["data"].as_array().unwrap().iter().find(|e| e["kind"] == "return").unwrap();
        assert!(uuid::Uuid::try_parse(opened["user_id"].as_str().unwrap()).is_ok(), "the user who opened it, by id: {opened}");
        assert!(first.body["number"].as_str().unwrap().starts_with("RMA-"));
        let too_many = app.post("/v1/returns", return_body(&order, "1.5")).await;
        assert_eq!(too_many.status, 422);
        assert_eq!(too_many.body["errors"][0]["field"], "lines[0].quantity");
        let racers = (0..6).map(|_| app.post("/v1/returns", return_body(&order, "1")));
        let results = join_all(racers).await;
        assert_eq!(results.iter().filter(|r| r.status == 201).count(), 1, "one racer gets the last unit");
        assert!(results.iter().all(|r| r.status == 201 || r.status == 422));
        let withdrawn = first.body["id"].as_str().unwrap();
        assert_eq!(act(&app, withdrawn, "withdraw", None).await.body["status"], "withdrawn");
        assert_eq!(app.post("/v1/returns", return_body(&order, "1")).await.status, 201, "a withdrawn return frees its units");
    }

    async fn the_window_needs_a_managers_override(app: TestApp) {
        let (_, old) = order(&app, "R-OLD", 45).await;
        let r = app.post("/v1/returns", return_body(&old, "1")).await;
        assert_eq!(r.status, 422);
        assert_eq!(r.body["errors"][0]["field"], "override_window");
        let mut body = return_body(&old, "1");
        body["override_window"] = json!(true);
        let sales = app.token_for(Role::Sales, None).await;
        assert_eq!(app.request(Method::POST, "/v1/returns", Some(&sales), Some(body.clone()), &[]).await.status, 403);
        let (manager_id, manager, _) = app.login_new_user(Role::Manager, None).await;
        let r = app.request(Method::POST, "/v1/returns", Some(&manager), Some(body), &[]).await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.body["window_override_by"], manager_id.as_str(), "the override is recorded");
        assert!(r.body["window_override_at"].is_string());
    }

    async fn a_refund_on_an_invoiced_order_issues_a_credit_note(app: TestApp) {
        app.configure_issuer().await;
        let (company, order) = order(&app, "R-INV", 2).await;
        let invoice = app.create("/v1/invoices", json!({"company_id": company["id"], "order_ids": [order["id"]]})).await;
        let invoice_id = invoice["id"].as_str().unwrap();
        assert_eq!(app.act(&format!("/v1/invoices/{invoice_id}/issue")).await.status, 200);

        let ret = app.create("/v1/returns", return_body(&order, "1")).await;
        let id = ret["id"].as_str().unwrap();
        assert_eq!(act(&app, id, "approve", None).await.body["status"], "approved");
        let line = ret["lines"][0]["id"].clone();
        let r = act(&app, id, "receive", Some(json!({"lines": [{"return_line_id": line, "quantity": "1", "disposition": "scrap"}]}))).await;
        assert_eq!(r.body["status"], "received", "{}", r.text);
        let resolve = json!({"resolution": "refund", "restocking_fee": eur(100)});
        let r = act(&app, id, "resolve", Some(resolve.clone())).await;
        assert_eq!(r.status, 422, "no root cause yet");
        assert_eq!(r.body["errors"].as_array().unwrap().len(), 3);
        root_cause(&app, id).await;
        let r = act(&app, id, "resolve", Some(resolve)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["refund"], eur(1210 - 100));
        let note = app.get(&format!("/v1/invoices/{}", r.body["credit_note_id"].as_str().unwrap())).await;
        assert_eq!(note.body["type_code"], "381");
        assert_eq!(note.body["corrects_invoice_id"], invoice_id);
        assert_eq!(note.body["totals"]["total"], eur(1110));
        assert!(note.body["number"].as_str().unwrap().starts_with("R-"));
        assert_eq!(app.get(&format!("/v1/invoices/{invoice_id}")).await.body["credited"], eur(1110));
        assert_eq!(act(&app, id, "close", None).await.body["status"], "closed");
        assert_eq!(act(&app, id, "approve", None).await.status, 409);
    }

    async fn keeping_the_item_for_a_concession_records_the_saved_revenue(app: TestApp) {
        let (company, order) = order(&app, "R-KEEP", 3).await;
        let ret = app.create("/v1/returns", return_body(&order, "2")).await;
        let id = ret["id"].as_str().unwrap();
        act(&app, id, "approve", None).await;
        root_cause(&app, id).await;
        let r = act(&app, id, "resolve", Some(json!({"resolution": "refund"}))).await;
        assert_eq!(r.status, 409, "a refund needs the goods back first");
        let r = act(&app, id, "resolve", Some(json!({"resolution": "retained_with_discount", "concession": eur(500)}))).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["concession"], eur(500));
        assert_eq!(r.body["saved_revenue"], eur(2420 - 500));
        assert_eq!(r.body["credit_note_id"], Value::Null);
        let timeline = app.get(&format!("/v1/companies/{}/timeline", company["id"].as_str().unwrap())).await;
        assert!(timeline.body["data"].as_array().unwrap().iter().any(|e| e["kind"] == "return"));
        let today = chrono::Utc::now().date_naive();
        let report = app.get(&format!("/v1/returns/report?from={today}&to={today}")).await;
        assert_eq!(report.status, 200, "{}", report.text);
        assert_eq!(report.body["returns"], 1);
        assert_eq!(report.body["by_reason"][0], json!({"key": "damaged", "count": 1}));
        assert_eq!(report.body["by_root_cause"][0], json!({"key": "packaging", "count": 1}));
        assert_eq!(report.body["saved_revenue"], eur(1920));
        assert_eq!(report.body["refunded"], eur(0));
    }
}
