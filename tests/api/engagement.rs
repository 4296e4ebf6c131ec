//! Tasks, and the rules the maintenance loop turns into tasks: visit plans, greetings and
//! follow-ups. The service clock is frozen and moved with `/v1/admin/clock`; the loop runs when
//! a test asks, with `POST /v1/admin/maintenance/run`. Days are in Madrid (UTC+1 in winter), so
//! 09:00 there is 08:00Z.

use crm_domain::access::roles::Role;
use crm_tests::{id_of, on_both_backends, Response, TestApp, MAINTENANCE_RUN};
use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};

/// `n` runs at once; the sum of a counter over them.
async fn runs_at_once(app: &TestApp, n: usize, counter: &str) -> i64 {
    let replies: Vec<Response> = join_all((0..n).map(|_| app.act(MAINTENANCE_RUN))).await;
    replies
        .iter()
        .map(|r| {
            assert_eq!(r.status, 200, "{}", r.text);
            r.body[counter].as_i64().unwrap()
        })
        .sum()
}

async fn tasks(app: &TestApp, query: &str) -> Vec<Value> {
    let r = app.get(&format!("/v1/tasks?limit=200&{query}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["data"].as_array().unwrap().clone()
}

on_both_backends! {
    async fn a_fortnightly_visit_plan_makes_one_task_per_visit_over_repeated_and_concurrent_runs(app: TestApp) {
        app.freeze_clock("2027-01-10T10:00:00Z").await;
        let (seller, seller_token, _) = app.login_new_user(Role::Sales, None).await;
        let company = app.create("/v1/companies", json!({"name": "Ferretería Sol"})).await;

        let bad = app.post("/v1/visit-plans", json!({"company_id": company["id"], "owner_id": seller,
            "every_weeks": 0, "next_visit_on": "2027-01-15", "lead_days": 400})).await;
        assert_eq!(bad.status, 422, "{}", bad.text);
        let fields: Vec<&str> = bad.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(fields, vec!["every_weeks", "lead_days"]);
        let far = app.post("/v1/visit-plans", json!({"company_id": company["id"], "owner_id": seller,
            "every_weeks": 2, "next_visit_on": "+10000-01-01"})).await;
        assert!(matches!(far.status.as_u16(), 400 | 422), "{}", far.text);
        let nowhere = app.post("/v1/visit-plans", json!({"company_id": "0190a000-0000-7000-8000-000000000000",
            "owner_id": seller, "every_weeks": 2, "next_visit_on": "2027-01-15"})).await;
        assert_eq!(nowhere.status, 422, "{}", nowhere.text);
        assert_eq!(nowhere.body["errors"][0]["field"], "company_id");

        let plan = app.create("/v1/visit-plans", json!({"company_id": company["id"], "owner_id": seller,
            "every_weeks": 2, "next_visit_on": "2027-01-15", "lead_days": 3})).await;
        let plan_id = id_of(&plan);
        assert_eq!(app.get("/v1/visit-plans").await.body["data"].as_array().unwrap().len(), 1, "the refused ones wrote nothing");

        assert_eq!(app.run_maintenance().await["visit_tasks"], 0, "five days ahead, the lead time has not begun");
        app.freeze_clock("2027-01-12T10:00:00Z").await;
        assert_eq!(runs_at_once(&app, 4, "visit_tasks").await, 1, "four runs at once make one task");
        assert_eq!(app.run_maintenance().await["visit_tasks"], 0, "a repeated run makes none");
        let made = tasks(&app, "source=visit_plan").await;
        assert_eq!(made.len(), 1);
        assert_eq!(made[0]["due_at"], "2027-01-15T08:00:00Z", "09:00 in Madrid on the visit's day");
        assert_eq!((&made[0]["assignee_id"], &made[0]["company_id"], &made[0]["status"]), (&json!(seller), &company["id"], &json!("open")));
        assert_eq!(made[0]["title"], "Visit Ferretería Sol");
        let moved = app.get(&format!("/v1/visit-plans/{plan_id}")).await;
        assert_eq!(moved.body["next_visit_on"], "2027-01-29", "a fortnight on");

        // Five weeks later: the visits of 29 January and 12 February are past and skipped.
        app.freeze_clock("2027-02-20T10:00:00Z").await;
        assert_eq!(runs_at_once(&app, 4, "visit_tasks").await, 0);
        assert_eq!(app.get(&format!("/v1/visit-plans/{plan_id}")).await.body["next_visit_on"], "2027-02-26");
        app.freeze_clock("2027-02-23T07:00:00Z").await;
        assert_eq!(runs_at_once(&app, 4, "visit_tasks").await, 1);
        let made = tasks(&app, "source=visit_plan").await;
        let due: Vec<&Value> = made.iter().map(|t| &t["due_at"]).collect();
        assert_eq!(due, vec!["2027-01-15T08:00:00Z", "2027-02-26T08:00:00Z"], "one task per visit date");
        let overview = app.get(&format!("/v1/companies/{}/overview", company["id"].as_str().unwrap())).await;
        assert_eq!(overview.status, 200, "{}", overview.text);
        assert_eq!((&overview.body["open_tasks"], &overview.body["next_visit"]), (&json!(2), &json!("2027-02-26")), "the visit tasked, not the plan's next date");
        assert_eq!(overview.body["churn"], Value::Null, "no figures computed yet");
        let timeline = app.get(&format!("/v1/companies/{}/timeline", company["id"].as_str().unwrap())).await;
        let tasks_in_timeline: Vec<&Value> = timeline.body["data"].as_array().unwrap().iter().filter(|e| e["kind"] == "task").collect();
        assert_eq!(tasks_in_timeline.len(), 2, "{}", timeline.text);
        assert_eq!(tasks_in_timeline[0]["detail"], "open");

        // The salesperson sees their plan and tasks; another salesperson sees neither, and a
        // customer is refused.
        assert_eq!(app.get_as(&seller_token, &format!("/v1/visit-plans/{plan_id}")).await.status, 200);
        assert_eq!(app.get_as(&seller_token, "/v1/tasks").await.body["data"].as_array().unwrap().len(), 2);
        let other = app.token_for(Role::Sales, None).await;
        assert_eq!(app.get_as(&other, &format!("/v1/visit-plans/{plan_id}")).await.status, 404);
        assert_eq!(app.get_as(&other, &format!("/v1/tasks/{}", made[0]["id"].as_str().unwrap())).await.status, 404);
        assert_eq!(app.get_as(&other, "/v1/tasks").await.body["data"].as_array().unwrap().len(), 0);
        let customer = app.portal_user(&id_of(&company)).await;
        assert_eq!(app.get_as(&customer, "/v1/tasks").await.status, 403);
        assert_eq!(app.get_as(&customer, "/v1/visit-plans").await.status, 403);
    }

    async fn birthday_and_follow_up_rules_make_one_task_each(app: TestApp) {
        let bad = app.post("/v1/greeting-rules", json!({"name": "", "occasion": "--02-30", "locales": ["es_ES"]})).await;
        assert_eq!(bad.status, 422, "{}", bad.text);
        let fields: Vec<&str> = bad.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(fields, vec!["name", "occasion"]);
        let bad_locale = app.post("/v1/greeting-rules", json!({"name": "Cumpleaños", "occasion": "birthday", "locales": ["es_ES"]})).await;
        assert_eq!(bad_locale.status, 422, "{}", bad_locale.text);
        assert_eq!(bad_locale.body["errors"][0]["field"], "locales[0]");
        app.create("/v1/greeting-rules", json!({"name": "Cumpleaños", "occasion": "birthday",
            "locales": ["es"], "channel": "email", "days_before": 2})).await;
        app.create("/v1/follow-up-rules", json!({"name": "Chase the quote", "trigger": "quote_sent", "after_days": 7})).await;

        let company = app.create("/v1/companies", json!({"name": "Cumples SL"})).await;
        let greeted = app.consenting_contact(json!({"last_name": "Ruiz", "first_name": "Ana", "email": "ana@cumples.example", "birthday": "1980-03-10", "locale": "es-ES", "company_id": company["id"]})).await;
        app.consenting_contact(json!({"last_name": "Smith", "email": "smith@cumples.example", "birthday": "1980-03-10", "locale": "en-GB"})).await;
        app.create("/v1/contacts", json!({"last_name": "Sin Permiso", "email": "sin@cumples.example",
            "birthday": "1980-03-10", "locale": "es"})).await;
        app.consenting_contact(json!({"last_name": "Sin Fecha", "email": "fecha@cumples.example", "locale": "es"})).await;
        let wrong = app.post("/v1/contacts", json!({"last_name": "Bad", "locale": "español", "birthday": "0900-01-01"})).await;
        assert_eq!(wrong.status, 422, "{}", wrong.text);
        assert_eq!(wrong.body["errors"].as_array().unwrap().len(), 2, "{}", wrong.text);

        let quote = app.sent_quote(&id_of(&company), "Tornillos").await;
        let draft = app.create("/v1/quotes", json!({"company_id": company["id"], "currency": "EUR",
            "lines": [{"description": "Tuercas", "quantity": "1", "unit_price": {"amount_minor": 100, "currency": "EUR"}, "tax_rate_bp": 2100}]})).await;

        app.freeze_clock("2027-03-07T10:00:00Z").await;
        let first = app.run_maintenance().await;
        assert_eq!(first["greeting_tasks"], 0, "three days before the birthday, not yet");
        assert_eq!(first["follow_up_tasks"], 1, "the sent quote, unanswered for months");
        app.freeze_clock("2027-03-08T10:00:00Z").await;
        assert_eq!(runs_at_once(&app, 3, "greeting_tasks").await, 1, "only the Spanish-speaking contact who agreed to email");
        app.freeze_clock("2027-03-10T10:00:00Z").await;
        let again = app.run_maintenance().await;
        assert_eq!((&again["greeting_tasks"], &again["follow_up_tasks"]), (&json!(0), &json!(0)), "one greeting per rule and year, one follow-up per quote");

        let greetings = tasks(&app, "source=greeting").await;
        assert_eq!(greetings.len(), 1);
        assert_eq!(greetings[0]["contact_id"], greeted["id"]);
        assert_eq!(greetings[0]["due_at"], "2027-03-10T08:00:00Z");
        let follow_ups = tasks(&app, "source=follow_up").await;
        assert_eq!(follow_ups.len(), 1);
        assert_eq!(follow_ups[0]["quote_id"], quote.as_str());
        assert_ne!(follow_ups[0]["quote_id"], draft["id"]);
        assert_eq!(tasks(&app, &format!("quote_id={quote}")).await.len(), 1, "quote_id filters");

        app.freeze_clock("2028-03-08T10:00:00Z").await;
        assert_eq!(app.run_maintenance().await["greeting_tasks"], 1, "next year, the next greeting");
    }

    async fn a_task_is_done_or_cancelled_and_reminds_once(app: TestApp) {
        app.freeze_clock("2027-05-03T08:00:00Z").await;
        let (seller, seller_token, _) = app.login_new_user(Role::Sales, None).await;
        let company = app.create("/v1/companies", json!({"name": "Tareas SA"})).await;
        let bad = app.post("/v1/tasks", json!({"title": " ", "due_at": "2027-05-04T10:00:00Z",
            "reminder_at": "2027-05-05T10:00:00Z", "company_id": "0190a000-0000-7000-8000-000000000000"})).await;
        assert_eq!(bad.status, 422, "{}", bad.text);
        assert!(tasks(&app, "").await.is_empty(), "nothing written");

        let created = app.request(Method::POST, "/v1/tasks", Some(&seller_token), Some(json!({"title": "Call about the order",
            "due_at": "2027-05-04T10:00:00Z", "reminder_at": "2027-05-04T09:00:00Z", "company_id": company["id"],
            "assignee_id": "0190a000-0000-7000-8000-000000000000"})), &[]).await;
        assert_eq!(created.status, 201, "{}", created.text);
        assert_eq!(created.body["assignee_id"], seller.as_str(), "a salesperson's task is their own");
        assert_eq!((&created.body["status"], &created.body["source"]), (&json!("open"), &json!("manual")));
        let id = id_of(&created.body);

        assert_eq!(app.run_maintenance().await["reminders"], 0, "not yet");
        app.freeze_clock("2027-05-04T09:30:00Z").await;
        assert_eq!(runs_at_once(&app, 3, "reminders").await, 1, "one reminder");
        let reminded = app.get(&format!("/v1/tasks/{id}")).await;
        assert_eq!(reminded.body["reminded_at"], "2027-05-04T09:30:00Z");

        let done = app.request(Method::POST, &format!("/v1/tasks/{id}/complete"), Some(&seller_token), None, &[]).await;
        assert_eq!(done.status, 200, "{}", done.text);
        assert_eq!((&done.body["status"], &done.body["completed_at"]), (&json!("done"), &json!("2027-05-04T09:30:00Z")));
        let twice = app.act(&format!("/v1/tasks/{id}/cancel")).await;
        assert_eq!(twice.status, 409, "{}", twice.text);
        assert_eq!(twice.body["allowed_actions"], json!(["reopen"]));
        let stale = app.request(Method::POST, &format!("/v1/tasks/{id}/reopen"), Some(app.admin_token.as_str()), None, &[("If-Match", "\"1\"")]).await;
        assert_eq!(stale.status, 412, "{}", stale.text);
        let reopened = app.act(&format!("/v1/tasks/{id}/reopen")).await;
        assert_eq!(reopened.body["status"], "open");
        assert_eq!(tasks(&app, &format!("status=open&company_id={}", company["id"].as_str().unwrap())).await.len(), 1);
        assert_eq!(tasks(&app, "status=done").await.len(), 0);

        let other = app.token_for(Role::Sales, None).await;
        let theirs = app.request(Method::PATCH, &format!("/v1/tasks/{id}"), Some(&other), Some(json!({"title": "Mine now"})), &[]).await;
        assert_eq!(theirs.status, 404, "{}", theirs.text);

        let mut events = app.get("/v1/events?type=task.*").await;
        for _ in 0..50 {
            if events.body["data"].as_array().is_some_and(|d| d.len() >= 4) {
                break;
            }
            actix_rt::time::sleep(std::time::Duration::from_millis(50)).await;
            events = app.get("/v1/events?type=task.*").await;
        }
        let types: Vec<&str> = events.body["data"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(types, vec!["task.created", "task.reminder_due", "task.completed", "task.reopened"]);
    }
}

on_both_backends! {
    async fn rules_are_edited_on_the_version_read(app: TestApp) {
        let rule = app.create("/v1/greeting-rules", json!({"name": "Birthdays", "occasion": "birthday", "days_before": 1})).await;
        let path = format!("/v1/greeting-rules/{}", id_of(&rule));
        let edited = app.patch(&path, json!({"occasion": "--12-24", "locales": ["es"], "channel": "email", "days_before": 5})).await;
        assert_eq!(edited.status, 200, "{}", edited.text);
        assert_eq!((&edited.body["occasion"], &edited.body["locales"], &edited.body["channel"], &edited.body["days_before"], &edited.body["version"]),
            (&json!("--12-24"), &json!(["es"]), &json!("email"), &json!(5), &json!(2)));
        for bad in [json!({"days_before": 61}), json!({"occasion": "--13-40"}), json!({"locales": ["not a tag"]}), json!({"name": " "}), json!({"trigger": "quote_sent"})] {
            let r = app.patch(&path, bad.clone()).await;
            assert_eq!(r.status, 422, "{bad}: {}", r.text);
        }
        let stale = app.request(Method::PATCH, &path, Some(app.admin_token.as_str()), Some(json!({"days_before": 2})), &[("If-Match", "\"1\"")]).await;
        assert_eq!(stale.status, 412, "{}", stale.text);
        let cleared = app.patch(&path, json!({"channel": null})).await;
        assert_eq!((&cleared.body["channel"], &cleared.body["version"]), (&Value::Null, &json!(3)), "{}", cleared.text);

        let follow = app.create("/v1/follow-up-rules", json!({"name": "Quotes", "trigger": "quote_sent", "after_days": 3})).await;
        let path = format!("/v1/follow-up-rules/{}", id_of(&follow));
        let edited = app.patch(&path, json!({"trigger": "return_resolved", "after_days": 7})).await;
        assert_eq!((&edited.body["trigger"], &edited.body["after_days"], &edited.body["created_at"]), (&json!("return_resolved"), &json!(7), &follow["created_at"]), "{}", edited.text);
        assert_eq!(app.patch(&path, json!({"after_days": 0})).await.status, 422);
        assert_eq!(app.get(&path).await.body["after_days"], 7, "a refused edit changes nothing");
        assert_eq!(app.patch("/v1/follow-up-rules/0190a000-0000-7000-8000-000000000000", json!({"after_days": 2})).await.status, 404);
    }
}
