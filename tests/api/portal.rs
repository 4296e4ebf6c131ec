use crm_tests::{eur, id_of, on_both_backends, Order, Product, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

struct Customer {
    company: String,
    token: String,
    order: Value,
    invoice: String,
    quote: String,
    ret: String,
}

/// A company with a portal user, an order, an issued invoice, a sent quote and a return.
async fn customer(app: &TestApp, name: &str) -> Customer {
    Product::new("POR-1", 1000, 300).ensure(app).await;
    app.configure_issuer().await;
    let company = id_of(
        &app.company(
            name,
            json!({"legal_name": format!("{name} SL"), "tax_id": "ESB12345678"}),
        )
        .await,
    );
    let order = Order::new(&name.to_lowercase())
        .company(&company)
        .status("fulfilled")
        .line("POR-1", "3", 1000)
        .push(app)
        .await;
    let invoice = app.issued_invoice(&company, &order).await;
    let quote = app.sent_quote(&company, "Extra lamps").await;
    let ret = app.returned_unit(&order, "defective").await;
    let token = app.portal_user(&company).await;
    Customer {
        company,
        token,
        order,
        invoice,
        quote,
        ret,
    }
}

on_both_backends! {
    #[smoke]
    async fn a_customer_sees_only_its_own_records(app: TestApp) {
        let a = customer(&app, "Alfa").await;
        let b = customer(&app, "Beta").await;
        for path in [
            format!("/v1/portal/invoices/{}", b.invoice),
            format!("/v1/portal/orders/{}", b.order["id"].as_str().unwrap()),
            format!("/v1/portal/quotes/{}", b.quote),
            format!("/v1/portal/returns/{}", b.ret),
        ] {
            assert_eq!(app.get_as(&a.token, &path).await.status, 404, "{path}");
        }
        for (path, action) in [(format!("/v1/portal/quotes/{}/accept", b.quote), None), (format!("/v1/portal/quotes/{}/reject", b.quote), Some(json!({"reason": "x"})))] {
            assert_eq!(app.request(Method::POST, &path, Some(&a.token), action, &[]).await.status, 404, "{path}");
        }
        let r = app.request(Method::POST, "/v1/portal/returns", Some(&a.token), Some(json!({"order_id": b.order["id"], "lines": [{"order_line_id": b.order["lines"][0]["id"], "quantity": "1", "reason": "other"}]})), &[]).await;
        assert_eq!(r.status, 404, "another company's order");
        for list in ["/v1/portal/invoices", "/v1/portal/orders", "/v1/portal/quotes", "/v1/portal/returns"] {
            let r = app.get_as(&a.token, list).await;
            assert_eq!(r.status, 200, "{list}: {}", r.text);
            assert_eq!(r.body["data"].as_array().unwrap().len(), 1, "{list}");
        }
        assert_eq!(app.get_as(&app.admin_token.clone(), "/v1/portal/orders").await.status, 403, "the portal is for customers");
    }

    async fn a_customer_sees_no_cost_anywhere(app: TestApp) {
        let a = customer(&app, "Gamma").await;
        let paths = [
            "/v1/portal/invoices".to_owned(),
            format!("/v1/portal/invoices/{}", a.invoice),
            "/v1/portal/orders".to_owned(),
            format!("/v1/portal/orders/{}", a.order["id"].as_str().unwrap()),
            "/v1/portal/quotes".to_owned(),
            format!("/v1/portal/quotes/{}", a.quote),
            "/v1/portal/returns".to_owned(),
            format!("/v1/portal/returns/{}", a.ret),
            "/v1/portal/fiscal-data".to_owned(),
        ];
        for path in paths {
            let r = app.get_as(&a.token, &path).await;
            assert_eq!(r.status, 200, "{path}: {}", r.text);
            for word in ["cost", "margin", "gross_profit", "root_cause", "preventive_action"] {
                assert!(!r.text.contains(word), "{path} shows {word}");
            }
        }
    }

    async fn a_customer_answers_quotes_and_opens_returns(app: TestApp) {
        let a = customer(&app, "Delta").await;
        let r = app.request(Method::POST, &format!("/v1/portal/quotes/{}/accept", a.quote), Some(&a.token), None, &[]).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["status"], "accepted");
        assert_eq!(app.request(Method::POST, &format!("/v1/portal/quotes/{}/reject", a.quote), Some(&a.token), Some(json!({"reason": "changed my mind"})), &[]).await.status, 409);
        let r = app.request(Method::POST, "/v1/portal/returns", Some(&a.token), Some(json!({"order_id": a.order["id"], "lines": [{"order_line_id": a.order["lines"][0]["id"], "quantity": "2", "reason": "wrong_item"}], "customer_comment": "Wrong colour"})), &[]).await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.body["status"], "requested");
        let r = app.request(Method::POST, "/v1/portal/returns", Some(&a.token), Some(json!({"order_id": a.order["id"], "lines": [{"order_line_id": a.order["lines"][0]["id"], "quantity": "1", "reason": "wrong_item"}]})), &[]).await;
        assert_eq!(r.status, 422, "3 sold, 3 already returned");
        assert_eq!(app.get(&format!("/v1/returns?company_id={}", a.company)).await.body["data"].as_array().unwrap().len(), 2, "staff see it");
    }

    async fn fiscal_data_changes_apply_to_future_invoices_only(app: TestApp) {
        let a = customer(&app, "Epsilon").await;
        let r = app.request(Method::PATCH, "/v1/portal/fiscal-data", Some(&a.token), Some(json!({"tax_id": "ESB22222222", "billing_address": {"line1": "Calle Nueva 5"}})), &[]).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["tax_id"], "ESB22222222");
        let admin = app.admin_token.clone();
        let fresh = app.create("/v1/invoices", json!({"company_id": a.company, "currency": "EUR", "lines": [{"description": "Support", "quantity": "1", "unit_price": eur(5000), "tax_rate_bp": 2100}]})).await;
        let issued = app.request(Method::POST, &format!("/v1/invoices/{}/issue", fresh["id"].as_str().unwrap()), Some(&admin), None, &[]).await;
        assert_eq!(issued.body["recipient"]["tax_id"], "ESB22222222", "new invoices use the new data");
        assert_eq!(issued.body["recipient"]["address"]["line1"], "Calle Nueva 5");
        let old = app.get_as(&a.token, &format!("/v1/portal/invoices/{}", a.invoice)).await;
        assert_eq!(old.body["recipient"]["tax_id"], "ESB12345678", "issued invoices keep their snapshot");
        assert_eq!(app.request(Method::PATCH, "/v1/portal/fiscal-data", Some(&a.token), Some(json!({"name": "Renamed"})), &[]).await.status, 422);
    }
}
