use crm_tests::on_both_backends;
use serde_json::{json, Value};

on_both_backends! {
    async fn company_crud_and_filters(app: TestApp) {
        let acme = app.create("/v1/companies", json!({
            "name": "Acme Iberia", "tax_id": "ESB123", "website": "acme.example",
            "billing_address": {"city": "Madrid", "country": "es"}, "tags": ["wholesale"], "phone": "912 345 678"
        })).await;
        assert_eq!(acme["billing_address"]["country"], "ES");
        assert_eq!(acme["website"], "https://acme.example");
        assert_eq!(acme["phone"], "+34912345678");
        assert_eq!(acme["tier"], Value::Null);
        app.create("/v1/companies", json!({"name": "Globex", "billing_address": {"country": "FR"}})).await;
        let count = async |q: &str| app.get(&format!("/v1/companies?{q}")).await.body["data"].as_array().unwrap().len();
        assert_eq!(count("q=acme").await, 1);
        assert_eq!(count("tax_id=ESB123").await, 1);
        assert_eq!(count("country=fr").await, 1);
        assert_eq!(count("tag=wholesale").await, 1);
        assert_eq!(count("tier=A").await, 0);
        assert_eq!(count("sort=name").await, 2);
        assert_eq!(app.get("/v1/companies?country=XX").await.status, 422);

        let path = format!("/v1/companies/{}", acme["id"].as_str().unwrap());
        let r = app.patch(&path, json!({"billing_address": {"postal_code": "28013"}, "industry": "Retail"})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["billing_address"], json!({"line1": null, "line2": null, "city": "Madrid", "region": null, "postal_code": "28013", "country": "ES"}));
        assert_eq!(r.body["version"], 2);
        assert_eq!(app.patch(&path, json!({"tier": "A"})).await.status, 422, "tier is computed, not written");
        assert_eq!(app.patch(&path, json!({"billing_address": {"country": "Spain"}})).await.status, 422);

        assert_eq!(app.delete(&path).await.status, 204);
        assert_eq!(count("").await, 1);
        assert_eq!(count("include_archived=true").await, 2);
        assert_eq!(app.get("/v1/companies/unknown").await.status, 404);
    }

    async fn company_validation_lists_every_problem(app: TestApp) {
        let r = app.post("/v1/companies", json!({"name": " ", "email": "nope", "website": "not a url", "billing_address": {"country": "ZZ"}})).await;
        assert_eq!(r.status, 422);
        let fields: Vec<&str> = r.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        for f in ["name", "email", "website", "billing_address.country"] {
            assert!(fields.contains(&f), "{f} in {fields:?}");
        }
    }
}
