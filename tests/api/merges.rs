//! Duplicates and merges of contacts and companies: who looks like whom, and one record taking
//! another's history.

use crm_domain::access::roles::Role;
use crm_tests::{on_both_backends, Response, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

fn id(record: &Value) -> String {
    record["id"].as_str().unwrap().to_owned()
}

/// A read as the admin that shows a redirect instead of following it.
async fn get_unfollowed(app: &TestApp, path: &str) -> Response {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    TestApp::read(
        client
            .get(app.url(path))
            .bearer_auth(&app.admin_token)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// The pair of `a` and `b` among the candidates, if listed.
fn pair_of(list: &Value, a: &str, b: &str) -> Option<Value> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|pair| {
            let ids: Vec<&str> = pair["ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i.as_str().unwrap())
                .collect();
            ids.contains(&a) && ids.contains(&b)
        })
        .cloned()
}

fn reasons(pair: &Value) -> Vec<&str> {
    pair["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect()
}

on_both_backends! {
    async fn duplicates_pair_a_plus_tag_with_its_address_and_a_shared_phone(app: TestApp) {
        let ana = app.create("/v1/contacts", json!({"first_name": "Ana", "last_name": "García", "email": "ana@example.com"})).await;
        let tagged = app.create("/v1/contacts", json!({"first_name": "Ana", "last_name": "Garcia", "email": "Ana+x@Example.com"})).await;
        let caller = app.create("/v1/contacts", json!({"last_name": "Ruiz", "phone": "600 123 456"})).await;
        let same_phone = app.create("/v1/contacts", json!({"last_name": "Ruiz Soto", "phone": "+34 600 123 456"})).await;
        app.create("/v1/contacts", json!({"last_name": "Alone", "email": "alone@example.com"})).await;

        let r = app.get("/v1/contacts/duplicates").await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["data"].as_array().unwrap().len(), 2, "{}", r.text);
        let by_email = pair_of(&r.body, &id(&ana), &id(&tagged)).expect("Ana+x@Example.com pairs with ana@example.com");
        assert_eq!(reasons(&by_email), ["email"]);
        assert_eq!(by_email["score"], 1.0);
        let mut sorted = vec![id(&ana), id(&tagged)];
        sorted.sort();
        assert_eq!(by_email["ids"], json!(sorted), "the smaller id first");
        let by_phone = pair_of(&r.body, &id(&caller), &id(&same_phone)).expect("the same phone pairs");
        assert_eq!(reasons(&by_phone), ["phone"]);
        assert_eq!(r.body["data"][0]["reasons"][0], "email", "the most alike first");

        let r = app.post("/v1/contacts/duplicates/dismiss", json!({"ids": [id(&same_phone), id(&caller)]})).await;
        assert_eq!(r.status, 204, "{}", r.text);
        let again = app.post("/v1/contacts/duplicates/dismiss", json!({"ids": [id(&caller), id(&same_phone)]})).await;
        assert_eq!(again.status, 204, "dismissing twice changes nothing");
        let after = app.get("/v1/contacts/duplicates").await;
        assert!(pair_of(&after.body, &id(&caller), &id(&same_phone)).is_none(), "a dismissed pair hides");
        assert!(pair_of(&after.body, &id(&ana), &id(&tagged)).is_some());

        let r = app.post("/v1/contacts/duplicates/dismiss", json!({"ids": [id(&caller)]})).await;
        assert_eq!(r.status, 422);
        assert_eq!(r.body["errors"][0]["field"], "ids");
        let r = app.post("/v1/contacts/duplicates/dismiss", json!({"ids": [id(&caller), "0190a1b2-0000-7000-8000-000000000009"]})).await;
        assert_eq!(r.status, 422, "{}", r.text);
        assert_eq!(app.get("/v1/contacts/duplicates?limit=0").await.status, 422);
        assert_eq!(app.get("/v1/contacts/duplicates?limit=1").await.body["data"].as_array().unwrap().len(), 1);
    }

    async fn a_dry_run_changes_nothing_and_the_merge_moves_the_interaction(app: TestApp) {
        let company = app.create("/v1/companies", json!({"name": "Merge Co"})).await;
        let survivor = app.create("/v1/contacts", json!({"first_name": "Ana", "last_name": "García", "email": "ana@example.com",
            "tags": ["vip"], "company_id": company["id"]})).await;
        let merged = app.consenting_contact(json!({"first_name": "Anita", "last_name": "García", "email": "Ana+x@Example.com",
            "phone": "600 123 456", "title": "Buyer", "tags": ["b2b", "vip"]})).await;
        let call = app.create("/v1/interactions", json!({"contact_id": merged["id"], "kind": "call", "direction": "inbound",
            "subject": "Delivery question", "occurred_at": "2026-11-20T10:00:00Z"})).await;
        let (s, m) = (id(&survivor), id(&merged));
        let path = format!("/v1/contacts/{s}/merge");

        let dry = app.post(&path, json!({"from": [m], "dry_run": true})).await;
        assert_eq!(dry.status, 200, "{}", dry.text);
        assert_eq!(dry.body["moved"]["interactions"], 1);
        assert_eq!(dry.body["result"]["phone"], "+34600123456", "the merge as it would be");
        assert_eq!(app.get(&format!("/v1/contacts/{s}")).await.body["version"], 1, "a dry run changes nothing");
        assert!(app.get(&format!("/v1/contacts/{s}")).await.body["phone"].is_null());
        let still = get_unfollowed(&app, &format!("/v1/contacts/{m}")).await;
        assert_eq!(still.status, 200);
        assert!(still.body["merged_into_id"].is_null());
        assert!(still.body["archived_at"].is_null());
        assert_eq!(still.body["version"], merged["version"]);
        let interaction = app.get(&format!("/v1/interactions/{}", id(&call))).await;
        assert_eq!(interaction.body["contact_id"], m.as_str());
        assert_eq!(interaction.body["version"], 1);
        assert_eq!(app.get(&format!("/v1/contacts/{s}/merges")).await.body["data"].as_array().unwrap().len(), 0);
        assert_eq!(app.get("/v1/events?type=contact.merged").await.body["data"].as_array().unwrap().len(), 0);

        let done = app.post(&path, json!({"from": [m]})).await;
        assert_eq!(done.status, 200, "{}", done.text);
        assert_eq!(done.body["moved"], json!({"interactions": 1, "orders": 0, "quotes": 0, "leads": 0,
            "opportunities": 0, "returns": 0, "cases": 0, "consents": 1, "tasks": 0, "campaign_members": 0}));
        let result = &done.body["result"];
        assert_eq!(result["id"], s.as_str());
        assert_eq!(result["first_name"], "Ana", "the survivor's values win");
        assert_eq!(result["email"], "ana@example.com");
        assert_eq!(result["phone"], "+34600123456", "its empty ones fill from the merged contact");
        assert_eq!(result["title"], "Buyer");
        assert_eq!(result["company_id"], company["id"]);
        assert_eq!(result["tags"], json!(["vip", "b2b"]), "tags are unioned");
        assert_eq!(result["marketing_consent"], true, "consent is the person's: the latest email event of either contact");
        assert_eq!(result["version"], 2);
        let conflicts = done.body["conflicts"].as_array().unwrap();
        let first_name = conflicts.iter().find(|c| c["field"] == "first_name").expect("first_name differed");
        assert_eq!(first_name["kept"], "Ana");
        assert_eq!(first_name["dropped"], "Anita");
        assert_eq!(first_name["merged_id"], m.as_str());

        let interaction = app.get(&format!("/v1/interactions/{}", id(&call))).await;
        assert_eq!(interaction.body["contact_id"], s.as_str(), "the interaction moved");
        assert_eq!(interaction.body["version"], 2);

        let old = get_unfollowed(&app, &format!("/v1/contacts/{m}")).await;
        assert_eq!(old.status, 308, "{}", old.text);
        assert_eq!(old.header("location"), Some(format!("/v1/contacts/{s}").as_str()));
        assert_eq!(old.body["merged_into"], s.as_str());
        let r = app.patch(&format!("/v1/contacts/{m}"), json!({"title": "CEO"})).await;
        assert_eq!(r.status, 409, "{}", r.text);
        assert_eq!(r.body["code"], "merged");
        assert_eq!(r.body["merged_into"], s.as_str());
        assert_eq!(app.delete(&format!("/v1/contacts/{m}")).await.status, 409);
        let archived = app.get(&format!("/v1/contacts?include_archived=true&email={}", "ana%2Bx%40example.com")).await;
        assert_eq!(archived.body["data"][0]["merged_into_id"], s.as_str());
        assert!(archived.body["data"][0]["archived_at"].is_string());

        let log = app.get(&format!("/v1/contacts/{s}/merges")).await;
        assert_eq!(log.status, 200, "{}", log.text);
        let entries = log.body["data"].as_array().unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0]["merged_id"], m.as_str());
        assert!(entries[0]["merged_by"].as_str().unwrap().starts_with("user:"));
        assert!(entries[0]["merged_at"].is_string());
        assert_eq!(entries[0]["old_values"]["merged"]["email"], "Ana+x@Example.com");
        assert_eq!(entries[0]["old_values"]["survivor"]["phone"], Value::Null);

        let timeline = app.get(&format!("/v1/contacts/{s}/timeline")).await;
        let kinds: Vec<&str> = timeline.body["data"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
        assert!(kinds.contains(&"merge") && kinds.contains(&"interaction"), "{kinds:?}");
        let entry = timeline.body["data"].as_array().unwrap().iter().find(|e| e["kind"] == "merge").unwrap();
        assert_eq!(entry["detail"], m.as_str());
        assert_eq!(entry["id"], entries[0]["id"]);

        let event = first_event(&app, "/v1/events?type=contact.merged").await;
        assert_eq!(event["data"]["id"], m.as_str());
        assert_eq!(event["data"]["merged_into_id"], s.as_str());
        let events = app.get("/v1/events?type=contact.merged").await;
        assert_eq!(events.body["data"].as_array().unwrap().len(), 1);

        assert!(pair_of(&app.get("/v1/contacts/duplicates").await.body, &s, &m).is_none(), "merged contacts are no candidates");
        let r = app.post(&path, json!({"from": [m]})).await;
        assert_eq!(r.status, 422, "a merged contact merges once: {}", r.text);
        assert_eq!(r.body["errors"][0]["field"], "from[0]");
        let freed = app.post("/v1/contacts", json!({"last_name": "New", "email": "ana+x@example.com"})).await;
        assert_eq!(freed.status, 201, "the merged contact's email is free again");
    }

    async fn only_admins_managers_and_merge_keys_merge(app: TestApp) {
        let a = id(&app.create("/v1/contacts", json!({"last_name": "Keep"})).await);
        let b = id(&app.create("/v1/contacts", json!({"last_name": "Fold"})).await);
        let path = format!("/v1/contacts/{a}/merge");
        let body = json!({"from": [b], "dry_run": true});

        let sales = app.token_for(Role::Sales, None).await;
        let r = app.request(Method::POST, &path, Some(&sales), Some(body.clone()), &[]).await;
        assert_eq!(r.status, 403, "a salesperson may write contacts but not merge them");
        for (scopes, status) in [(json!(["contacts:write"]), 403_u16), (json!(["contacts:merge"]), 200_u16)] {
            let key = app.create("/v1/api-keys", json!({"name": "merges", "scopes": scopes})).await["key"].as_str().unwrap().to_owned();
            let r = app.request(Method::POST, &path, Some(&key), Some(body.clone()), &[]).await;
            assert_eq!(r.status, status, "{scopes}: {}", r.text);
        }

        assert_eq!(app.post(&path, json!({"from": [a]})).await.status, 422, "not into itself");
        assert_eq!(app.post(&path, json!({"from": []})).await.status, 422);
        let many: Vec<String> = (0..11).map(|i| format!("0190a1b2-0000-7000-8000-0000000000{i:02}")).collect();
        assert_eq!(app.post(&path, json!({"from": many})).await.status, 422, "at most ten");
        let r = app.post(&path, json!({"from": ["0190a1b2-0000-7000-8000-000000000001"]})).await;
        assert_eq!(r.status, 422);
        assert_eq!(r.body["errors"][0]["field"], "from[0]");
        let r = app.post("/v1/contacts/0190a1b2-0000-7000-8000-000000000001/merge", json!({"from": [b]})).await;
        assert_eq!(r.status, 404);
        let stale = app.request(Method::POST, &path, Some(&app.admin_token.clone()), Some(json!({"from": [b]})), &[("If-Match", "\"7\"")]).await;
        assert_eq!(stale.status, 412, "If-Match applies to the survivor");

        let manager = app.token_for(Role::Manager, None).await;
        let r = app.request(Method::POST, &path, Some(&manager), Some(json!({"from": [b]})), &[]).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(get_unfollowed(&app, &format!("/v1/contacts/{b}")).await.status, 308);
    }

    async fn companies_pair_by_tax_id_and_domain_and_merge_with_their_contacts(app: TestApp) {
        let acme = app.create("/v1/companies", json!({"name": "Acme Iberia", "tax_id": "ESB12345678", "website": "https://www.acme.es"})).await;
        let twin = app.create("/v1/companies", json!({"name": "ACME Iberia S.L.", "tax_id": "es b-12345678", "website": "http://acme.es/contact",
            "industry": "Retail", "tags": ["wholesale"]})).await;
        let worker = app.create("/v1/contacts", json!({"last_name": "Worker", "company_id": twin["id"]})).await;
        let (a, t) = (id(&acme), id(&twin));

        let r = app.get("/v1/companies/duplicates").await;
        assert_eq!(r.status, 200, "{}", r.text);
        let pair = pair_of(&r.body, &a, &t).expect("the same tax id and domain pair");
        let found = reasons(&pair);
        assert!(found.contains(&"tax_id") && found.contains(&"domain"), "{found:?}");
        assert_eq!(pair["score"], 1.0);

        let done = app.post(&format!("/v1/companies/{a}/merge"), json!({"from": [t]})).await;
        assert_eq!(done.status, 200, "{}", done.text);
        assert_eq!(done.body["moved"]["contacts"], 1);
        assert_eq!(done.body["result"]["industry"], "Retail");
        assert_eq!(done.body["result"]["tags"], json!(["wholesale"]));
        assert_eq!(done.body["result"]["tax_id"], "ESB12345678");
        assert_eq!(app.get(&format!("/v1/contacts/{}", id(&worker))).await.body["company_id"], a.as_str());
        let old = get_unfollowed(&app, &format!("/v1/companies/{t}")).await;
        assert_eq!(old.status, 308);
        assert_eq!(old.header("location"), Some(format!("/v1/companies/{a}").as_str()));
        let r = app.patch(&format!("/v1/companies/{t}"), json!({"industry": "Food"})).await;
        assert_eq!(r.status, 409);
        assert_eq!(r.body["merged_into"], a.as_str());
        assert_eq!(app.get(&format!("/v1/companies/{a}/merges")).await.body["data"][0]["merged_id"], t.as_str());
        let events = first_event(&app, "/v1/events?type=company.merged").await;
        assert_eq!(events["data"]["id"], t.as_str());
    }
}

/// The first event of a filtered feed, waiting a little: on PostgreSQL the feed shows an event
/// once every older transaction has ended, which the next request may not yet see.
async fn first_event(app: &TestApp, path: &str) -> Value {
    for _ in 0..50 {
        let r = app.get(path).await;
        if let Some(event) = r.body["data"].get(0) {
            return event.clone();
        }
        actix_rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no event at {path}");
}
