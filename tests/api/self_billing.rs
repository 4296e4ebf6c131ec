use chrono::{Days, Utc};
use crm_tests::{eur, id_of, on_both_backends, Order, Product, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

struct Setup {
    company: String,
    token: String,
}

async fn setup(app: &TestApp, name: &str) -> Setup {
    Product::new("SB-1", 10000, 0)
        .without_cost()
        .ensure(app)
        .await;
    app.configure_issuer().await;
    let company = id_of(&app.company(name, json!({"tax_id": "ESA11111111"})).await);
    let token = app.portal_user(&company).await;
    Setup { company, token }
}

async fn order(app: &TestApp, company: &str, external_id: &str, status: &str) -> String {
    let order = Order::new(external_id)
        .company(company)
        .status(status)
        .line("SB-1", "1", 10000)
        .push(app)
        .await;
    id_of(&order)
}

async fn agreement(
    app: &TestApp,
    company: &str,
    prefix: &str,
    from: String,
    to: Option<String>,
    auto_days: Option<i64>,
) -> Value {
    let r = app.post("/v1/self-billing/agreements", json!({"company_id": company, "valid_from": from, "valid_to": to, "auto_accept_days": auto_days, "series_prefix": prefix, "terms": "Accepted unless disputed."})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body
}

async fn self_bill(app: &TestApp, token: &str, orders: &[&str]) -> crm_tests::Response {
    app.request(
        Method::POST,
        "/v1/portal/self-billed-invoices",
        Some(token),
        Some(json!({"order_ids": orders})),
        &[],
    )
    .await
}

fn days(n: i64) -> String {
    let today = Utc::now().date_naive();
    if n >= 0 {
        today + Days::new(n.unsigned_abs())
    } else {
        today - Days::new(n.unsigned_abs())
    }
    .to_string()
}

on_both_backends! {
    async fn a_self_billed_invoice_prints_what_article_226_asks(app: TestApp) {
        let s = setup(&app, "Exempt Co").await;
        agreement(&app, &s.company, "EXM", days(-1), None, None).await;
        let exempt = id_of(&Order::new("SBX-1").company(&s.company).status("fulfilled")
            .line_with(json!({"sku": "SB-1", "quantity": "1", "unit_price": eur(10000), "tax_rate_bp": 0})).push(&app).await);
        let send = |body: Value| app.request(Method::POST, "/v1/portal/self-billed-invoices", Some(&s.token), Some(body), &[]);
        let bare = send(json!({"order_ids": [exempt]})).await;
        assert_eq!(bare.status, 422, "{}", bare.text);
        assert_eq!(bare.body["errors"][0]["field"], "exemption_reason");
        let reason = "Exento, art. 25 LIVA";
        let r = send(json!({"order_ids": [exempt], "exemption_reason": reason, "supply_date": days(-3)})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!((r.body["exemption_reason"].as_str(), r.body["supply_date"].as_str()), (Some(reason), Some(days(-3).as_str())));
        let reverse = id_of(&Order::new("SBX-2").company(&s.company).status("fulfilled")
            .line_with(json!({"sku": "SB-1", "quantity": "1", "unit_price": eur(10000), "tax_rate_bp": 0})).push(&app).await);
        let r = send(json!({"order_ids": [reverse], "reverse_charge": true})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.body["reverse_charge"], true);
    }

    async fn self_billing_is_refused_with_the_rule_it_breaks(app: TestApp) {
        let s = setup(&app, "Refused Co").await;
        let fulfilled = order(&app, &s.company, "SBR-1", "fulfilled").await;
        let r = self_bill(&app, &s.token, &[&fulfilled]).await;
        assert_eq!(r.status, 422);
        assert!(r.body["errors"][0]["message"].as_str().unwrap().contains("no self-billing agreement"), "{}", r.text);

        agreement(&app, &s.company, "OLD", days(-400), Some(days(-30)), None).await;
        let r = self_bill(&app, &s.token, &[&fulfilled]).await;
        assert!(r.body["errors"][0]["message"].as_str().unwrap().contains("expired"), "{}", r.text);
        let future = agreement(&app, &s.company, "NEXT", days(30), None, None).await;
        let r = self_bill(&app, &s.token, &[&fulfilled]).await;
        assert!(r.body["errors"][0]["message"].as_str().unwrap().contains("starts on"), "{}", r.text);
        assert_eq!(app.post("/v1/self-billing/agreements", json!({"company_id": s.company, "valid_from": days(40), "series_prefix": "DUP"})).await.status, 409, "one active agreement at a time");
        app.act(&format!("/v1/self-billing/agreements/{}/terminate", future["id"].as_str().unwrap())).await;

        agreement(&app, &s.company, "NOW", days(-1), None, None).await;
        let other = setup(&app, "Someone Else").await;
        let theirs = order(&app, &other.company, "SBR-2", "fulfilled").await;
        let r = self_bill(&app, &s.token, &[&theirs]).await;
        assert_eq!(r.status, 422);
        assert_eq!(r.body["errors"][0]["message"], "is not an order of your company");
        let pending = order(&app, &s.company, "SBR-3", "paid").await;
        let r = self_bill(&app, &s.token, &[&pending]).await;
        assert_eq!(r.status, 422);
        assert!(r.text.contains("not fulfilled"), "{}", r.text);
        assert_eq!(self_bill(&app, &s.token, &[&fulfilled]).await.status, 201);
        let r = self_bill(&app, &s.token, &[&fulfilled]).await;
        assert_eq!(r.status, 409, "already invoiced");
    }

    async fn a_self_billed_invoice_is_accepted_or_disputed_then_corrected(app: TestApp) {
        let s = setup(&app, "Happy Co").await;
        let a = agreement(&app, &s.company, "HAPPY", days(-10), Some(days(300)), None).await;
        let first = order(&app, &s.company, "SBH-1", "fulfilled").await;
        let r = self_bill(&app, &s.token, &[&first]).await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.body["type_code"], "389");
        assert_eq!(r.body["status"], "pending_acceptance");
        assert_eq!(r.body["series_id"], a["series_id"]);
        assert_eq!(r.body["legal_mentions"], json!(["Self-billing"]));
        let year = Utc::now().format("%Y").to_string();
        assert_eq!(r.body["number"], format!("HAPPY-{year}-000001"));
        let id = r.body["id"].as_str().unwrap().to_owned();
        let admin = app.admin_token.clone();
        assert_eq!(app.post(&format!("/v1/invoices/{id}/payments"), json!({"amount": eur(100)})).await.status, 409, "not accepted yet");
        let accepted = app.request(Method::POST, &format!("/v1/invoices/{id}/accept"), Some(&admin), None, &[]).await;
        assert_eq!(accepted.body["status"], "issued", "{}", accepted.text);

        let second = order(&app, &s.company, "SBH-2", "fulfilled").await;
        let disputed = self_bill(&app, &s.token, &[&second]).await;
        let did = disputed.body["id"].as_str().unwrap().to_owned();
        let r = app.request(Method::POST, &format!("/v1/invoices/{did}/dispute"), Some(&admin), Some(json!({"reason": "Wrong price"})), &[]).await;
        assert_eq!(r.body["status"], "disputed");
        assert_eq!(app.request(Method::POST, &format!("/v1/invoices/{did}/accept"), Some(&admin), None, &[]).await.status, 409);
        let note = app.post(&format!("/v1/invoices/{did}/credit-notes"), json!({"reason": "Disputed: wrong price"})).await;
        assert_eq!(note.status, 201, "{}", note.text);
        let note = app.request(Method::POST, &format!("/v1/invoices/{}/issue", note.body["id"].as_str().unwrap()), Some(&admin), None, &[]).await;
        assert_eq!(note.body["type_code"], "261", "{}", note.text);
        assert_eq!(note.body["series_id"], a["credit_series_id"]);
        assert_eq!(note.body["number"], format!("HAPPYR-{year}-000001"));
        let reissued = self_bill(&app, &s.token, &[&second]).await;
        assert_eq!(reissued.status, 201, "the credited order can be invoiced again: {}", reissued.text);
        assert_eq!(reissued.body["number"], format!("HAPPY-{year}-000003"));
        let verify = app.get(&format!("/v1/invoice-series/{}/verify", a["series_id"].as_str().unwrap())).await;
        assert_eq!(verify.body["valid"], true);
        assert_eq!(verify.body["checked"], 3);
    }

    async fn pending_invoices_are_accepted_after_the_agreed_days(app: TestApp) {
        let s = setup(&app, "Auto Co").await;
        agreement(&app, &s.company, "AUTO", days(-5), None, Some(10)).await;
        let o = order(&app, &s.company, "SBA-1", "fulfilled").await;
        let invoice = self_bill(&app, &s.token, &[&o]).await.body;
        let id = invoice["id"].as_str().unwrap().to_owned();
        // The issue date is the issuer's day, which is not the UTC day late in the evening.
        let today: chrono::NaiveDate = invoice["issue_date"].as_str().unwrap().parse().unwrap();
        let run = |day: chrono::NaiveDate| {
            let pool = app.pool.clone();
            actix_web::web::block(move || {
                let mut conn = pool.get().unwrap();
                crm_store::platform::db::write_transaction(&mut conn, |c| crm_store::billing::self_billing::auto_accept_due(c, day))
            })
        };
        assert_eq!(run(today + Days::new(9)).await.unwrap().unwrap(), 0, "not yet");
        assert_eq!(app.get(&format!("/v1/invoices/{id}")).await.body["status"], "pending_acceptance");
        assert_eq!(run(today + Days::new(10)).await.unwrap().unwrap(), 1);
        assert_eq!(app.get(&format!("/v1/invoices/{id}")).await.body["status"], "issued");
        assert_eq!(run(today + Days::new(11)).await.unwrap().unwrap(), 0, "accepted once");
    }
}
