use crm_domain::access::roles::Role;
use crm_tests::{on_both_backends, TestApp, TEST_BODY_LIMIT};
use reqwest::Method;
use serde_json::json;

on_both_backends! {
    async fn bad_email_gets_422_with_field_errors(app: TestApp) {
        let r = app.post("/v1/contacts", json!({"last_name": "Ruiz", "email": "not-an-email", "phone": "12"})).await;
        assert_eq!(r.status, 422);
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        let fields: Vec<&str> = r.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert!(fields.contains(&"email"), "{fields:?}");
        assert!(fields.contains(&"phone"), "{fields:?}");
        assert_eq!(app.get("/v1/contacts").await.body["data"].as_array().unwrap().len(), 0, "nothing written");
    }

    async fn malformed_json_gets_400(app: TestApp) {
        let r = app.client.post(app.url("/v1/contacts")).bearer_auth(&app.admin_token)
            .header("content-type", "application/json").body("{\"last_name\": ").send().await.unwrap();
        let r = TestApp::read(r).await;
        assert_eq!(r.status, 400);
        assert_eq!(r.body["code"], "malformed_request");
    }

    async fn unknown_and_read_only_fields_get_422_naming_them(app: TestApp) {
        for field in ["id", "version", "created_at", "tier", "favourite_colour"] {
            let r = app.post("/v1/companies", json!({"name": "Acme", field: "x"})).await;
            assert_eq!(r.status, 422, "{field}");
            assert_eq!(r.body["errors"][0]["field"], field);
        }
    }

    async fn wrong_content_type_gets_415(app: TestApp) {
        let r = app.client.post(app.url("/v1/contacts")).bearer_auth(&app.admin_token)
            .header("content-type", "text/plain").body("{}").send().await.unwrap();
        assert_eq!(r.status(), 415);
    }

    async fn oversized_body_gets_413(app: TestApp) {
        let big = "x".repeat(TEST_BODY_LIMIT + 10);
        let r = app.post("/v1/contacts", json!({"last_name": big})).await;
        assert_eq!(r.status, 413);
        assert_eq!(r.body["code"], "payload_too_large");
        let r = app.request(Method::POST, "/v1/contacts", Some(&app.admin_token.clone()), Some(json!({"last_name": "x".repeat(TEST_BODY_LIMIT + 10)})), &[("Idempotency-Key", "big")]).await;
        assert_eq!(r.status, 413, "also when the idempotency layer reads the body");
    }

    async fn stale_if_match_gets_412(app: TestApp) {
        let r = app.post("/v1/contacts", json!({"last_name": "Vega"})).await;
        let id = r.body["id"].as_str().unwrap().to_owned();
        let etag = r.header("etag").unwrap().to_owned();
        assert_eq!(etag, "\"1\"");
        let path = format!("/v1/contacts/{id}");
        let token = app.admin_token.clone();
        let first = app.request(Method::PATCH, &path, Some(&token), Some(json!({"title": "CEO"})), &[("If-Match", &etag)]).await;
        assert_eq!(first.status, 200);
        assert_eq!(first.header("etag"), Some("\"2\""));
        let stale = app.request(Method::PATCH, &path, Some(&token), Some(json!({"title": "CFO"})), &[("If-Match", &etag)]).await;
        assert_eq!(stale.status, 412);
        assert_eq!(stale.body["current_version"], 2);
        let delete = app.request(Method::DELETE, &path, Some(&token), None, &[("If-Match", &etag)]).await;
        assert_eq!(delete.status, 412);
        assert_eq!(app.get(&path).await.body["title"], "CEO", "the stale write changed nothing");
        assert_eq!(app.get(&path).await.header("etag"), Some("\"2\""));
    }

    async fn idempotency_key_replays_and_refuses_another_body(app: TestApp) {
        let token = app.admin_token.clone();
        let body = json!({"last_name": "Once", "email": "once@example.com"});
        let first = app.request(Method::POST, "/v1/contacts", Some(&token), Some(body.clone()), &[("Idempotency-Key", "abc-1")]).await;
        assert_eq!(first.status, 201);
        let retry = app.request(Method::POST, "/v1/contacts", Some(&token), Some(body.clone()), &[("Idempotency-Key", "abc-1")]).await;
        assert_eq!(retry.status, 201);
        assert_eq!(retry.text, first.text, "the same body is replayed");
        assert_eq!(retry.header("location"), first.header("location"));
        assert_eq!(retry.header("idempotent-replayed"), Some("true"));
        let list = app.get("/v1/contacts?email=once@example.com").await;
        assert_eq!(list.body["data"].as_array().unwrap().len(), 1, "exactly one contact");

        let other = app.request(Method::POST, "/v1/contacts", Some(&token), Some(json!({"last_name": "Twice"})), &[("Idempotency-Key", "abc-1")]).await;
        assert_eq!(other.status, 422);
        assert_eq!(other.body["code"], "idempotency_key_reused");

        let other_user = app.token_for(Role::Sales, None).await;
        let theirs = app.request(Method::POST, "/v1/contacts", Some(&other_user), Some(json!({"last_name": "Theirs"})), &[("Idempotency-Key", "abc-1")]).await;
        assert_eq!(theirs.status, 201, "keys are per principal");
    }

    async fn every_response_has_a_request_id_and_security_headers(app: TestApp) {
        for r in [
            app.get("/v1/contacts").await,
            app.request(Method::GET, "/v1/contacts", None, None, &[]).await,
            app.get("/v1/contacts/nope").await,
            app.get("/healthz").await,
            app.get("/no/such/route").await,
        ] {
            assert!(r.header("x-request-id").is_some_and(|v| !v.is_empty()), "{}", r.status);
            assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
            assert!(r.header("server").is_none());
        }
        let r = app.request(Method::GET, "/healthz", None, None, &[("X-Request-Id", "trace-123")]).await;
        assert_eq!(r.header("x-request-id"), Some("trace-123"));
    }

    async fn metrics_count_the_requests_made(app: TestApp) {
        for _ in 0..3 {
            app.get("/v1/contacts").await;
        }
        app.get("/v1/contacts/0000dead-0000-7000-8000-000000000000").await;
        let text = app.get("/metrics").await.text;
        let line = text.lines().find(|l| l.starts_with("crm_http_requests_total") && l.contains("route=\"/v1/contacts\"") && l.contains("status=\"200\"")).unwrap();
        assert!(line.ends_with(" 3"), "{line}");
        assert!(text.contains("route=\"/v1/contacts/{id}\""), "routes are patterns, not raw paths");
        assert!(text.contains("crm_http_request_duration_seconds_bucket"));
        assert!(text.contains("crm_db_pool_connections"));
    }

    async fn health_and_readiness(app: TestApp) {
        assert_eq!(app.get("/healthz").await.status, 200);
        let r = app.get("/readyz").await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body["status"], "ok");
    }

    async fn docs_are_served_offline(app: TestApp) {
        let r = app.get("/docs/").await;
        assert_eq!(r.status, 200);
        assert!(r.text.contains("swagger"), "{}", &r.text[..200.min(r.text.len())]);
        let asset = app.get("/docs/swagger-ui-bundle.js").await;
        assert_eq!(asset.status, 200, "assets are vendored");
        let spec = app.get("/openapi.json").await;
        assert_eq!(spec.body["openapi"], "3.1.0");
    }

    async fn cors_allows_only_configured_origins(app: TestApp) {
        let allowed = app.client.request(Method::OPTIONS, app.url("/v1/contacts"))
            .header("Origin", "https://app.example")
            .header("Access-Control-Request-Method", "GET").send().await.unwrap();
        assert_eq!(allowed.headers().get("access-control-allow-origin").unwrap(), "https://app.example");
        let denied = app.client.request(Method::OPTIONS, app.url("/v1/contacts"))
            .header("Origin", "https://evil.example")
            .header("Access-Control-Request-Method", "GET").send().await.unwrap();
        assert!(denied.headers().get("access-control-allow-origin").is_none());
    }

    async fn limit_is_capped_and_bad_paging_is_422(app: TestApp) {
        assert_eq!(app.get("/v1/contacts?limit=100000").await.status, 200);
        assert_eq!(app.get("/v1/contacts?limit=0").await.status, 422);
        assert_eq!(app.get("/v1/contacts?limit=abc").await.body["errors"][0]["field"], "limit");
        assert_eq!(app.get("/v1/contacts?cursor=bogus").await.status, 422);
        assert_eq!(app.get("/v1/contacts?sort=password").await.status, 422);
    }

    async fn hostile_input_is_refused_or_stored_faithfully(app: TestApp) {
        let odd = "Robert'); DROP TABLE contacts;-- 🚀 ñ";
        let c = app.create("/v1/contacts", json!({"last_name": odd, "tags": ["a_b", "50%"]})).await;
        assert_eq!(app.get(&format!("/v1/contacts/{}", c["id"].as_str().unwrap())).await.body["last_name"], odd);
        let r = app.get(&format!("/v1/contacts?q={}", "%27%20OR%201%3D1--")).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body["data"].as_array().unwrap().len(), 0);
        assert_eq!(app.get("/v1/contacts?tag=50%25").await.body["data"].as_array().unwrap().len(), 1);
        assert_eq!(app.get("/v1/contacts?tag=a%25").await.body["data"].as_array().unwrap().len(), 0, "wildcards in tags are literal");
        let r = app.post("/v1/contacts", json!({"last_name": "nul\u{0}byte"})).await;
        assert_eq!(r.status, 422);
        let r = app.post("/v1/interactions", json!({"kind": "call", "company_id": "x", "occurred_at": "+20000-01-01T00:00:00Z"})).await;
        assert!(r.status.is_client_error(), "{}", r.status);
        let nested = format!("{}{}", "[".repeat(500), "]".repeat(500));
        let raw = app.client.post(app.url("/v1/contacts")).bearer_auth(&app.admin_token).header("content-type", "application/json").body(nested).send().await.unwrap();
        assert!(raw.status().is_client_error());
        let raw = app.client.post(app.url("/v1/contacts")).bearer_auth(&app.admin_token).header("content-type", "application/json").body(vec![b'{', 0xff, 0xfe, b'}']).send().await.unwrap();
        assert_eq!(raw.status(), 400);
        assert_eq!(app.get("/readyz").await.status, 200, "the database is intact");
    }
}

#[actix_rt::test]
async fn readiness_is_503_while_the_database_is_unreachable() {
    let data_dir =
        std::env::temp_dir().join(format!("crm-test-down-{}", uuid::Uuid::now_v7().simple()));
    let config = crm::config::Config {
        bind: "127.0.0.1:0".into(),
        database_url: "postgres://postgres@127.0.0.1:1/unreachable".into(),
        jwt_secret: Some(secrecy::SecretString::from(
            "a-secret-long-enough-for-the-check-0123",
        )),
        migrate_on_start: false,
        workers: 1,
        data_dir,
        ..crm::config::Config::default()
    };
    let app = crm::app::Application::build(&config).unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    actix_rt::spawn(app.into_server());
    let client = reqwest::Client::new();
    let health = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200, "the process is alive");
    let ready = client.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    assert_eq!(
        ready.headers().get("content-type").unwrap(),
        "application/problem+json"
    );
    let body = ready.text().await.unwrap();
    assert!(
        !body.contains("127.0.0.1:1"),
        "no connection details leak: {body}"
    );
}

on_both_backends! {
    async fn routing_errors_are_problems(app: TestApp) {
        let token = app.admin_token.clone();
        let unknown = app.get("/v1/no-such-thing").await;
        assert_eq!(unknown.status, 404);
        assert_eq!(unknown.header("content-type"), Some("application/problem+json"));
        assert_eq!(unknown.body["code"], "not_found");

        let bad_date = app.request(Method::DELETE, "/v1/exchange-rates/USD/not-a-date", Some(&token), None, &[]).await;
        assert_eq!(bad_date.status, 404, "a path segment that does not parse names nothing");
        assert_eq!(bad_date.header("content-type"), Some("application/problem+json"));

        let wrong = app.request(Method::PUT, "/v1/contacts", Some(&token), Some(json!({})), &[]).await;
        assert_eq!(wrong.status, 405);
        assert_eq!(wrong.header("allow"), Some("GET, POST"));
        assert_eq!(wrong.header("content-type"), Some("application/problem+json"));
        assert_eq!(wrong.body["code"], "method_not_allowed");
        let wrong = app.request(Method::POST, "/v1/contacts/0190aaaa-0000-7000-8000-000000000000", Some(&token), None, &[]).await;
        assert_eq!(wrong.status, 405);
        assert_eq!(wrong.header("allow"), Some("GET, PATCH, DELETE"));

        let filter = app.get("/v1/contacts?company_id=not-a-uuid").await;
        assert_eq!(filter.status, 422, "a filter by a malformed id names it");
        assert_eq!(filter.body["errors"][0]["field"], "company_id");

        let docs = app.client.get(app.url("/docs")).send().await.unwrap();
        assert!(docs.status().is_success(), "{} after redirects", docs.status());
        assert!(docs.url().path().starts_with("/docs/"), "redirected to {}", docs.url());
    }
}

on_both_backends! {
    async fn an_array_where_an_object_belongs_is_refused_at_any_depth(app: TestApp) {
        assert_eq!(app.patch("/v1/settings/company", json!({"legal_name": "Ours SL", "tax_id": "ESB00000000"})).await.status, 200);
        let r = app.patch("/v1/settings/company", json!([null, null])).await;
        assert_eq!(r.status, 422, "{}", r.text);
        let r = app.post("/v1/products", json!({"sku": "A-1", "name": "Widget", "unit_price": [1000, "EUR"]})).await;
        assert_eq!(r.status, 422, "{}", r.text);
        assert_eq!(r.body["errors"][0]["field"], "unit_price");
        let company = app.create("/v1/companies", json!({"name": "Acme"})).await;
        let r = app.post("/v1/quotes", json!({"company_id": company["id"], "currency": "EUR", "lines": [{"description": "x", "quantity": "1", "unit_price": [500, "EUR"]}]})).await;
        assert_eq!(r.status, 422, "{}", r.text);
        assert_eq!(r.body["errors"][0]["field"], "lines[0].unit_price");
        assert_eq!(app.get("/v1/products").await.body["data"].as_array().unwrap().len(), 0, "nothing written");
        assert_eq!(app.get("/v1/settings/company").await.body["legal_name"], "Ours SL", "the array cleared nothing");
    }
}

on_both_backends! {
    async fn a_stored_value_the_code_does_not_know_is_a_loud_internal_error(app: TestApp) {
        let lead = app.create("/v1/leads", json!({"last_name": "Ruiz", "email": "ruiz@example.com"})).await;
        let pool = app.pool.clone();
        actix_web::web::block(move || {
            use diesel::RunQueryDsl;
            diesel::sql_query("UPDATE leads SET status = 'zombie'").execute(&mut pool.get().unwrap()).unwrap()
        }).await.unwrap();
        let r = app.get(&format!("/v1/leads/{}", lead["id"].as_str().unwrap())).await;
        assert_eq!(r.status, 500, "not read as a default status: {}", r.text);
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        assert!(!r.text.contains("zombie"), "the detail stays in the server's log");
    }
}

on_both_backends! {
    async fn exchange_rates_page_newest_first_without_gaps(app: TestApp) {
        let days = ["2026-01-05", "2026-01-04", "2026-01-03", "2026-01-02", "2026-01-01"];
        for (currency, day) in [("USD", days[0]), ("GBP", days[0]), ("USD", days[1]), ("USD", days[2]), ("USD", days[3]), ("USD", days[4])] {
            let r = app.request(Method::PUT, &format!("/v1/exchange-rates/{currency}/{day}"), Some(&app.admin_token.clone()), Some(json!({"rate": "0.9"})), &[]).await;
            assert_eq!(r.status, 201, "{}", r.text);
        }
        let mut seen = Vec::new();
        let mut path = "/v1/exchange-rates?limit=2".to_owned();
        loop {
            let page = app.get(&path).await;
            assert_eq!(page.status, 200, "{}", page.text);
            for rate in page.body["data"].as_array().unwrap() {
                seen.push(format!("{} {}", rate["rate_date"].as_str().unwrap(), rate["currency"].as_str().unwrap()));
            }
            match page.body["next_cursor"].as_str() {
                Some(cursor) => path = format!("/v1/exchange-rates?limit=2&cursor={cursor}"),
                None => break,
            }
        }
        let dates: Vec<&str> = seen.iter().map(|s| &s[..10]).collect();
        assert_eq!(dates, [days[0], days[0], days[1], days[2], days[3], days[4]], "newest first: {seen:?}");
        let mut rates = seen.clone();
        rates.sort();
        let mut inserted: Vec<String> = [("USD", days[0]), ("GBP", days[0]), ("USD", days[1]), ("USD", days[2]), ("USD", days[3]), ("USD", days[4])]
            .iter().map(|(currency, day)| format!("{day} {currency}")).collect();
        inserted.sort();
        assert_eq!(rates, inserted, "every rate exactly once");
    }
}
