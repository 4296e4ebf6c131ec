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
