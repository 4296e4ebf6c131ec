use crm_tests::on_both_backends;
use serde_json::json;

on_both_backends! {
    async fn interactions_fill_the_company_and_show_upcoming(app: TestApp) {
        let company = app.create("/v1/companies", json!({"name": "Visit Co"})).await;
        let contact = app.create("/v1/contacts", json!({"last_name": "Host", "company_id": company["id"]})).await;
        let call = app.create("/v1/interactions", json!({"contact_id": contact["id"], "kind": "call", "direction": "inbound", "subject": "Delivery question", "occurred_at": "2026-11-20T10:00:00Z"})).await;
        assert_eq!(call["company_id"], company["id"], "taken from the contact");
        assert!(call["user_id"].as_str().is_some(), "defaults to the caller");
        let visit = app.create("/v1/interactions", json!({"company_id": company["id"], "kind": "visit", "scheduled_for": "2030-01-15T09:00:00Z"})).await;
        let upcoming = app.get("/v1/interactions?upcoming=true").await;
        let ids: Vec<&str> = upcoming.body["data"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap()).collect();
        assert_eq!(ids, vec![visit["id"].as_str().unwrap()]);
        let r = app.patch(&format!("/v1/interactions/{}", visit["id"].as_str().unwrap()), json!({"occurred_at": "2030-01-15T09:30:00Z"})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(app.get("/v1/interactions?upcoming=true").await.body["data"].as_array().unwrap().len(), 0);
        assert_eq!(app.get("/v1/interactions?kind=call").await.body["data"].as_array().unwrap().len(), 1);
        assert_eq!(app.get("/v1/interactions?from=2029-01-01T00:00:00Z").await.body["data"].as_array().unwrap().len(), 1);
        assert_eq!(app.get(&format!("/v1/interactions?contact_id={}", contact["id"].as_str().unwrap())).await.body["data"].as_array().unwrap().len(), 1);
    }

    async fn an_interaction_needs_a_subject_and_a_time(app: TestApp) {
        let r = app.post("/v1/interactions", json!({"kind": "note"})).await;
        assert_eq!(r.status, 422);
        assert_eq!(r.body["errors"].as_array().unwrap().len(), 2);
        let r = app.post("/v1/interactions", json!({"kind": "telepathy", "company_id": "x", "occurred_at": "2026-01-01T00:00:00Z"})).await;
        assert_eq!(r.status, 422);
        assert_eq!(r.body["errors"][0]["field"], "kind");
    }

    async fn timelines_are_newest_first_and_paginated(app: TestApp) {
        let company = app.create("/v1/companies", json!({"name": "History Co"})).await;
        let contact = app.create("/v1/contacts", json!({"last_name": "Storied", "company_id": company["id"]})).await;
        for day in 1..=7 {
            app.create("/v1/interactions", json!({"contact_id": contact["id"], "kind": "email", "subject": format!("day {day}"), "occurred_at": format!("2026-10-0{day}T12:00:00Z")})).await;
        }
        let note = app.create("/v1/interactions", json!({"company_id": company["id"], "kind": "note", "subject": "company only", "occurred_at": "2026-10-08T12:00:00Z"})).await;
        let contact_path = format!("/v1/contacts/{}/timeline?limit=3", contact["id"].as_str().unwrap());
        let first = app.get(&contact_path).await;
        assert_eq!(first.status, 200, "{}", first.text);
        let summaries: Vec<&str> = first.body["data"].as_array().unwrap().iter().map(|e| e["summary"].as_str().unwrap()).collect();
        assert_eq!(summaries, vec!["day 7", "day 6", "day 5"]);
        assert_eq!(first.body["data"][0]["kind"], "interaction");
        let mut seen = summaries.len();
        let mut cursor = first.body["next_cursor"].as_str().map(str::to_owned);
        while let Some(c) = cursor {
            let page = app.get(&format!("{contact_path}&cursor={c}")).await;
            seen += page.body["data"].as_array().unwrap().len();
            cursor = page.body["next_cursor"].as_str().map(str::to_owned);
        }
        assert_eq!(seen, 7);
        let company_timeline = app.get(&format!("/v1/companies/{}/timeline", company["id"].as_str().unwrap())).await;
        let data = company_timeline.body["data"].as_array().unwrap();
        assert_eq!(data.len(), 8, "the company's own and its contacts' interactions");
        assert_eq!(data[0]["id"], note["id"]);
        app.delete(&format!("/v1/interactions/{}", note["id"].as_str().unwrap())).await;
        assert_eq!(app.get(&format!("/v1/companies/{}/timeline", company["id"].as_str().unwrap())).await.body["data"].as_array().unwrap().len(), 7);
        assert_eq!(app.get("/v1/contacts/nobody/timeline").await.status, 404);
    }
}
