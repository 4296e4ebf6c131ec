//! Rate limits: every `/v1` response tells its caller where it stands in its budget for the
//! minute, and a caller over its budget gets `429` without its request running, while other
//! callers go on.

use crm_tests::{on_both_backends, Backend, Response, TestApp};
use reqwest::Method;
use serde_json::json;

/// A `RateLimit-*` or `Retry-After` header as a number.
fn number(r: &Response, name: &str) -> u64 {
    r.header(name)
        .unwrap_or_else(|| panic!("{name} on a {} answer", r.status))
        .parse()
        .unwrap_or_else(|_| panic!("{name} is a number"))
}

const HEADERS: [&str; 3] = ["ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"];

on_both_backends! {
    async fn with_rate_limits_off_no_rate_limit_headers_are_sent(app: TestApp) {
        // The harness starts servers with CRM_RATE_LIMIT_PER_MINUTE=0.
        for r in [
            app.get("/v1/contacts").await,
            app.request(Method::GET, "/v1/contacts", None, None, &[]).await,
        ] {
            for name in HEADERS {
                assert!(r.header(name).is_none(), "{name} on a {}", r.status);
            }
        }
        let key = app.post("/v1/api-keys", json!({"name": "Tiny", "scopes": ["contacts:read"], "rate_limit_per_minute": 1})).await;
        assert_eq!(key.status, 201, "{}", key.text);
        let key = key.body["key"].as_str().unwrap().to_owned();
        for _ in 0..3 {
            let r = app.request(Method::GET, "/v1/contacts", Some(&key), None, &[]).await;
            assert_eq!(r.status, 200, "off means off, for keys with a budget of their own too");
        }
    }
}

/// With a budget of 50 a minute for every caller.
async fn announce_where_callers_stand(backend: Backend) {
    let app = TestApp::spawn_with_rate_limit(backend, 50).await;
    let first = app.get("/v1/contacts").await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(number(&first, "ratelimit-limit"), 50);
    assert_eq!(number(&first, "ratelimit-remaining"), 49);
    assert!((1..=60).contains(&number(&first, "ratelimit-reset")));
    let second = app.get("/v1/api-keys/no-such-key").await;
    assert_eq!(second.status, 404, "errors count too");
    assert_eq!(number(&second, "ratelimit-remaining"), 48);
    assert!(number(&second, "ratelimit-reset") <= number(&first, "ratelimit-reset"));

    let anonymous = app
        .request(Method::GET, "/v1/contacts", None, None, &[])
        .await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(
        number(&anonymous, "ratelimit-limit"),
        50,
        "counted by address"
    );

    let health = app.get("/healthz").await;
    assert!(
        health.header("ratelimit-limit").is_none(),
        "only /v1 is limited"
    );

    let cors = app
        .request(
            Method::GET,
            "/v1/contacts",
            Some(&app.admin_token),
            None,
            &[("Origin", "https://app.example")],
        )
        .await;
    let exposed = cors
        .header("access-control-expose-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    for name in HEADERS.iter().chain(&["retry-after"]) {
        assert!(exposed.contains(name), "{name} is exposed: {exposed}");
    }
}

mod every_v1_answer_says_where_its_caller_stands {
    use super::*;

    #[actix_rt::test]
    async fn sqlite() {
        announce_where_callers_stand(Backend::Sqlite).await;
    }

    #[actix_rt::test]
    #[cfg_attr(
        not(crm_test_postgres),
        ignore = "skipped: CRM_TEST_POSTGRES_URL was not set when the tests were built"
    )]
    async fn postgres() {
        announce_where_callers_stand(Backend::Postgres).await;
    }
}

/// A key with a budget of 3 a minute, on a server whose budget is 50.
async fn refuse_a_key_over_its_budget(backend: Backend) {
    let app = TestApp::spawn_with_rate_limit(backend, 50).await;
    let refused = app
        .post(
            "/v1/api-keys",
            json!({"name": "Zero", "scopes": ["contacts:read"], "rate_limit_per_minute": 0}),
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert_eq!(refused.body["errors"][0]["field"], "rate_limit_per_minute");

    let created = app
        .post(
            "/v1/api-keys",
            json!({"name": "Sync", "scopes": ["contacts:write"], "rate_limit_per_minute": 3}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["rate_limit_per_minute"], 3);
    let key = created.body["key"].as_str().unwrap().to_owned();
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.get(&format!("/v1/api-keys/{id}")).await.body["rate_limit_per_minute"],
        3
    );

    for remaining in [2, 1, 0] {
        let r = app
            .request(Method::GET, "/v1/contacts", Some(&key), None, &[])
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(number(&r, "ratelimit-limit"), 3, "the key's own budget");
        assert_eq!(number(&r, "ratelimit-remaining"), remaining);
    }
    let over = app
        .request(
            Method::POST,
            "/v1/contacts",
            Some(&key),
            Some(json!({"last_name": "Too many"})),
            &[],
        )
        .await;
    assert_eq!(over.status, 429, "{}", over.text);
    assert_eq!(
        over.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(over.body["code"], "too_many_requests");
    assert!((1..=60).contains(&number(&over, "retry-after")));
    assert_eq!(number(&over, "ratelimit-limit"), 3);
    assert_eq!(number(&over, "ratelimit-remaining"), 0);
    assert_eq!(
        number(&over, "ratelimit-reset"),
        number(&over, "retry-after")
    );

    let contacts = app.get("/v1/contacts").await;
    assert_eq!(contacts.status, 200, "the admin goes on");
    assert_eq!(
        contacts.body["data"].as_array().unwrap().len(),
        0,
        "the refused request did nothing"
    );

    let other = app
        .post(
            "/v1/api-keys",
            json!({"name": "Other", "scopes": ["contacts:read"]}),
        )
        .await;
    assert_eq!(other.body["rate_limit_per_minute"], serde_json::Value::Null);
    let other = other.body["key"].as_str().unwrap().to_owned();
    let r = app
        .request(Method::GET, "/v1/contacts", Some(&other), None, &[])
        .await;
    assert_eq!(r.status, 200, "another key has its own window");
    assert_eq!(number(&r, "ratelimit-limit"), 50, "the server's budget");
    assert_eq!(number(&r, "ratelimit-remaining"), 49);
}

mod a_key_over_its_budget_is_refused_and_others_go_on {
    use super::*;

    #[actix_rt::test]
    async fn sqlite() {
        refuse_a_key_over_its_budget(Backend::Sqlite).await;
    }

    #[actix_rt::test]
    #[cfg_attr(
        not(crm_test_postgres),
        ignore = "skipped: CRM_TEST_POSTGRES_URL was not set when the tests were built"
    )]
    async fn postgres() {
        refuse_a_key_over_its_budget(Backend::Postgres).await;
    }
}
