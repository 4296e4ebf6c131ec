use chrono::{Datelike, Months, NaiveDate, Utc};
use crm_domain::access::roles::Role;
use crm_tests::{money, on_both_backends, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

const PROSPECTING: &str = "00000000-0000-7000-8000-000000000011";
const QUALIFICATION: &str = "00000000-0000-7000-8000-000000000012";
const PROPOSAL: &str = "00000000-0000-7000-8000-000000000013";
const NEGOTIATION: &str = "00000000-0000-7000-8000-000000000014";
const WON: &str = "00000000-0000-7000-8000-000000000015";
const LOST: &str = "00000000-0000-7000-8000-000000000016";

fn month(offset: u32) -> NaiveDate {
    let today = Utc::now().date_naive();
    NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap() + Months::new(offset)
}

fn day_in(offset: u32, day: u32) -> String {
    (month(offset) + chrono::Days::new(u64::from(day) - 1)).to_string()
}

async fn opportunity(app: &TestApp, company: &Value, token: &str, body: Value) -> Value {
    let mut body = body;
    body["company_id"] = company["id"].clone();
    let r = app
        .request(
            Method::POST,
            "/v1/opportunities",
            Some(token),
            Some(body),
            &[],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body
}

async fn move_to(app: &TestApp, opportunity: &Value, body: Value) -> crm_tests::Response {
    app.patch(
        &format!("/v1/opportunities/{}", opportunity["id"].as_str().unwrap()),
        body,
    )
    .await
}

on_both_backends! {
    async fn stage_moves_are_recorded_and_losing_needs_a_reason(app: TestApp) {
        let company = app.create("/v1/companies", json!({"name": "Pipeline Co"})).await;
        let token = app.admin_token.clone();
        let o = opportunity(&app, &company, &token, json!({"name": "Deal", "amount": money(100_000, "EUR"), "expected_close_date": "2027-01-31"})).await;
        assert_eq!(o["stage_id"], PROSPECTING, "the default pipeline's first stage");
        assert_eq!(o["probability_bp"], 1000);
        assert_eq!(move_to(&app, &o, json!({"stage_id": PROPOSAL})).await.body["probability_bp"], 5000);
        let r = move_to(&app, &o, json!({"stage_id": LOST})).await;
        assert_eq!(r.status, 422);
        assert_eq!(r.body["errors"][0]["field"], "loss_reason");
        let r = move_to(&app, &o, json!({"stage_id": LOST, "loss_reason": "Went with a competitor"})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["outcome"], "lost");
        assert_eq!(r.body["probability_bp"], 0);
        assert!(r.body["closed_at"].is_string());
        let history = app.get(&format!("/v1/opportunities/{}/history", o["id"].as_str().unwrap())).await;
        let moves: Vec<(Value, Value)> = history.body["data"].as_array().unwrap().iter().map(|c| (c["from_stage_id"].clone(), c["to_stage_id"].clone())).collect();
        assert_eq!(moves, vec![(Value::Null, json!(PROSPECTING)), (json!(PROSPECTING), json!(PROPOSAL)), (json!(PROPOSAL), json!(LOST))]);
        assert!(history.body["data"].as_array().unwrap().iter().all(|c| c["changed_by"].is_string()), "who moved it");
        assert_eq!(move_to(&app, &o, json!({"stage_id": "not-a-stage"})).await.status, 422);
        assert_eq!(app.get("/v1/opportunities?outcome=lost").await.body["data"].as_array().unwrap().len(), 1);
        assert_eq!(app.get("/v1/opportunities?outcome=open").await.body["data"].as_array().unwrap().len(), 0);
    }

    async fn the_forecast_equals_the_hand_computed_figures(app: TestApp) {
        let (a, a_token, _) = app.login_new_user(Role::Sales, None).await;
        let (b, b_token, _) = app.login_new_user(Role::Sales, None).await;
        let company = app.create("/v1/companies", json!({"name": "Forecast Co"})).await;
        let r = app.request(Method::PUT, "/v1/exchange-rates/USD/2020-01-01", Some(&app.admin_token.clone()), Some(json!({"rate": "0.9"})), &[]).await;
        assert_eq!(r.status, 201, "{}", r.text);
        opportunity(&app, &company, &a_token, json!({"name": "o1", "amount": money(1_000_000, "EUR"), "stage_id": QUALIFICATION, "expected_close_date": day_in(0, 15)})).await;
        opportunity(&app, &company, &a_token, json!({"name": "o2", "amount": money(33_333, "EUR"), "stage_id": PROPOSAL, "probability_bp": 3333, "expected_close_date": day_in(1, 10)})).await;
        opportunity(&app, &company, &b_token, json!({"name": "o3", "amount": money(50_000, "USD"), "stage_id": NEGOTIATION, "expected_close_date": day_in(1, 20)})).await;
        let o4 = opportunity(&app, &company, &b_token, json!({"name": "o4", "amount": money(20_000, "EUR"), "expected_close_date": day_in(3, 1)})).await;
        assert_eq!(move_to(&app, &o4, json!({"stage_id": WON})).await.status, 200);
        let o5 = opportunity(&app, &company, &a_token, json!({"name": "o5", "amount": money(7_000, "EUR"), "expected_close_date": day_in(0, 2)})).await;
        assert_eq!(move_to(&app, &o5, json!({"stage_id": LOST, "loss_reason": "Budget"})).await.status, 200);
        opportunity(&app, &company, &b_token, json!({"name": "o6", "amount": money(99_999, "EUR"), "expected_close_date": day_in(5, 1)})).await;

        let (m0, m1, m2) = (month(0).format("%Y-%m").to_string(), month(1).format("%Y-%m").to_string(), month(2).format("%Y-%m").to_string());
        let r = app.get(&format!("/v1/forecast?from={m0}&to={m2}")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["currency"], "EUR");
        let groups = r.body["groups"].as_array().unwrap();
        assert_eq!(groups.len(), 2, "no figures in {m2}");
        let figures = |g: &Value| (g["key"].as_str().unwrap().to_owned(), g["open"]["amount_minor"].as_i64().unwrap(), g["weighted"]["amount_minor"].as_i64().unwrap(), g["best_case"]["amount_minor"].as_i64().unwrap(), g["won"]["amount_minor"].as_i64().unwrap(), g["open_count"].as_i64().unwrap(), g["won_count"].as_i64().unwrap(), g["lost_count"].as_i64().unwrap());
        assert_eq!(figures(&groups[0]), (m0.clone(), 1_000_000, 200_000, 1_020_000, 20_000, 1, 1, 1));
        // o2: 33333 × 33.33% = 11109.89 -> 11110; o3: 500.00 USD × 0.9 = 450.00 EUR, × 75% = 337.50.
        assert_eq!(figures(&groups[1]), (m1, 33_333 + 45_000, 11_110 + 33_750, 78_333, 0, 2, 0, 0));
        assert_eq!(figures(&r.body["total"]), ("total".into(), 1_078_333, 244_860, 1_098_333, 20_000, 3, 1, 1));

        let by_owner = app.get(&format!("/v1/forecast?from={m0}&to={m2}&group_by=owner")).await;
        let owner = |id: &str| by_owner.body["groups"].as_array().unwrap().iter().find(|g| g["key"] == id).cloned().unwrap();
        assert_eq!(figures(&owner(&a)), (a.clone(), 1_033_333, 211_110, 1_033_333, 0, 2, 0, 1));
        assert_eq!(figures(&owner(&b)), (b.clone(), 45_000, 33_750, 65_000, 20_000, 1, 1, 0));
        let stats = |id: &str| by_owner.body["owners"].as_array().unwrap().iter().find(|o| o["owner_id"] == id).cloned().unwrap();
        assert_eq!(stats(&a)["win_rate_bp"], 0);
        assert_eq!(stats(&a)["average_sales_cycle_days"], Value::Null);
        assert_eq!(stats(&b)["win_rate_bp"], 10000);
        assert_eq!(stats(&b)["average_sales_cycle_days"], 0.0);
        let by_pipeline = app.get(&format!("/v1/forecast?from={m0}&to={m2}&group_by=pipeline")).await;
        assert_eq!(by_pipeline.body["groups"][0]["key"], "00000000-0000-7000-8000-000000000001");

        opportunity(&app, &company, &a_token, json!({"name": "pounds", "amount": money(100, "GBP"), "expected_close_date": day_in(1, 1)})).await;
        let r = app.get(&format!("/v1/forecast?from={m0}&to={m2}")).await;
        assert_eq!(r.status, 422, "a missing rate is explicit");
        let message = r.body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("GBP") && message.contains(&Utc::now().date_naive().to_string()), "{message}");
        assert_eq!(app.get("/v1/forecast?from=2026-13&to=2027-01").await.status, 422);
    }

    async fn converting_a_lead_can_open_an_opportunity(app: TestApp) {
        let lead = app.create("/v1/leads", json!({"first_name": "Olga", "last_name": "Ruiz", "email": "olga@example.com", "company_name": "Ruiz Logística"})).await;
        let body = json!({"opportunity": {"name": "Fleet tracking", "amount": money(1_500_000, "EUR"), "expected_close_date": "2027-03-31", "stage_id": QUALIFICATION}});
        let r = app.request(Method::POST, &format!("/v1/leads/{}/convert", lead["id"].as_str().unwrap()), Some(&app.admin_token.clone()), Some(body), &[]).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let o = app.get(&format!("/v1/opportunities/{}", r.body["opportunity_id"].as_str().unwrap())).await;
        assert_eq!(o.body["lead_id"], lead["id"]);
        assert_eq!(o.body["company_id"], r.body["company_id"]);
        assert_eq!(o.body["contact_id"], r.body["contact_id"]);
        assert_eq!(o.body["stage_id"], QUALIFICATION);
        let timeline = app.get(&format!("/v1/companies/{}/timeline", r.body["company_id"].as_str().unwrap())).await;
        assert!(timeline.body["data"].as_array().unwrap().iter().any(|e| e["kind"] == "opportunity"));
    }

    async fn accepting_a_quote_wins_its_opportunity(app: TestApp) {
        let company = app.create("/v1/companies", json!({"name": "Quote Co"})).await;
        let token = app.admin_token.clone();
        let o = opportunity(&app, &company, &token, json!({"name": "Deal", "amount": money(1000, "EUR"), "expected_close_date": "2027-01-31"})).await;
        let q = app.create("/v1/quotes", json!({"opportunity_id": o["id"], "company_id": company["id"], "currency": "EUR", "lines": [{"description": "x", "quantity": "1", "unit_price": money(1000, "EUR")}]})).await;
        assert_eq!(q["opportunity_id"], o["id"]);
        let qid = q["id"].as_str().unwrap();
        app.request(Method::POST, &format!("/v1/quotes/{qid}/send"), Some(&token), None, &[]).await;
        assert_eq!(app.request(Method::POST, &format!("/v1/quotes/{qid}/accept"), Some(&token), None, &[]).await.status, 200);
        let won = app.get(&format!("/v1/opportunities/{}", o["id"].as_str().unwrap())).await;
        assert_eq!(won.body["stage_id"], WON);
        assert_eq!(won.body["outcome"], "won");
    }

    async fn customers_cannot_see_opportunities_or_the_forecast(app: TestApp) {
        let company = app.create("/v1/companies", json!({"name": "Secret Co"})).await;
        let o = opportunity(&app, &company, &app.admin_token.clone(), json!({"name": "Deal", "amount": money(1000, "EUR"), "expected_close_date": "2027-01-31"})).await;
        let customer = app.token_for(Role::Customer, Some(company["id"].as_str().unwrap().to_owned())).await;
        for path in [
            "/v1/opportunities".to_owned(),
            format!("/v1/opportunities/{}", o["id"].as_str().unwrap()),
            format!("/v1/opportunities/{}/history", o["id"].as_str().unwrap()),
            "/v1/forecast?from=2026-01&to=2026-12".to_owned(),
            "/v1/pipelines".to_owned(),
            "/v1/exchange-rates".to_owned(),
        ] {
            assert_eq!(app.request(Method::GET, &path, Some(&customer), None, &[]).await.status, 403, "{path}");
        }
        let r = app.request(Method::POST, "/v1/opportunities", Some(&customer), Some(json!({"name": "x", "company_id": company["id"], "amount": money(1, "EUR"), "expected_close_date": "2027-01-01"})), &[]).await;
        assert_eq!(r.status, 403);
    }

    async fn admins_configure_pipelines(app: TestApp) {
        let r = app.post("/v1/pipelines", json!({"name": "Partners", "won_on_quote_accept": false, "stages": [{"name": "Intro", "probability_bp": 500}, {"name": "Signed", "probability_bp": 10000, "outcome": "won"}]})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let id = r.body["id"].as_str().unwrap().to_owned();
        let stage = r.body["stages"][0]["id"].as_str().unwrap().to_owned();
        let r = app.patch(&format!("/v1/pipelines/{id}/stages/{stage}"), json!({"probability_bp": 700})).await;
        assert_eq!(r.body["stages"][0]["probability_bp"], 700);
        let r = app.patch(&format!("/v1/pipelines/{id}/stages/{stage}"), json!({"outcome": "lost"})).await;
        assert_eq!(r.status, 422, "a pipeline keeps an open stage");
        let r = app.post("/v1/pipelines", json!({"name": "Bad", "stages": [{"name": "Done", "probability_bp": 10000, "outcome": "won"}]})).await;
        assert_eq!(r.status, 422);
        let sales = app.token_for(Role::Sales, None).await;
        assert_eq!(app.request(Method::POST, "/v1/pipelines", Some(&sales), Some(json!({"name": "x", "stages": []})), &[]).await.status, 403);
        assert_eq!(app.request(Method::GET, "/v1/pipelines", Some(&sales), None, &[]).await.body["data"].as_array().unwrap().len(), 2);
        assert_eq!(app.delete("/v1/pipelines/00000000-0000-7000-8000-000000000001").await.status, 409, "not the default");
    }
}
