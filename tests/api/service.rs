//! The service desk: cases with SLA targets counted in a calendar's business time from the
//! service clock, which the tests freeze and move with `/v1/admin/clock` (routed only with the
//! test-clock flag, which `TestApp::spawn` sets). The SLA sweep runs only when a test asks for
//! it, with `POST /v1/admin/maintenance/run`.
//!
//! Dates are in March 2026, before the clocks change on the 29th: Madrid is UTC+1, so 09:00 in
//! Madrid is 08:00Z. Monday 2026-03-02 is a working day, Tuesday 2026-03-03 a holiday.

use std::collections::BTreeSet;

use crm_domain::access::roles::Role;
use crm_tests::{
    events_of_type, id_of, on_both_backends, Order, Product, Response, TestApp, MAINTENANCE_RUN,
};
use futures_util::future::join;
use reqwest::Method;
use serde_json::{json, Value};

const CLOCK: &str = "/v1/admin/clock";

/// Monday to Friday, 09:00 to 17:00.
fn office_hours() -> Vec<Value> {
    ["mon", "tue", "wed", "thu", "fri"]
        .iter()
        .map(|day| json!({"weekday": day, "start": "09:00", "end": "17:00"}))
        .collect()
}

/// A calendar of `hours` in `time_zone`, closed on Tuesday 2026-03-03.
fn calendar_body(time_zone: &str, hours: Vec<Value>) -> Value {
    json!({"name": "Oficina Madrid", "time_zone": time_zone, "hours": hours,
        "holidays": [{"date": "2026-03-03", "name": "Fiesta"}]})
}

/// A policy for every category on `calendar`, at `position` in the order.
fn policy_body(calendar: &str, position: i64, rules: Value) -> Value {
    json!({"name": format!("Estándar {position}"), "calendar_id": calendar, "position": position,
        "categories": [], "active": true, "rules": rules})
}

/// The office hours in Madrid, and a policy with one rule, for high priority: a first reply
/// within 2 business hours, a resolution within 8, urgent once a target is missed. Low and
/// normal cases have no SLA. Returns the policy.
async fn desk(app: &TestApp) -> Value {
    let calendar = app
        .create(
            "/v1/business-calendars",
            calendar_body("Europe/Madrid", office_hours()),
        )
        .await;
    let rules = json!([{"priority": "high", "first_response_minutes": 120, "resolution_minutes": 480,
        "breach_priority": "urgent"}]);
    app.create("/v1/sla-policies", policy_body(&id_of(&calendar), 1, rules))
        .await
}

/// An incident of `company` of `priority`, by email; `extra` adds or overrides fields.
fn case_body(company: &str, priority: &str, extra: Value) -> Value {
    let mut body = json!({"subject": format!("El pedido no ha llegado ({priority})"), "company_id": company,
        "channel": "email", "priority": priority, "category": "incident"});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    body
}

async fn new_case(app: &TestApp, company: &str, priority: &str, extra: Value) -> Value {
    app.create("/v1/cases", case_body(company, priority, extra))
        .await
}

async fn case_of(app: &TestApp, id: &str) -> Value {
    let r = app.get(&format!("/v1/cases/{id}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

async fn act(app: &TestApp, id: &str, action: &str) -> Response {
    app.act(&format!("/v1/cases/{id}/{action}")).await
}

/// `action` on a case, asserting that it was done; returns the case.
async fn done(app: &TestApp, id: &str, action: &str) -> Value {
    let r = act(app, id, action).await;
    assert_eq!(r.status, 200, "{action}: {}", r.text);
    r.body
}

/// A comment as the bootstrap admin: a public reply, an internal note, or (`from_customer`)
/// what the customer said on the phone or by email.
async fn comment(app: &TestApp, id: &str, body: &str, public: bool, from_customer: bool) -> Value {
    app.create(
        &format!("/v1/cases/{id}/comments"),
        json!({"body": body, "public": public, "from_customer": from_customer}),
    )
    .await
}

/// The ids of the cases `GET /v1/cases?{query}` lists to `token`.
pub(crate) async fn listed(app: &TestApp, token: &str, query: &str) -> BTreeSet<String> {
    let r = app.get_as(token, &format!("/v1/cases?{query}")).await;
    assert_eq!(r.status, 200, "{query}: {}", r.text);
    r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect()
}

fn ids(cases: &[&Value]) -> BTreeSet<String> {
    cases.iter().map(|case| id_of(case)).collect()
}

on_both_backends! {
    async fn due_times_count_business_hours_in_madrid(app: TestApp) {
        let r = app.post("/v1/business-calendars", calendar_body("Europe/Atlantis", office_hours())).await;
        assert_eq!(r.status, 422, "{}", r.text);
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        assert_eq!(r.body["errors"][0]["field"], "time_zone");
        let overlapping = vec![json!({"weekday": "mon", "start": "09:00", "end": "13:00"}), json!({"weekday": "mon", "start": "12:00", "end": "17:00"})];
        let r = app.post("/v1/business-calendars", calendar_body("Europe/Madrid", overlapping)).await;
        assert_eq!(r.status, 422, "{}", r.text);
        assert_eq!(r.body["errors"][0]["field"], "hours[1]");

        let body = calendar_body("Europe/Madrid", office_hours());
        let calendar = app.create("/v1/business-calendars", body.clone()).await;
        for field in ["name", "time_zone", "hours", "holidays"] {
            assert_eq!(calendar[field], body[field], "{field}");
        }
        assert!(calendar["version"].is_i64() && calendar["created_at"].is_string() && calendar["updated_at"].is_string(), "{calendar}");
        let rules = json!([{"priority": "high", "first_response_minutes": 120, "resolution_minutes": 480}]);
        let policy = app.create("/v1/sla-policies", policy_body(&id_of(&calendar), 1, rules)).await;
        assert_eq!((&policy["calendar_id"], &policy["rules"][0]["priority"]), (&calendar["id"], &json!("high")));
        let company = id_of(&app.company("Cafetería Sol SL", json!({})).await);

        // Monday 16:00 in Madrid: an hour before closing, and Tuesday is a holiday.
        app.freeze_clock("2026-03-02T15:00:00Z").await;
        let case = new_case(&app, &company, "high", json!({})).await;
        let id = id_of(&case);
        assert!(case["number"].as_str().unwrap().starts_with("CS-2026-"), "{}", case["number"]);
        assert_eq!((&case["status"], &case["locale"], &case["created_at"]), (&json!("new"), &json!("es"), &json!("2026-03-02T15:00:00Z")));
        assert_eq!((&case["sla_policy_id"], &case["sla_status"], &case["sla_paused"]), (&policy["id"], &json!("on_track"), &json!(false)));
        // Two business hours: 16:00–17:00 on Monday and 09:00–10:00 on Wednesday. Eight: 16:00–17:00
        // on Monday and 09:00–16:00 on Wednesday.
        assert_eq!(case["first_response_due_at"], "2026-03-04T09:00:00Z");
        assert_eq!(case["resolution_due_at"], "2026-03-04T15:00:00Z");
        assert_eq!((&case["first_response_remaining_seconds"], &case["resolution_remaining_seconds"]), (&json!(7200), &json!(28800)));
        assert_eq!((&case["first_responded_at"], &case["escalation_level"], &case["escalated_to_id"]), (&Value::Null, &json!(0), &Value::Null));
        assert_eq!(case["root_cause"], json!({"category": null, "notes": null, "preventive_action": null}));
        assert_eq!(case["allowed_actions"], json!(["open", "pend", "resolve"]));
        assert_eq!(case_of(&app, &id).await, case, "the GET answers what the create did");
        let late = new_case(&app, &company, "high", json!({})).await;

        // Wednesday 09:30 in Madrid: the holiday did not count. Half an hour is left of the first
        // response, so 75% of it has passed; 6.5 hours of the resolution.
        app.freeze_clock("2026-03-04T08:30:00Z").await;
        let now = case_of(&app, &id).await;
        assert_eq!((&now["sla_status"], &now["first_response_remaining_seconds"], &now["resolution_remaining_seconds"]), (&json!("at_risk"), &json!(1800), &json!(23400)));
        let note = comment(&app, &id, "Revisar con el almacén", false, false).await;
        assert_eq!((&note["case_id"], &note["public"], &note["from_customer"]), (&json!(id), &json!(false), &json!(false)));
        let now = case_of(&app, &id).await;
        assert_eq!((&now["status"], &now["first_responded_at"]), (&json!("new"), &Value::Null), "an internal note is no reply");
        let reply = comment(&app, &id, "Lo estamos revisando", true, false).await;
        assert!(reply["author_id"].is_string() && reply["created_at"].is_string(), "{reply}");
        let now = case_of(&app, &id).await;
        assert_eq!((&now["status"], &now["first_responded_at"]), (&json!("open"), &json!("2026-03-04T08:30:00Z")), "the first public reply opens the case");
        let comments = app.get(&format!("/v1/cases/{id}/comments")).await;
        assert_eq!(comments.status, 200, "{}", comments.text);
        assert_eq!(comments.body["data"].as_array().unwrap().len(), 2);
        let log = app.case_events(&id).await;
        assert_eq!(log[0]["type"], "created");
        assert_eq!(events_of_type(&log, "commented").len(), 2);
        assert_eq!(events_of_type(&log, "status_changed")[0]["data"], json!({"from": "new", "to": "open"}));

        // Wednesday 10:30: the unanswered case is half an hour overdue, breached before any sweep
        // records it; the answered one is on track for its resolution.
        app.freeze_clock("2026-03-04T09:30:00Z").await;
        let overdue = case_of(&app, &id_of(&late)).await;
        assert_eq!((&overdue["sla_status"], &overdue["first_response_remaining_seconds"]), (&json!("breached"), &json!(-1800)));
        assert_eq!(overdue["first_response_breached_at"], Value::Null, "recorded by the sweep");
        assert_eq!(case_of(&app, &id).await["sla_status"], "on_track");

        let low = new_case(&app, &company, "low", json!({})).await;
        for field in ["sla_policy_id", "sla_status", "first_response_due_at", "resolution_due_at", "first_response_remaining_seconds", "resolution_remaining_seconds"] {
            assert_eq!(low[field], Value::Null, "no rule for low priority: {field}");
        }
        assert_eq!(low["sla_paused"], false);
    }

    async fn pending_pauses_the_clocks(app: TestApp) {
        desk(&app).await;
        let company = id_of(&app.company("Cafetería Sol SL", json!({})).await);
        // Monday 16:00 in Madrid: first response due on Wednesday 10:00, resolution on Wednesday 16:00.
        app.freeze_clock("2026-03-02T15:00:00Z").await;
        let case = new_case(&app, &company, "high", json!({})).await;
        let id = id_of(&case);
        assert_eq!(case["first_response_due_at"], "2026-03-04T09:00:00Z");
        app.freeze_clock("2026-03-02T15:30:00Z").await;
        let pending = done(&app, &id, "pend").await;
        assert_eq!((&pending["status"], &pending["sla_paused"]), (&json!("pending"), &json!(true)));
        assert_eq!(pending["allowed_actions"], json!(["open", "resolve"]));

        // Thursday 10:00 in Madrid: both targets fell due on Wednesday, while the case waited on
        // the customer.
        app.freeze_clock("2026-03-05T09:00:00Z").await;
        let paused = case_of(&app, &id).await;
        assert_eq!((&paused["sla_paused"], &paused["sla_status"]), (&json!(true), &json!("on_track")));
        assert_eq!((&paused["first_response_due_at"], &paused["resolution_due_at"]), (&Value::Null, &Value::Null));
        let run = app.run_maintenance().await;
        assert_eq!((&run["breached"], &run["escalated"]), (&json!(0), &json!(0)), "{run}");
        let after = case_of(&app, &id).await;
        assert_eq!((&after["first_response_breached_at"], &after["resolution_breached_at"]), (&Value::Null, &Value::Null));
        assert_eq!((&after["escalation_level"], &after["priority"], &after["sla_status"]), (&json!(0), &json!("high"), &json!("on_track")));
        assert!(events_of_type(&app.case_events(&id).await, "sla_breached").is_empty());

        let answer = comment(&app, &id, "Os mando las fotos del paquete", true, true).await;
        assert_eq!(answer["from_customer"], true);
        let open = case_of(&app, &id).await;
        assert_eq!((&open["status"], &open["sla_paused"], &open["first_responded_at"]), (&json!("open"), &json!(false), &Value::Null), "the customer's answer reopens it; it is no reply of ours");
        // Pending from Monday 16:30 to Thursday 10:00 in Madrid: 0.5 h on Monday, none on the
        // holiday, 8 h on Wednesday and 1 h on Thursday, 9.5 business hours, by which both targets
        // move. At the pause the first response had 1.5 h left (16:30–17:00 on Monday, 09:00–10:00
        // on Wednesday): Thursday 10:00 + 1.5 h = 11:30 (10:30Z). The resolution had 8 − 0.5 = 7.5 h
        // left: 10:00–17:00 on Thursday and 09:00–09:30 on Friday (08:30Z).
        assert_eq!(open["first_response_due_at"], "2026-03-05T10:30:00Z");
        assert_eq!(open["resolution_due_at"], "2026-03-06T08:30:00Z");
        assert_eq!((&open["first_response_remaining_seconds"], &open["resolution_remaining_seconds"]), (&json!(5400), &json!(27000)));
        assert_eq!(open["sla_status"], "on_track");
        let changes: Vec<Value> = events_of_type(&app.case_events(&id).await, "status_changed").iter().map(|e| e["data"].clone()).collect();
        assert_eq!(changes, [json!({"from": "new", "to": "pending"}), json!({"from": "pending", "to": "open"})]);
        let log = app.case_events(&id).await;
        let times: Vec<&str> = log.iter().map(|e| e["at"].as_str().unwrap()).collect();
        assert!(times.windows(2).all(|pair| pair[0] <= pair[1]), "oldest first: {times:?}");

        comment(&app, &id, "Recibidas, gracias", true, false).await;
        let replied = case_of(&app, &id).await;
        assert_eq!((&replied["first_responded_at"], &replied["sla_status"]), (&json!("2026-03-05T09:00:00Z"), &json!("on_track")), "answered in time after the pause");
        assert_eq!(app.run_maintenance().await["breached"], 0);
    }

    async fn illegal_actions_and_overlapping_rules(app: TestApp) {
        let policy = desk(&app).await;
        let calendar = policy["calendar_id"].as_str().unwrap().to_owned();
        let company = id_of(&app.company("Cafetería Sol SL", json!({})).await);
        let settings = app.get("/v1/settings/service").await;
        assert_eq!(settings.status, 200, "{}", settings.text);
        assert_eq!((&settings.body["reopen_window_days"], &settings.body["at_risk_from_bp"], &settings.body["default_locale"]), (&json!(7), &json!(7500), &json!("es")));

        app.freeze_clock("2026-03-02T08:00:00Z").await;
        let id = id_of(&new_case(&app, &company, "normal", json!({})).await);
        let r = act(&app, &id, "close").await;
        assert_eq!(r.status, 409, "{}", r.text);
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        assert_eq!(r.body["current_state"], "new");
        assert_eq!(r.body["allowed_actions"], json!(["open", "pend", "resolve"]));
        assert_eq!(act(&app, &id, "reopen").await.status, 409);

        let resolved = done(&app, &id, "resolve").await;
        assert_eq!((&resolved["status"], &resolved["resolved_at"]), (&json!("resolved"), &json!("2026-03-02T08:00:00Z")));
        assert_eq!(resolved["allowed_actions"], json!(["reopen", "close"]));
        app.freeze_clock("2026-03-08T08:00:00Z").await;
        assert_eq!(done(&app, &id, "reopen").await["status"], "open", "six days after the resolution");
        done(&app, &id, "resolve").await;
        // Eight days after the last resolution: one day past the window.
        app.freeze_clock("2026-03-16T08:00:00Z").await;
        assert_eq!(case_of(&app, &id).await["allowed_actions"], json!(["close"]), "no reopen offered past the window");
        let r = act(&app, &id, "reopen").await;
        assert_eq!(r.status, 409, "{}", r.text);
        assert_eq!(r.body["current_state"], "resolved");
        assert_eq!(r.body["allowed_actions"], json!(["close"]));
        assert_eq!(case_of(&app, &id).await["status"], "resolved");
        assert_eq!(done(&app, &id, "close").await["allowed_actions"], json!([]));
        let r = act(&app, &id, "reopen").await;
        assert_eq!((r.status.as_u16(), &r.body["current_state"]), (409, &json!("closed")), "{}", r.text);
        let r = app.post(&format!("/v1/cases/{id}/comments"), json!({"body": "¿Hola?", "public": true, "from_customer": true})).await;
        assert_eq!(r.status, 409, "a closed case takes no comments: {}", r.text);

        let complaint = id_of(&new_case(&app, &company, "normal", json!({"category": "complaint"})).await);
        let opened = done(&app, &complaint, "open").await;
        let r = act(&app, &complaint, "resolve").await;
        assert_eq!(r.status, 422, "{}", r.text);
        assert_eq!(r.body["errors"][0]["field"], "root_cause.category");
        let unchanged = case_of(&app, &complaint).await;
        assert_eq!((&unchanged["status"], &unchanged["version"], &unchanged["resolved_at"]), (&json!("open"), &opened["version"], &Value::Null), "a refused resolution changes nothing");
        let r = app.patch(&format!("/v1/cases/{complaint}"), json!({"root_cause": {"category": "shipping", "notes": "Dejado en otra dirección", "preventive_action": "Confirmar la dirección por SMS"}})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["root_cause"]["category"], "shipping");
        assert_eq!(done(&app, &complaint, "resolve").await["status"], "resolved");

        let r = app.post("/v1/cases", case_body(&uuid::Uuid::now_v7().to_string(), "normal", json!({}))).await;
        assert_eq!(r.status, 422, "{}", r.text);
        assert_eq!(r.body["errors"][0]["field"], "company_id");
        Product::new("SD-MUG", 1000, 400).ensure(&app).await;
        let other = id_of(&app.company("Otra SL", json!({})).await);
        let order = Order::new("SD-1").company(&other).line("SD-MUG", "1", 1000).push(&app).await;
        let r = app.post("/v1/cases", case_body(&company, "normal", json!({"order_id": order["id"]}))).await;
        assert_eq!(r.status, 422, "another company's order: {}", r.text);
        assert_eq!(r.body["errors"][0]["field"], "order_id");
        let theirs = new_case(&app, &other, "normal", json!({"order_id": order["id"]})).await;
        assert_eq!(theirs["order_id"], order["id"]);

        let duplicate = json!([{"priority": "high", "tier": null, "first_response_minutes": 60, "resolution_minutes": 240},
            {"priority": "high", "first_response_minutes": 120, "resolution_minutes": 480}]);
        let r = app.post("/v1/sla-policies", policy_body(&calendar, 2, duplicate)).await;
        assert_eq!(r.status, 422, "{}", r.text);
        assert_eq!(r.body["errors"][0]["field"], "rules[1]", "an absent tier is the null tier");
        let r = app.post("/v1/sla-policies", policy_body(&uuid::Uuid::now_v7().to_string(), 2, json!([{"priority": "low", "first_response_minutes": 60, "resolution_minutes": 240}]))).await;
        assert_eq!(r.status, 422, "{}", r.text);
        assert_eq!(r.body["errors"][0]["field"], "calendar_id");
        let tiers = json!([{"priority": "high", "tier": null, "first_response_minutes": 60, "resolution_minutes": 240},
            {"priority": "high", "tier": "A", "first_response_minutes": 30, "resolution_minutes": 120}]);
        assert_eq!(app.post("/v1/sla-policies", policy_body(&calendar, 2, tiers)).await.status, 201, "one rule per tier");
    }

    async fn breaches_are_dated_at_the_due_instant_and_escalate_once(app: TestApp) {
        desk(&app).await;
        let company = id_of(&app.company("Cafetería Sol SL", json!({})).await);
        let (manager, _, _) = app.login_new_user(Role::Manager, None).await;
        let (agent, _, _) = app.login_new_user(Role::Support, None).await;
        let (lead, _, _) = app.login_new_user(Role::Manager, None).await;
        let (member, _, _) = app.login_new_user(Role::Support, None).await;
        let r = app.patch(&format!("/v1/users/{agent}"), json!({"manager_id": manager})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["manager_id"], manager.as_str());
        assert_eq!(app.get(&format!("/v1/users/{agent}")).await.body["manager_id"], manager.as_str());
        let team = app.create("/v1/teams", json!({"name": "Postventa", "member_ids": [member], "escalation_user_id": lead})).await;
        assert_eq!((&team["member_ids"], &team["escalation_user_id"]), (&json!([member]), &json!(lead)));

        // Monday 09:00 in Madrid: first responses due at 11:00 (10:00Z), resolutions at 17:00.
        app.freeze_clock("2026-03-02T08:00:00Z").await;
        let assigned = new_case(&app, &company, "high", json!({"assignee_id": agent})).await;
        let queued = new_case(&app, &company, "high", json!({"team_id": team["id"]})).await;
        assert_eq!((&assigned["assignee_id"], &assigned["team_id"]), (&json!(agent), &Value::Null));
        assert_eq!((&queued["assignee_id"], &queued["team_id"]), (&Value::Null, &team["id"]));
        for case in [&assigned, &queued] {
            assert_eq!(case["first_response_due_at"], "2026-03-02T10:00:00Z");
        }

        // 11:30 in Madrid: both first responses are half an hour overdue, the resolutions are not.
        // Two sweeps at once, then a third.
        app.freeze_clock("2026-03-02T10:30:00Z").await;
        let (first, second) = join(app.act(MAINTENANCE_RUN), app.act(MAINTENANCE_RUN)).await;
        let third = app.act(MAINTENANCE_RUN).await;
        let (mut breached, mut escalated) = (0, 0);
        for run in [&first, &second, &third] {
            assert_eq!(run.status, 200, "{}", run.text);
            breached += run.body["breached"].as_i64().unwrap();
            escalated += run.body["escalated"].as_i64().unwrap();
        }
        assert_eq!((breached, escalated), (2, 2), "each breach once: {} {} {}", first.text, second.text, third.text);
        assert_eq!((&third.body["breached"], &third.body["escalated"]), (&json!(0), &json!(0)));

        for (case, to) in [(&assigned, &manager), (&queued, &lead)] {
            let id = id_of(case);
            let now = case_of(&app, &id).await;
            assert_eq!(now["first_response_breached_at"], case["first_response_due_at"], "dated at the due instant, not at the sweep");
            assert_eq!(now["resolution_breached_at"], Value::Null);
            assert_eq!((&now["escalated_to_id"], &now["escalation_level"], &now["priority"]), (&json!(to), &json!(1), &json!("urgent")), "{now}");
            assert!(now["escalated_at"].is_string(), "{now}");
            assert_eq!((&now["assignee_id"], &now["sla_status"]), (&case["assignee_id"], &json!("breached")));
            let log = app.case_events(&id).await;
            let breaches = events_of_type(&log, "sla_breached");
            assert_eq!(breaches.len(), 1, "{log:?}");
            assert_eq!((&breaches[0]["data"]["target"], &breaches[0]["data"]["due_at"]), (&json!("first_response"), &case["first_response_due_at"]));
            let escalations = events_of_type(&log, "escalated");
            assert_eq!(escalations.len(), 1, "{log:?}");
            assert_eq!((&escalations[0]["data"]["to_id"], &escalations[0]["data"]["level"], &escalations[0]["data"]["priority"]), (&json!(to), &json!(1), &json!("urgent")));
        }
        let token = app.admin_token.clone();
        assert_eq!(listed(&app, &token, &format!("escalated_to_id={manager}")).await, ids(&[&assigned]));
        assert_eq!(listed(&app, &token, &format!("escalated_to_id={lead}")).await, ids(&[&queued]));
        assert_eq!(listed(&app, &token, "priority=urgent&sla_status=breached").await, ids(&[&assigned, &queued]));
    }

    async fn sla_status_and_assignee_filters_are_exact(app: TestApp) {
        desk(&app).await;
        let company = id_of(&app.company("Cafetería Sol SL", json!({})).await);
        let (me, my_token, _) = app.login_new_user(Role::Support, None).await;
        let (other, _, _) = app.login_new_user(Role::Support, None).await;
        let admin = app.admin_token.clone();

        // Monday 09:00 in Madrid. Every high case's first response is due two business hours after
        // it was opened, and at risk from 75% of that, 90 minutes.
        app.freeze_clock("2026-03-02T08:00:00Z").await;
        let breached = new_case(&app, &company, "high", json!({"assignee_id": me})).await;
        let met = new_case(&app, &company, "high", json!({"assignee_id": other})).await;
        let paused = new_case(&app, &company, "high", json!({})).await;
        app.freeze_clock("2026-03-02T08:10:00Z").await;
        done(&app, &id_of(&paused), "pend").await;
        app.freeze_clock("2026-03-02T08:30:00Z").await;
        done(&app, &id_of(&met), "resolve").await;
        app.freeze_clock("2026-03-02T09:20:00Z").await;
        let at_risk = new_case(&app, &company, "high", json!({"assignee_id": me})).await;
        app.freeze_clock("2026-03-02T10:30:00Z").await;
        let on_track = new_case(&app, &company, "high", json!({})).await;
        let no_sla = new_case(&app, &company, "low", json!({"assignee_id": other})).await;

        // 12:00 in Madrid: the first is an hour overdue (no sweep has run), the one opened at
        // 10:20 is 10 minutes into its risk, the one opened at 11:30 is on track, the paused one
        // does not count time, and the resolved one met its targets.
        app.freeze_clock("2026-03-02T11:00:00Z").await;
        let expected = [(&breached, "breached"), (&at_risk, "at_risk"), (&on_track, "on_track"), (&paused, "on_track"), (&met, "met")];
        let mut shown = Vec::new();
        for (case, status) in expected {
            let now = case_of(&app, &id_of(case)).await;
            assert_eq!(now["sla_status"], status, "{now}");
            shown.push(now);
        }
        assert_eq!(case_of(&app, &id_of(&no_sla)).await["sla_status"], Value::Null);
        for status in ["on_track", "at_risk", "breached", "met"] {
            let with_status: Vec<&Value> = shown.iter().filter(|c| c["sla_status"] == status).collect();
            let r = app.get(&format!("/v1/cases?sla_status={status}")).await;
            assert_eq!(r.status, 200, "{}", r.text);
            assert!(r.body["data"].as_array().unwrap().iter().all(|c| c["sla_status"] == status), "{status}: {}", r.text);
            assert_eq!(listed(&app, &admin, &format!("sla_status={status}")).await, ids(&with_status), "{status}");
        }
        assert_eq!(listed(&app, &admin, "sla_status=on_track").await, ids(&[&on_track, &paused]));

        assert_eq!(listed(&app, &my_token, "assignee_id=me").await, ids(&[&breached, &at_risk]));
        assert_eq!(listed(&app, &admin, &format!("assignee_id={me}")).await, ids(&[&breached, &at_risk]));
        assert_eq!(listed(&app, &my_token, "assignee_id=me&sla_status=at_risk").await, ids(&[&at_risk]));
        assert_eq!(listed(&app, &admin, "assignee_id=me").await, BTreeSet::new(), "the admin has none");
        assert_eq!(listed(&app, &admin, "assignee_id=none").await, ids(&[&paused, &on_track]));
        assert_eq!(listed(&app, &admin, &format!("assignee_id={other}")).await, ids(&[&met, &no_sla]));
        assert_eq!(listed(&app, &admin, "").await.len(), 6);
    }

    async fn assignment_changes_only_what_it_names(app: TestApp) {
        let company = id_of(&app.company("Cafetería Sol SL", json!({})).await);
        let (agent, _, _) = app.login_new_user(Role::Support, None).await;
        let (other, _, _) = app.login_new_user(Role::Support, None).await;
        let unknown = "0193a1b2-0000-7000-8000-000000000001";
        // A member listed twice is kept once; a bad one is named at the index it was sent at.
        let team = app.create("/v1/teams", json!({"name": "Postventa", "member_ids": [agent, other, agent]})).await;
        assert_eq!(team["member_ids"], json!([agent, other]));
        let r = app.post("/v1/teams", json!({"name": "Otra", "member_ids": [agent, agent, unknown]})).await;
        assert_eq!((r.status.as_u16(), &r.body["errors"][0]["field"]), (422, &json!("member_ids[2]")), "{}", r.text);

        let id = id_of(&new_case(&app, &company, "normal", json!({})).await);
        let path = format!("/v1/cases/{id}/assign");
        let steps = [
            (json!({"team_id": team["id"]}), Value::Null, team["id"].clone()),
            (json!({"assignee_id": agent}), json!(agent), team["id"].clone()),
            (json!({"team_id": null}), json!(agent), Value::Null),
            (json!({"assignee_id": other, "team_id": team["id"]}), json!(other), team["id"].clone()),
            (json!({"assignee_id": null}), Value::Null, team["id"].clone()),
        ];
        for (body, assignee, team_id) in &steps {
            let r = app.post(&path, body.clone()).await;
            assert_eq!(r.status, 200, "{body}: {}", r.text);
            assert_eq!((&r.body["assignee_id"], &r.body["team_id"]), (assignee, team_id), "{body}");
        }
        let r = app.post(&path, json!({})).await;
        assert_eq!((r.status.as_u16(), &r.body["assignee_id"], &r.body["team_id"]), (200, &Value::Null, &team["id"]), "nothing named, nothing changed: {}", r.text);
        for (body, field) in [(json!({"team_id": unknown}), "team_id"), (json!({"assignee_id": unknown}), "assignee_id")] {
            let r = app.post(&path, body.clone()).await;
            assert_eq!((r.status.as_u16(), &r.body["errors"][0]["field"]), (422, &json!(field)), "{body}: {}", r.text);
        }
        let now = case_of(&app, &id).await;
        assert_eq!((&now["assignee_id"], &now["team_id"]), (&Value::Null, &team["id"]), "the refused changed nothing");
        let assigned: Vec<Value> = events_of_type(&app.case_events(&id).await, "assigned").iter().map(|e| e["data"].clone()).collect();
        let expected: Vec<Value> = steps.iter().map(|(_, a, t)| json!({"assignee_id": a, "team_id": t})).collect();
        assert_eq!(assigned, expected);
    }

    async fn policies_by_category_retargets_reopens_and_the_closing_sweep(app: TestApp) {
        let calendar = app.create("/v1/business-calendars", calendar_body("Europe/Madrid", office_hours())).await;
        let calendar = id_of(&calendar);
        let mut complaints = policy_body(&calendar, 1, json!([{"priority": "high", "first_response_minutes": 60, "resolution_minutes": 240}]));
        complaints["categories"] = json!(["complaint"]);
        let complaints = app.create("/v1/sla-policies", complaints).await;
        let standard = app.create("/v1/sla-policies", policy_body(&calendar, 2, json!([{"priority": "high", "first_response_minutes": 120, "resolution_minutes": 480}]))).await;
        let company = id_of(&app.company("Cafetería Sol SL", json!({})).await);
        let due = |case: &Value| (case["sla_policy_id"].clone(), case["first_response_due_at"].clone(), case["resolution_due_at"].clone());

        // Monday 09:00 in Madrid. The complaint policy comes first and covers complaints only.
        app.freeze_clock("2026-03-02T08:00:00Z").await;
        let complaint = new_case(&app, &company, "high", json!({"category": "complaint"})).await;
        assert_eq!(due(&complaint), (complaints["id"].clone(), json!("2026-03-02T09:00:00Z"), json!("2026-03-02T12:00:00Z")));
        let incident = new_case(&app, &company, "high", json!({})).await;
        assert_eq!(due(&incident), (standard["id"].clone(), json!("2026-03-02T10:00:00Z"), json!("2026-03-02T16:00:00Z")));
        let bumped = new_case(&app, &company, "normal", json!({})).await;
        assert_eq!(due(&bumped), (Value::Null, Value::Null, Value::Null), "no rule for normal");

        // 10:00: a staff priority change targets the case from its creation; an inactive policy
        // covers nothing, so the next complaint falls to the standard one (seven hours on
        // Monday, none on the holiday, one on Wednesday).
        app.freeze_clock("2026-03-02T09:00:00Z").await;
        let r = app.patch(&format!("/v1/cases/{}", id_of(&bumped)), json!({"priority": "high"})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(due(&r.body), (standard["id"].clone(), json!("2026-03-02T10:00:00Z"), json!("2026-03-02T16:00:00Z")));
        let log = app.case_events(&id_of(&bumped)).await;
        let changed = events_of_type(&log, "priority_changed");
        assert_eq!(changed.iter().map(|e| e["data"].clone()).collect::<Vec<_>>(), vec![json!({"from": "normal", "to": "high"})]);
        let r = app.patch(&format!("/v1/sla-policies/{}", id_of(&complaints)), json!({"active": false})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let late_complaint = new_case(&app, &company, "high", json!({"category": "complaint"})).await;
        assert_eq!(due(&late_complaint), (standard["id"].clone(), json!("2026-03-02T11:00:00Z"), json!("2026-03-04T09:00:00Z")));

        // The incident is answered and resolved at 11:00; reopened on Wednesday at 09:00, its
        // resolution clock resumes: paused for six business hours (Monday 11:00 to 17:00), it is
        // due eight plus six business hours after its creation, Wednesday at 15:00.
        app.freeze_clock("2026-03-02T09:30:00Z").await;
        comment(&app, &id_of(&incident), "Lo miramos", true, false).await;
        app.freeze_clock("2026-03-02T10:00:00Z").await;
        done(&app, &id_of(&incident), "resolve").await;
        done(&app, &id_of(&bumped), "resolve").await;
        app.freeze_clock("2026-03-04T08:00:00Z").await;
        let reopened = done(&app, &id_of(&incident), "reopen").await;
        assert_eq!((&reopened["status"], &reopened["sla_paused"], &reopened["resolved_at"], &reopened["resolution_due_at"]),
            (&json!("open"), &json!(false), &Value::Null, &json!("2026-03-04T14:00:00Z")), "{reopened}");
        assert_eq!(reopened["first_responded_at"], "2026-03-02T09:30:00Z", "the first response stays");

        // The sweep closes a resolved case once its reopen window of seven days has passed.
        app.freeze_clock("2026-03-09T09:59:59Z").await;
        assert_eq!(app.run_maintenance().await["closed"], 0);
        assert_eq!(case_of(&app, &id_of(&bumped)).await["status"], "resolved");
        app.freeze_clock("2026-03-09T10:00:00Z").await;
        assert_eq!(app.run_maintenance().await["closed"], 1);
        assert_eq!(app.run_maintenance().await["closed"], 0, "once");
        let closed = case_of(&app, &id_of(&bumped)).await;
        assert_eq!((&closed["status"], &closed["allowed_actions"]), (&json!("closed"), &json!([])));
        let log = app.case_events(&id_of(&bumped)).await;
        let changes = events_of_type(&log, "status_changed");
        assert_eq!(changes.last().map(|e| &e["data"]), Some(&json!({"from": "resolved", "to": "closed"})));
        assert_eq!(act(&app, &id_of(&bumped), "reopen").await.status, 409);
    }

    async fn the_test_clock_needs_its_flag(app: TestApp) {
        let production = TestApp::spawn_without_test_clock(app.backend).await;
        let token = production.admin_token.clone();
        let freeze = json!({"now": "2026-03-02T15:00:00Z"});
        for (method, body) in [(Method::PUT, Some(freeze.clone())), (Method::GET, None), (Method::DELETE, None)] {
            let r = production.request(method.clone(), CLOCK, Some(&token), body, &[]).await;
            assert_eq!(r.status, 404, "{method} without the flag: {}", r.text);
            assert_eq!(r.header("content-type"), Some("application/problem+json"));
        }
        let swept = production.run_maintenance().await;
        assert_eq!((&swept["breached"], &swept["escalated"], &swept["closed"]), (&json!(0), &json!(0), &json!(0)), "the sweep is no test feature: {swept}");

        let clock = app.get(CLOCK).await;
        assert_eq!(clock.status, 200, "{}", clock.text);
        assert_eq!(clock.body["frozen"], false);
        assert!(clock.body["now"].as_str().unwrap().starts_with("20"), "{}", clock.text);
        app.freeze_clock("2026-03-02T15:00:00Z").await;
        assert_eq!(app.get(CLOCK).await.body, json!({"now": "2026-03-02T15:00:00Z", "frozen": true}));
        for role in [Role::Manager, Role::Support, Role::Sales] {
            let token = app.token_for(role, None).await;
            for (method, path, body) in [
                (Method::PUT, CLOCK, Some(json!({"now": "2030-01-01T00:00:00Z"}))),
                (Method::GET, CLOCK, None),
                (Method::DELETE, CLOCK, None),
                (Method::POST, MAINTENANCE_RUN, None),
            ] {
                let r = app.request(method.clone(), path, Some(&token), body, &[]).await;
                assert_eq!(r.status, 403, "{role} {method} {path}: {}", r.text);
            }
        }
        assert_eq!(app.get(CLOCK).await.body["now"], "2026-03-02T15:00:00Z", "the refused changed nothing");
        assert_eq!(app.delete(CLOCK).await.status, 204);
        assert_eq!(app.get(CLOCK).await.body["frozen"], false, "real time again");
    }
}

/// Two processes on one PostgreSQL database, each sweeping every second: each breach is dated
/// at its due instant and escalated exactly once, whichever node finds it.
#[actix_rt::test]
#[cfg_attr(not(crm_test_postgres), ignore = "needs CRM_TEST_POSTGRES_URL")]
async fn two_nodes_sweeping_every_second_escalate_each_breach_once() {
    use crate::nodes::{send, SharedDatabase, TwoNodes};
    let db = SharedDatabase::create();
    let TwoNodes {
        processes: _processes,
        base_a,
        base_b,
        token,
        client,
    } = db.start_two_sweeping_nodes();
    let call = |base: &str, method: Method, path: &str, body: Option<Value>| {
        send(&client, method, format!("{base}{path}"), &token, body, &[])
    };
    let ok = |reply: crate::nodes::Reply| {
        assert!(
            (200..300).contains(&reply.status),
            "{} {}",
            reply.status,
            reply.text
        );
        reply.body
    };
    ok(call(
        &base_a,
        Method::PUT,
        CLOCK,
        Some(json!({"now": "2026-03-02T08:00:00Z"})),
    )
    .await);
    let hours: Vec<Value> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .map(|day| json!({"weekday": day, "start": "00:00", "end": "24:00"}))
        .collect();
    let calendar = ok(call(
        &base_a,
        Method::POST,
        "/v1/business-calendars",
        Some(json!({"name": "24/7", "time_zone": "UTC", "hours": hours})),
    )
    .await);
    ok(call(&base_a, Method::POST, "/v1/sla-policies", Some(json!({"name": "Urgent", "calendar_id": calendar["id"], "position": 1,
        "rules": [{"priority": "urgent", "first_response_minutes": 10, "resolution_minutes": 600}]}))).await);
    let company = ok(call(
        &base_a,
        Method::POST,
        "/v1/companies",
        Some(json!({"name": "Dos Nodos SL"})),
    )
    .await);
    let mut cases = Vec::new();
    for i in 0..20 {
        let base = if i % 2 == 0 { &base_a } else { &base_b };
        let case = ok(call(
            base,
            Method::POST,
            "/v1/cases",
            Some(
                json!({"subject": format!("Caso {i}"), "company_id": company["id"],
            "channel": "phone", "priority": "urgent", "category": "incident"}),
            ),
        )
        .await);
        assert_eq!(case["first_response_due_at"], "2026-03-02T08:10:00Z");
        cases.push(id_of(&case));
    }
    // Twenty minutes later, as both nodes see it: every first response is ten minutes overdue.
    ok(call(
        &base_b,
        Method::PUT,
        CLOCK,
        Some(json!({"now": "2026-03-02T08:20:00Z"})),
    )
    .await);
    let mut waited = 0;
    loop {
        let mut breached = 0;
        for id in &cases {
            let case = ok(call(&base_a, Method::GET, &format!("/v1/cases/{id}"), None).await);
            breached += usize::from(case["first_response_breached_at"].is_string());
        }
        if breached == cases.len() {
            break;
        }
        waited += 1;
        assert!(
            waited < 100,
            "the sweeps recorded {breached} of {} breaches in 10 s",
            cases.len()
        );
        actix_rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Three more sweeps on each node.
    actix_rt::time::sleep(std::time::Duration::from_millis(3_200)).await;
    for id in &cases {
        let case = ok(call(&base_b, Method::GET, &format!("/v1/cases/{id}"), None).await);
        assert_eq!(
            case["first_response_breached_at"], "2026-03-02T08:10:00Z",
            "dated at the due instant"
        );
        assert_eq!(case["escalation_level"], 1, "{case}");
        let log = ok(call(
            &base_a,
            Method::GET,
            &format!("/v1/cases/{id}/events"),
            None,
        )
        .await);
        let count = |kind: &str| {
            log["data"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["type"] == kind)
                .count()
        };
        assert_eq!((count("sla_breached"), count("escalated")), (1, 1), "{log}");
    }
}
