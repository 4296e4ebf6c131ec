use crm_domain::access::roles::Role;
use crm_tests::on_both_backends;
use reqwest::Method;
use serde_json::json;

on_both_backends! {
    async fn admins_manage_users(app: TestApp) {
        let r = app.post("/v1/users", json!({"email": "New.User@Example.com", "password": "a very long password", "role": "sales"})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.body["email"], "new.user@example.com");
        assert!(r.body.get("password").is_none() && !r.text.contains("argon2"), "no password or hash in responses");
        let dup = app.post("/v1/users", json!({"email": "new.user@example.com", "password": "a very long password", "role": "sales"})).await;
        assert_eq!(dup.status, 409);
        assert_eq!(dup.body["existing_id"], r.body["id"]);
        let r = app.post("/v1/users", json!({"email": "c@example.com", "password": "a very long password", "role": "customer"})).await;
        assert_eq!(r.status, 422, "a customer needs a company");
        assert_eq!(r.body["errors"][0]["field"], "company_id");
        let r = app.post("/v1/users", json!({"email": "short@example.com", "password": "short", "role": "sales"})).await;
        assert_eq!(r.status, 422);
        let sales = app.token_for(Role::Sales, None).await;
        assert_eq!(app.request(Method::GET, "/v1/users", Some(&sales), None, &[]).await.status, 403);
        assert_eq!(app.get("/v1/users").await.body["data"].as_array().unwrap().len(), 3);
    }

    async fn api_keys_are_scoped_revocable_and_shown_once(app: TestApp) {
        let r = app.post("/v1/api-keys", json!({"name": "Shop sync", "scopes": ["contacts:read"]})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let key = r.body["key"].as_str().unwrap().to_owned();
        assert!(key.starts_with("crm_"));
        let id = r.body["id"].as_str().unwrap().to_owned();
        let record = app.get(&format!("/v1/api-keys/{id}")).await;
        assert!(record.body.get("key").is_none(), "the key is never shown again");
        assert!(!record.text.contains(&key[4..]));

        let read = app.request(Method::GET, "/v1/contacts", Some(&key), None, &[]).await;
        assert_eq!(read.status, 200);
        let write = app.request(Method::POST, "/v1/contacts", Some(&key), Some(json!({"last_name": "Nope"})), &[]).await;
        assert_eq!(write.status, 403, "contacts:read does not allow writing");
        assert!(write.body["detail"].as_str().unwrap().contains("contacts:write"));
        assert_eq!(app.request(Method::GET, "/v1/companies", Some(&key), None, &[]).await.status, 403);
        assert_eq!(app.request(Method::GET, "/v1/users", Some(&key), None, &[]).await.status, 403);
        assert!(app.get(&format!("/v1/api-keys/{id}")).await.body["last_used_at"].is_string());

        assert_eq!(app.delete(&format!("/v1/api-keys/{id}")).await.status, 204);
        assert_eq!(app.request(Method::GET, "/v1/contacts", Some(&key), None, &[]).await.status, 401, "revoked");

        let r = app.post("/v1/api-keys", json!({"name": "Bad", "scopes": ["users:write", "contacts:read"]})).await;
        assert_eq!(r.status, 422);
        assert_eq!(r.body["errors"][0]["field"], "scopes[0]");
    }

    async fn an_api_key_writes_with_a_write_scope(app: TestApp) {
        let r = app.post("/v1/api-keys", json!({"name": "Importer", "scopes": ["contacts:write"]})).await;
        let key = r.body["key"].as_str().unwrap().to_owned();
        let r = app.request(Method::POST, "/v1/contacts", Some(&key), Some(json!({"last_name": "Imported"})), &[("Idempotency-Key", "import-1")]).await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.body["owner_id"], serde_json::Value::Null, "keys are not users");
        let again = app.request(Method::POST, "/v1/contacts", Some(&key), Some(json!({"last_name": "Imported"})), &[("Idempotency-Key", "import-1")]).await;
        assert_eq!(again.body["id"], r.body["id"]);
    }
}

on_both_backends! {
    async fn an_admin_keeps_its_own_standing_and_the_last_admin_stays(app: TestApp) {
        let (me, my_token, _) = app.login_new_user(Role::Admin, None).await;
        let mine = format!("/v1/users/{me}");
        for change in [json!({"active": false}), json!({"role": "manager"})] {
            let r = app.request(Method::PATCH, &mine, Some(&my_token), Some(change.clone()), &[]).await;
            assert_eq!(r.status, 409, "{change}: {}", r.text);
        }
        let r = app.request(Method::DELETE, &mine, Some(&my_token), None, &[]).await;
        assert_eq!(r.status, 409, "{}", r.text);
        assert_eq!(app.request(Method::PATCH, &mine, Some(&my_token), Some(json!({"email": "me@example.com"})), &[]).await.status, 200, "other changes to oneself are fine");

        // Two admins who remove each other at once: one wins, and the other is refused as the
        // last active admin, on PostgreSQL as well, where the two run in parallel.
        let (other, other_token, _) = app.login_new_user(Role::Admin, None).await;
        let harness_admin: Vec<String> = app.get("/v1/users").await.body["data"].as_array().unwrap().iter()
            .filter(|u| u["role"] == "admin" && u["id"] != me.as_str() && u["id"] != other.as_str())
            .map(|u| u["id"].as_str().unwrap().to_owned()).collect();
        assert_eq!(app.delete(&format!("/v1/users/{}", harness_admin[0])).await.status, 409, "the harness admin cannot remove itself");
        assert_eq!(app.request(Method::DELETE, &format!("/v1/users/{}", harness_admin[0]), Some(&my_token), None, &[]).await.status, 204);
        let theirs = format!("/v1/users/{other}");
        let (a, b) = futures_util::future::join(
            app.request(Method::PATCH, &theirs, Some(&my_token), Some(json!({"active": false})), &[]),
            app.request(Method::PATCH, &mine, Some(&other_token), Some(json!({"active": false})), &[]),
        ).await;
        let (won, lost) = if a.status == 200 { (&a, &b) } else { (&b, &a) };
        assert_eq!(won.status, 200, "{}", won.text);
        // The loser is refused as the last admin, or, when the winner committed before it was
        // authenticated, as a user who is no longer active.
        match lost.status.as_u16() {
            409 => assert!(lost.body["detail"].as_str().unwrap().contains("last active admin"), "{}", lost.text),
            401 => {}
            other => panic!("{other}: {}", lost.text),
        }
        let active_admins = app.request(Method::GET, "/v1/users", Some(if a.status == 200 { &my_token } else { &other_token }), None, &[]).await
            .body["data"].as_array().unwrap().iter().filter(|u| u["role"] == "admin" && u["active"] == true).count();
        assert_eq!(active_admins, 1);
    }
}
