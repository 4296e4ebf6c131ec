use chrono::{Datelike, Months, NaiveDate, Utc};
use crm_domain::access::roles::Role;
use crm_tests::{money, on_both_backends, Order, Product, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

fn this_month() -> NaiveDate {
    let today = Utc::now().date_naive();
    NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap()
}

#[allow(clippy::too_many_arguments)]
async fn push(
    app: &TestApp,
    company: &str,
    external_id: &str,
    day: NaiveDate,
    quantity: &str,
    price: i64,
    cost: i64,
    discount_bp: i64,
    currency: &str,
) -> Value {
    Order::new(external_id)
        .company(company)
        .currency(currency)
        .ordered_at(day.and_hms_opt(12, 0, 0).unwrap().and_utc())
        .line_with(json!({"sku": "AN-1", "quantity": quantity, "unit_price": money(price, currency), "unit_cost": money(cost, currency), "discount_bp": discount_bp, "tax_rate_bp": 2100}))
        .push(app)
        .await
}

async fn setup(app: &TestApp) {
    Product::new("AN-1", 1000, 600).ensure(app).await;
    app.configure_issuer().await;
}

on_both_backends! {
    #[smoke]
    async fn profit_figures_equal_the_hand_computed_values(app: TestApp) {
        setup(&app).await;
        let company = app.create("/v1/companies", json!({"name": "Analytics Co"})).await["id"].as_str().unwrap().to_owned();
        let (m, p) = (this_month(), this_month() - Months::new(1));
        // Last month: A (2 × 10.00, cost 6.00) stays; B (1 × 50.00) is cancelled.
        let a = push(&app, &company, "AN-A", p + chrono::Days::new(9), "2", 1000, 600, 0, "EUR").await;
        let b = push(&app, &company, "AN-B", p + chrono::Days::new(19), "1", 5000, 3000, 0, "EUR").await;
        assert_eq!(app.act_with(&format!("/v1/orders/{}/cancel", b["id"].as_str().unwrap()), None).await.status, 200);
        // This month: C (3 × 10.00 less 10%, cost 6.00).
        let c = push(&app, &company, "AN-C", m, "3", 1000, 600, 1000, "EUR").await;
        // A credit note of 10.00 net on A's invoice, issued this month.
        let invoice = app.create("/v1/invoices", json!({"company_id": company, "order_ids": [a["id"]]})).await["id"].as_str().unwrap().to_owned();
        let issued = app.act_with(&format!("/v1/invoices/{invoice}/issue"), None).await;
        let note = app.create(&format!("/v1/invoices/{invoice}/credit-notes"), json!({"reason": "one unit", "lines": [{"invoice_line_id": issued.body["lines"][0]["id"], "quantity": "1"}]})).await;
        app.act_with(&format!("/v1/invoices/{}/issue", note["id"].as_str().unwrap()), None).await;
        // A refund of one unit of C (9.00 net) less a 1.00 restocking fee, VAT included, not invoiced.
        let ret = app.create("/v1/returns", json!({"order_id": c["id"], "lines": [{"order_line_id": c["lines"][0]["id"], "quantity": "1", "reason": "damaged"}]})).await;
        let rid = ret["id"].as_str().unwrap();
        app.act_with(&format!("/v1/returns/{rid}/approve"), None).await;
        app.act_with(&format!("/v1/returns/{rid}/receive"), Some(json!({"lines": [{"return_line_id": ret["lines"][0]["id"], "quantity": "1", "disposition": "restock"}]}))).await;
        app.patch(&format!("/v1/returns/{rid}"), json!({"root_cause": {"category": "shipping", "notes": "n", "preventive_action": "p"}})).await;
        assert_eq!(app.act_with(&format!("/v1/returns/{rid}/resolve"), Some(json!({"resolution": "refund", "restocking_fee": money(100, "EUR")}))).await.status, 200);

        let r = app.get(&format!("/v1/analytics/customers/{company}/profit?from={}&to={}", p.format("%Y-%m"), m.format("%Y-%m"))).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let periods = r.body["periods"].as_array().unwrap();
        let last = &periods[0];
        assert_eq!(last["revenue"], money(2000, "EUR"));
        assert_eq!(last["cost"], money(1200, "EUR"));
        assert_eq!(last["gross_profit"], money(800, "EUR"));
        assert_eq!(last["margin_bp"], 4000);
        assert_eq!(last["orders"], 1, "the cancelled order does not count");
        let now = &periods[1];
        assert_eq!(now["revenue"], money(2700, "EUR"));
        // The refunded unit of C came back into stock: its 6.00 of cost is given back.
        assert_eq!(now["cost"], money(1800 - 600, "EUR"));
        // The 1.00 restocking fee is kept net of its 21% VAT: 0.83.
        assert_eq!(now["returns_and_credits"], money(1000 + 900 - 83, "EUR"));
        assert_eq!(now["gross_profit"], money(-317, "EUR"));
        assert_eq!(now["margin_bp"], -1174);
        assert_eq!(now["average_order_value"], money(2700, "EUR"));
        assert_eq!(now["gross_profit_change_vs_previous_bp"], -13962);
        assert_eq!(now["revenue_change_vs_previous_bp"], 3500);
        assert_eq!(now["gross_profit_change_vs_last_year_bp"], Value::Null, "no sales a year earlier");
        let year = app.get(&format!("/v1/analytics/customers/{company}/profit?from={}&to={}&granularity=year", m.format("%Y-01"), m.format("%Y-%m"))).await;
        if p.year() == m.year() {
            assert_eq!(year.body["periods"][0]["gross_profit"], money(800 - 317, "EUR"));
        }

        // The product: A's 2 units and C's 3 (B cancelled); one unit of C came back.
        let products = app.get(&format!("/v1/analytics/products?period={}..{}", p.format("%Y-%m"), m.format("%Y-%m"))).await;
        assert_eq!(products.status, 200, "{}", products.text);
        let widget = &products.body["data"][0];
        assert_eq!(products.body["data"].as_array().unwrap().len(), 1, "credit-note lines are not catalog sales");
        assert_eq!(widget["sku"], "AN-1");
        assert_eq!(widget["revenue"], money(2000 + 2700, "EUR"));
        // What the customers kept: less the credit note on A and C's refund net of its fee.
        assert_eq!(widget["returns"], money(1000 + 900 - 83, "EUR"));
        assert_eq!(widget["cost"], money(1200 + 1800 - 600, "EUR"), "C's unit is back in stock");
        assert_eq!(widget["gross_margin"], money(483, "EUR"));
        assert_eq!(widget["margin_bp"], 1675, "483 / 2883, truncated");
        assert_eq!(widget["units"], "5");
        assert_eq!(widget["returned_units"], "1");
        assert_eq!(widget["return_rate_bp"], 2000);
        assert_eq!(widget["tier"], "C", "16% margin: B from 20%, A from 40%");
    }

    async fn commissions_follow_the_product_tier(app: TestApp) {
        setup(&app).await;
        app.create("/v1/products", json!({"sku": "LOW-1", "name": "Thin margin", "unit_price": money(1000, "EUR"), "unit_cost": money(950, "EUR"), "tax_rate_bp": 2100})).await;
        let company = app.create("/v1/companies", json!({"name": "Commission Co"})).await["id"].as_str().unwrap().to_owned();
        let (seller, _, _) = app.login_new_user(Role::Sales, None).await;
        let (other, _, _) = app.login_new_user(Role::Sales, None).await;
        let day = this_month();
        let order = |salesperson: &str, sku: &str, quantity: &str, price: i64, cost: i64| json!({
            "ordered_at": format!("{day}T12:00:00Z"), "currency": "EUR", "status": "paid", "company_id": company,
            "salesperson_id": salesperson, "customer": {"email": "buyer@example.com"},
            "lines": [{"sku": sku, "quantity": quantity, "unit_price": money(price, "EUR"), "unit_cost": money(cost, "EUR"), "tax_rate_bp": 2100}]});
        for (external, salesperson, sku, quantity, price, cost) in [
            ("CM-1", &seller, "AN-1", "3", 1001, 500),
            ("CM-2", &seller, "LOW-1", "1", 1000, 950),
            ("CM-3", &other, "LOW-1", "2", 1000, 950),
        ] {
            let r = app.request(Method::PUT, &format!("/v1/orders/by-external-id/shop/{external}"), Some(&app.admin_token.clone()), Some(order(salesperson, sku, quantity, price, cost)), &[]).await;
            assert_eq!(r.status, 201, "{}", r.text);
        }
        let rates = app.get("/v1/settings/commission-rates").await;
        assert_eq!((rates.body["a_bp"].as_i64(), rates.body["b_bp"].as_i64(), rates.body["c_bp"].as_i64()), (Some(500), Some(300), Some(100)), "the defaults");
        let etag = rates.header("etag").unwrap().to_owned();
        let bad = app.request(Method::PUT, "/v1/settings/commission-rates", Some(&app.admin_token.clone()), Some(json!({"a_bp": 10001, "b_bp": 300, "c_bp": 100})), &[]).await;
        assert_eq!(bad.status, 422);
        assert_eq!(bad.body["errors"][0]["field"], "a_bp");
        let set = app.request(Method::PUT, "/v1/settings/commission-rates", Some(&app.admin_token.clone()), Some(json!({"a_bp": 750, "b_bp": 300, "c_bp": 125})), &[("if-match", etag.as_str())]).await;
        assert_eq!(set.status, 200, "{}", set.text);
        let stale = app.request(Method::PUT, "/v1/settings/commission-rates", Some(&app.admin_token.clone()), Some(json!({"a_bp": 1, "b_bp": 1, "c_bp": 1})), &[("if-match", etag.as_str())]).await;
        assert_eq!(stale.status, 412);
        let sales = app.token_for(Role::Sales, None).await;
        assert_eq!(app.request(Method::PUT, "/v1/settings/commission-rates", Some(&sales), Some(json!({"a_bp": 1, "b_bp": 1, "c_bp": 1})), &[]).await.status, 403);

        let r = app.get(&format!("/v1/analytics/commissions?period={}&salesperson_id={seller}", day.year())).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let people = r.body["salespeople"].as_array().unwrap();
        assert_eq!(people.len(), 1, "filtered to one salesperson");
        let tiers = &people[0]["tiers"];
        // AN-1: 30.03 sales at a 50% margin is A: 7.5% of 30.03 = 2.25225 -> 2.25.
        assert_eq!(tiers[0], json!({"tier": "A", "sales": money(3003, "EUR"), "rate_bp": 750, "commission": money(225, "EUR")}));
        assert_eq!(tiers[1]["sales"], money(0, "EUR"));
        // LOW-1: 10.00 at a 5% margin is C: 1.25% of 10.00 = 0.125 -> 0.13 (half away from zero).
        assert_eq!(tiers[2], json!({"tier": "C", "sales": money(1000, "EUR"), "rate_bp": 125, "commission": money(13, "EUR")}));
        assert_eq!(people[0]["total_commission"], money(238, "EUR"));
        let all = app.get(&format!("/v1/analytics/commissions?period={}", day.year())).await;
        assert_eq!(all.body["salespeople"].as_array().unwrap().len(), 2);
        let unknown = app.get(&format!("/v1/analytics/commissions?period={}&salesperson_id=nobody", day.year())).await;
        assert_eq!(unknown.status, 422);
        assert_eq!(unknown.body["errors"][0]["field"], "salesperson_id");
    }

    async fn clv_is_historical_profit_and_a_fitted_prediction(app: TestApp) {
        setup(&app).await;
        let before = app.get("/v1/analytics/customers/nobody/clv").await;
        assert_eq!(before.status, 404);
        use rand::{Rng, SeedableRng};
        // Customers as BG/NBD sees them: each buys at its own rate until it drops out.
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let today = Utc::now().date_naive();
        let start = today - chrono::Days::new(52 * 7);
        let mut companies = Vec::new();
        for c in 0..40_u64 {
            let company = app.create("/v1/companies", json!({"name": format!("CLV {c}")})).await["id"].as_str().unwrap().to_owned();
            let weekly_rate = rng.gen_range(0.02..0.4);
            let mut day = start + chrono::Days::new(rng.gen_range(0..120));
            let mut p = 0;
            while day < today {
                let price = if c == 1 { [1100, 1200][p % 2] } else { rng.gen_range(800..2000) };
                push(&app, &company, &format!("CLV-{c}-{p}"), day, "1", price, 600, 0, "EUR").await;
                p += 1;
                if c == 1 && p == 2 || rng.gen_bool(0.25) {
                    break;
                }
                let gap_weeks = -(1.0 - rng.gen::<f64>()).ln() / weekly_rate;
                day = day + chrono::Days::new(1 + (gap_weeks * 7.0) as u64);
            }
            companies.push(company);
        }
        let first = &companies[1];
        let unfitted = app.get(&format!("/v1/analytics/customers/{first}/clv")).await;
        assert_eq!(unfitted.status, 200, "{}", unfitted.text);
        assert_eq!(unfitted.body["predicted_12_months"], Value::Null, "no model yet");
        // Company 1: purchases of 11.00 and 12.00 at a cost of 6.00 each.
        assert_eq!(unfitted.body["historical"], money(500 + 600, "EUR"));

        let unranked = app.get("/v1/analytics/churn-risk").await;
        assert_eq!(unranked.status, 409, "no fit, no churn risk: {}", unranked.text);
        let pool = app.pool.clone();
        let fit = actix_web::web::block(move || crm::app::fit_clv(&pool, "EUR".parse().unwrap(), Utc::now().date_naive())).await.unwrap().unwrap();
        assert_eq!(fit.customers, 40);
        let r = app.get(&format!("/v1/analytics/customers/{first}/clv")).await;
        assert_eq!(r.body["model"]["customers"], 40);
        let predicted = r.body["predicted_12_months"]["amount_minor"].as_i64().unwrap();
        assert!(predicted >= 0, "{predicted}");
        let alive = r.body["probability_alive"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&alive));
        assert_eq!(r.body["historical"], money(1100, "EUR"), "the fit does not change history");

        // Churn risk ranks the same customers with `/clv`'s figures.
        let churn = app.get("/v1/analytics/churn-risk?limit=200").await;
        assert_eq!(churn.status, 200, "{}", churn.text);
        let rows = churn.body["data"].as_array().unwrap();
        assert_eq!(rows.len(), 40);
        let at_risk: Vec<i64> = rows.iter().map(|r| r["value_at_risk"]["amount_minor"].as_i64().unwrap()).collect();
        assert!(at_risk.windows(2).all(|w| w[0] >= w[1]), "most at risk first: {at_risk:?}");
        for row in rows.iter().take(8) {
            let clv = app.get(&format!("/v1/analytics/customers/{}/clv", row["company_id"].as_str().unwrap())).await;
            let alive = row["probability_alive"].as_f64().unwrap();
            assert_eq!(alive, clv.body["probability_alive"].as_f64().unwrap(), "the same P(alive) as /clv");
            assert!((0.0..=1.0).contains(&alive));
            assert_eq!(row["value"], clv.body["historical"]);
            let value = row["value"]["amount_minor"].as_i64().unwrap();
            assert_eq!(row["value_at_risk"]["amount_minor"].as_i64().unwrap(), ((1.0 - alive) * value as f64).round() as i64);
        }
        let predicted = app.get("/v1/analytics/churn-risk?basis=predicted&limit=1").await;
        let top = &predicted.body["data"][0];
        let clv = app.get(&format!("/v1/analytics/customers/{}/clv", top["company_id"].as_str().unwrap())).await;
        assert_eq!(top["value"], clv.body["predicted_12_months"]);
        let floor = rows[10]["value"]["amount_minor"].as_i64().unwrap();
        let rich = app.get(&format!("/v1/analytics/churn-risk?limit=200&min_value={floor}")).await;
        let rich = rich.body["data"].as_array().unwrap();
        assert!(!rich.is_empty() && rich.iter().all(|r| r["value"]["amount_minor"].as_i64().unwrap() >= floor));
        assert_eq!(rich.len(), rows.iter().filter(|r| r["value"]["amount_minor"].as_i64().unwrap() >= floor).count());
        let owner = app.create("/v1/users", json!({"email": "owner-churn@example.com", "role": "sales", "password": "a long test passphrase"})).await;
        let owned = rows[3]["company_id"].as_str().unwrap();
        assert_eq!(app.patch(&format!("/v1/companies/{owned}"), json!({"owner_id": owner["id"]})).await.status, 200);
        let mine = app.get(&format!("/v1/analytics/churn-risk?owner_id={}", owner["id"].as_str().unwrap())).await;
        let mine: Vec<&str> = mine.body["data"].as_array().unwrap().iter().map(|r| r["company_id"].as_str().unwrap()).collect();
        assert_eq!(mine, vec![owned]);
        let year = Utc::now().date_naive().year();
        assert_eq!(app.act_with(&format!("/v1/analytics/tiers/recompute?basis_year={year}"), None).await.status, 200);
        let tier_a = app.get("/v1/analytics/churn-risk?tier=A&limit=200").await;
        let tier_a = tier_a.body["data"].as_array().unwrap();
        assert!(!tier_a.is_empty() && tier_a.iter().all(|r| r["tier"] == "A"), "{tier_a:?}");
        assert_eq!(app.get("/v1/analytics/churn-risk?limit=0").await.status, 422);
    }

    async fn tiers_follow_profit_and_not_volume(app: TestApp) {
        setup(&app).await;
        let volume = app.create("/v1/companies", json!({"name": "Volume Co"})).await["id"].as_str().unwrap().to_owned();
        let profit = app.create("/v1/companies", json!({"name": "Profit Co"})).await["id"].as_str().unwrap().to_owned();
        let idle = app.create("/v1/companies", json!({"name": "Idle Co"})).await["id"].as_str().unwrap().to_owned();
        let day = this_month();
        for i in 0..10 {
            push(&app, &volume, &format!("V-{i}"), day, "10", 1000, 990, 0, "EUR").await;
        }
        push(&app, &profit, "P-1", day, "5", 10000, 2000, 0, "EUR").await;
        let r = app.act_with(&format!("/v1/analytics/tiers/recompute?basis_year={}", day.year()), None).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!((r.body["a"].as_i64(), r.body["b"].as_i64(), r.body["c"].as_i64()), (Some(1), Some(0), Some(2)));
        assert_eq!(app.get(&format!("/v1/companies/{profit}")).await.body["tier"], "A");
        assert_eq!(app.get(&format!("/v1/companies/{volume}")).await.body["tier"], "C", "the high-volume, low-profit customer is not A");
        assert_eq!(app.get(&format!("/v1/companies/{idle}")).await.body["tier"], "C");
        assert_eq!(app.get(&format!("/v1/companies/{profit}")).await.body["tier_basis_year"], day.year());

        let ranking = app.get(&format!("/v1/analytics/customers?period={}", day.year())).await;
        assert_eq!(ranking.status, 200, "{}", ranking.text);
        let rows = ranking.body["data"].as_array().unwrap();
        assert_eq!(rows[0]["company_id"], profit.as_str());
        assert_eq!(rows[0]["profit_rank"], 1);
        assert_eq!(rows[0]["volume_rank"], 2, "volume and profit disagree");
        assert_eq!(rows[1]["volume_rank"], 1);
        assert_eq!(rows[0]["gross_profit"], money(40000, "EUR"));
        assert_eq!(rows[1]["gross_profit"], money(1000, "EUR"));
        assert_eq!(rows[0]["share_bp"], 9756);
        assert_eq!(rows[1]["cumulative_share_bp"], 10000);
        let paged = app.get(&format!("/v1/analytics/customers?period={}&limit=1", day.year())).await;
        assert_eq!(paged.body["data"].as_array().unwrap().len(), 1);
        let next = paged.body["next_cursor"].as_str().unwrap();
        let second = app.get(&format!("/v1/analytics/customers?period={}&limit=1&cursor={next}", day.year())).await;
        assert_eq!(second.body["data"][0]["company_id"], volume.as_str());
        assert_eq!(second.body["next_cursor"], Value::Null);
        let sales = app.token_for(Role::Sales, None).await;
        assert_eq!(app.request(Method::POST, "/v1/analytics/tiers/recompute?basis_year=2026", Some(&sales), None, &[]).await.status, 403, "managers and admins only");
    }

    async fn a_missing_rate_is_an_explicit_error(app: TestApp) {
        setup(&app).await;
        let company = app.create("/v1/companies", json!({"name": "Dollar Co"})).await["id"].as_str().unwrap().to_owned();
        let m = this_month();
        push(&app, &company, "USD-1", m, "1", 10000, 5000, 0, "USD").await;
        let path = format!("/v1/analytics/customers/{company}/profit?from={}&to={}", m.format("%Y-%m"), m.format("%Y-%m"));
        let r = app.get(&path).await;
        assert_eq!(r.status, 422);
        let end = (m + Months::new(1)).pred_opt().unwrap();
        let message = r.body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("USD") && message.contains(&end.to_string()), "{message}");
        app.request(Method::PUT, &format!("/v1/exchange-rates/USD/{m}"), Some(&app.admin_token.clone()), Some(json!({"rate": "0.9"})), &[]).await;
        let r = app.get(&path).await;
        assert_eq!(r.body["periods"][0]["revenue"], money(9000, "EUR"));
        assert_eq!(r.body["periods"][0]["gross_profit"], money(4500, "EUR"));
    }

    async fn customers_get_403_on_analytics(app: TestApp) {
        let company = app.create("/v1/companies", json!({"name": "Curious Co"})).await["id"].as_str().unwrap().to_owned();
        let token = app.token_for(Role::Customer, Some(company.clone())).await;
        for path in [format!("/v1/analytics/customers/{company}/profit?from=2026-01&to=2026-02"), format!("/v1/analytics/customers/{company}/clv"), "/v1/analytics/customers?period=2026".to_owned(), "/v1/analytics/products?period=2026".to_owned(), "/v1/analytics/commissions?period=2026".to_owned()] {
            assert_eq!(app.request(Method::GET, &path, Some(&token), None, &[]).await.status, 403, "{path}");
        }
        assert_eq!(app.request(Method::POST, "/v1/analytics/tiers/recompute?basis_year=2026", Some(&token), None, &[]).await.status, 403);
    }
}

on_both_backends! {
    async fn the_overview_answers_the_call_centre(app: TestApp) {
        setup(&app).await;
        let company = app.create("/v1/companies", json!({"name": "Caller Co", "preferences": {"delivery": "mornings"}})).await["id"].as_str().unwrap().to_owned();
        let contact = app.create("/v1/contacts", json!({"last_name": "Caller", "company_id": company})).await["id"].as_str().unwrap().to_owned();
        let order = push(&app, &company, "OV-1", this_month(), "2", 1000, 600, 0, "EUR").await;
        let quote = app.create("/v1/quotes", json!({"company_id": company, "currency": "EUR", "lines": [{"description": "x", "quantity": "1", "unit_price": money(500, "EUR")}]})).await["id"].as_str().unwrap().to_owned();
        app.act_with(&format!("/v1/quotes/{quote}/send"), None).await;
        let invoice = app.create("/v1/invoices", json!({"company_id": company, "order_ids": [order["id"]], "due_date": "2020-01-01"})).await["id"].as_str().unwrap().to_owned();
        app.act_with(&format!("/v1/invoices/{invoice}/issue"), None).await;
        app.create("/v1/returns", json!({"order_id": order["id"], "lines": [{"order_line_id": order["lines"][0]["id"], "quantity": "1", "reason": "damaged"}]})).await;
        app.create("/v1/interactions", json!({"contact_id": contact, "kind": "call", "subject": "Asked about delivery", "occurred_at": "2026-01-05T10:00:00Z"})).await;
        app.create("/v1/interactions", json!({"contact_id": contact, "kind": "visit", "subject": "Visit", "scheduled_for": "2099-01-05T10:00:00Z"})).await;
        let r = app.get(&format!("/v1/companies/{company}/overview")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["company"]["preferences"]["delivery"], "mornings");
        assert_eq!(r.body["last_12_months"]["revenue"], money(2000, "EUR"));
        assert_eq!(r.body["last_12_months"]["gross_profit"], money(800, "EUR"));
        assert_eq!(r.body["open_quotes"][0]["id"], quote.as_str());
        assert_eq!(r.body["recent_orders"][0]["id"], order["id"]);
        assert_eq!(r.body["open_returns"].as_array().unwrap().len(), 1);
        assert_eq!(r.body["receivables"][0], json!({"unpaid": money(2420, "EUR"), "overdue": money(2420, "EUR")}));
        assert_eq!(r.body["last_interactions"][0]["subject"], "Asked about delivery");
        assert_eq!(r.body["next_interaction"]["subject"], "Visit");
        let by_contact = app.get(&format!("/v1/contacts/{contact}/overview")).await;
        assert_eq!(by_contact.body["contact"]["id"], contact.as_str());
        assert_eq!(by_contact.body["company"]["id"], company.as_str());
        let customer = app.token_for(Role::Customer, Some(company.clone())).await;
        assert_eq!(app.request(Method::GET, &format!("/v1/companies/{company}/overview"), Some(&customer), None, &[]).await.status, 403);
    }
}
