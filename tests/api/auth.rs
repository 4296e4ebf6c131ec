use crm_domain::access::roles::Role;
use crm_tests::{on_both_backends, TestApp};
use jsonwebtoken::{Algorithm, Header};
use reqwest::Method;
use serde_json::json;

fn claims(sub: &str, role: &str, offset_iat: i64, offset_exp: i64) -> serde_json::Value {
    let now = chrono::Utc::now().timestamp();
    json!({"sub": sub, "role": role, "iat": now + offset_iat, "nbf": now + offset_iat, "exp": now + offset_exp})
}

async fn status_with(app: &TestApp, token: &str) -> u16 {
    app.request(Method::GET, "/v1/contacts", Some(token), None, &[])
        .await
        .status
        .as_u16()
}

on_both_backends! {
    async fn requests_without_a_token_get_401(app: TestApp) {
        let r = app.request(Method::GET, "/v1/contacts", None, None, &[]).await;
        assert_eq!(r.status, 401);
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
        assert_eq!(r.body["status"], 401);
    }

    async fn forged_and_stale_tokens_get_401(app: TestApp) {
        let (user_id, _, _) = app.login_new_user(Role::Sales, None).await;
        let good = app.forge_token(Header::new(Algorithm::HS256), &claims(&user_id, "sales", 0, 600), &app.jwt_secret);
        assert_eq!(status_with(&app, &good).await, 200, "a well-formed token works");

        let wrong_secret = app.forge_token(Header::new(Algorithm::HS256), &claims(&user_id, "sales", 0, 600), "another-secret-entirely-0123456789");
        assert_eq!(status_with(&app, &wrong_secret).await, 401, "bad signature");

        let expired = app.forge_token(Header::new(Algorithm::HS256), &claims(&user_id, "sales", -7200, -3600), &app.jwt_secret);
        assert_eq!(status_with(&app, &expired).await, 401, "expired");

        let not_yet = app.forge_token(Header::new(Algorithm::HS256), &claims(&user_id, "sales", 3600, 7200), &app.jwt_secret);
        assert_eq!(status_with(&app, &not_yet).await, 401, "not yet valid");

        let hs512 = app.forge_token(Header::new(Algorithm::HS512), &claims(&user_id, "sales", 0, 600), &app.jwt_secret);
        assert_eq!(status_with(&app, &hs512).await, 401, "another algorithm");

        let wrong_role = app.forge_token(Header::new(Algorithm::HS256), &claims(&user_id, "admin", 0, 600), &app.jwt_secret);
        assert_eq!(status_with(&app, &wrong_role).await, 401, "a role the user does not have");

        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine;
        let alg_none = format!(
            "{}.{}.",
            engine.encode(br#"{"alg":"none","typ":"JWT"}"#),
            engine.encode(claims(&user_id, "sales", 0, 600).to_string())
        );
        assert_eq!(status_with(&app, &alg_none).await, 401, "alg none");
        // HS/RS confusion: an RS256 header over an HMAC signature made with the shared secret.
        let rs_header = engine.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let rs_claims = engine.encode(claims(&user_id, "sales", 0, 600).to_string());
        let hs_of_rs = jsonwebtoken::crypto::sign(format!("{rs_header}.{rs_claims}").as_bytes(), &jsonwebtoken::EncodingKey::from_secret(app.jwt_secret.as_bytes()), Algorithm::HS256).unwrap();
        assert_eq!(status_with(&app, &format!("{rs_header}.{rs_claims}.{hs_of_rs}")).await, 401, "RS256 header on an HMAC signature");
        assert_eq!(status_with(&app, "garbage").await, 401, "garbage");
    }

    async fn tokens_of_disabled_users_stop_working(app: TestApp) {
        let (user_id, token, refresh) = app.login_new_user(Role::Sales, None).await;
        assert_eq!(status_with(&app, &token).await, 200);
        let r = app.patch(&format!("/v1/users/{user_id}"), json!({"active": false})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(status_with(&app, &token).await, 401);
        let r = app.request(Method::POST, "/v1/auth/refresh", None, Some(json!({"refresh_token": refresh})), &[]).await;
        assert_eq!(r.status, 401, "refresh of a disabled user");
    }

    async fn refresh_rotates_and_revoked_tokens_fail(app: TestApp) {
        let (_, _, refresh) = app.login_new_user(Role::Support, None).await;
        let r = app.request(Method::POST, "/v1/auth/refresh", None, Some(json!({"refresh_token": refresh})), &[]).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["token_type"], "Bearer");
        let next = r.body["refresh_token"].as_str().unwrap().to_owned();
        assert_ne!(next, refresh);
        assert_eq!(status_with(&app, r.body["access_token"].as_str().unwrap()).await, 200);

        let again = app.request(Method::POST, "/v1/auth/refresh", None, Some(json!({"refresh_token": refresh})), &[]).await;
        assert_eq!(again.status, 401, "a spent refresh token");

        let r = app.request(Method::POST, "/v1/auth/revoke", None, Some(json!({"refresh_token": next})), &[]).await;
        assert_eq!(r.status, 204);
        let r = app.request(Method::POST, "/v1/auth/refresh", None, Some(json!({"refresh_token": next})), &[]).await;
        assert_eq!(r.status, 401, "a revoked refresh token");
    }

    async fn repeated_failed_logins_get_429(app: TestApp) {
        let (user_id, _, _) = app.login_new_user(Role::Sales, None).await;
        let email = app.get(&format!("/v1/users/{user_id}")).await.body["email"].as_str().unwrap().to_owned();
        for _ in 0..5 {
            let r = app.request(Method::POST, "/v1/auth/token", None, Some(json!({"email": email, "password": "wrong password"})), &[]).await;
            assert_eq!(r.status, 401);
            assert!(!r.text.contains("wrong password"));
        }
        let r = app.request(Method::POST, "/v1/auth/token", None, Some(json!({"email": email, "password": "a long test passphrase"})), &[]).await;
        assert_eq!(r.status, 429, "locked even with the right password");
        assert!(r.header("retry-after").unwrap().parse::<u64>().unwrap() > 0);
    }

    async fn parallel_wrong_passwords_never_pass_the_limit(app: TestApp) {
        let (user_id, _, _) = app.login_new_user(Role::Sales, None).await;
        let email = app.get(&format!("/v1/users/{user_id}")).await.body["email"].as_str().unwrap().to_owned();
        let guesses = (0..20).map(|i| app.request(Method::POST, "/v1/auth/token", None, Some(json!({"email": email, "password": format!("wrong guess {i}")})), &[]));
        let statuses: Vec<u16> = futures_util::future::join_all(guesses).await.iter().map(|r| r.status.as_u16()).collect();
        let verified = statuses.iter().filter(|s| **s == 401).count();
        assert!(statuses.iter().all(|s| *s == 401 || *s == 429), "{statuses:?}");
        assert!(verified <= 5, "at most the limit of guesses is checked, however parallel: {statuses:?}");
        let r = app.request(Method::POST, "/v1/auth/token", None, Some(json!({"email": email, "password": "a long test passphrase"})), &[]).await;
        assert_eq!(r.status, 429, "locked after the guesses");
    }

    async fn login_returns_a_bearer_token(app: TestApp) {
        let (_, token, refresh) = app.login_new_user(Role::Manager, None).await;
        assert_eq!(token.split('.').count(), 3);
        assert!(!refresh.is_empty());
        let r = app.request(Method::POST, "/v1/auth/token", None, Some(json!({"email": "nobody@example.com", "password": "x"})), &[]).await;
        assert_eq!(r.status, 401);
    }

    async fn customers_may_not_list_contacts(app: TestApp) {
        let company = app.create("/v1/companies", json!({"name": "Portal Co"})).await;
        let token = app.token_for(Role::Customer, Some(company["id"].as_str().unwrap().to_owned())).await;
        let r = app.request(Method::GET, "/v1/contacts", Some(&token), None, &[]).await;
        assert_eq!(r.status, 403);
        assert_eq!(r.body["code"], "forbidden");
    }

    async fn customers_see_only_their_own_company(app: TestApp) {
        let mine = app.create("/v1/companies", json!({"name": "Mine"})).await;
        let other = app.create("/v1/companies", json!({"name": "Other"})).await;
        let token = app.token_for(Role::Customer, Some(mine["id"].as_str().unwrap().to_owned())).await;
        for company in [&mine, &other] {
            let r = app.request(Method::GET, &format!("/v1/companies/{}", company["id"].as_str().unwrap()), Some(&token), None, &[]).await;
            assert_eq!(r.status, 403, "the staff schema, with tier and owner, is not for customers: {}", r.text);
        }
        let r = app.request(Method::GET, "/v1/companies", Some(&token), None, &[]).await;
        assert_eq!(r.status, 403);
        let r = app.request(Method::GET, "/v1/portal/fiscal-data", Some(&token), None, &[]).await;
        assert_eq!(r.body["name"], "Mine", "its own company, through the portal: {}", r.text);
        let r = app.request(Method::PATCH, &format!("/v1/companies/{}", mine["id"].as_str().unwrap()), Some(&token), Some(json!({"name": "x"})), &[]).await;
        assert_eq!(r.status, 403);
    }
}
