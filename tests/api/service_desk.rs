//! The service desk's satisfaction surveys, reports, portal and 360: surveys answered once by
//! their token, the CSAT and complaint reports over a data set small enough to count by hand,
//! what a customer sees of its company's cases, and cases in the company's overview and
//! timeline. The service clock is frozen and moved with `/v1/admin/clock`, as in `service.rs`.
//!
//! Dates are in March 2026, before the clocks change on the 29th: Madrid is UTC+1, so 09:00 in
//! Madrid is 08:00Z. Monday 2026-03-02 is a working day, Tuesday 2026-03-03 a holiday.

use std::collections::{BTreeMap, BTreeSet};

use crm_domain::access::roles::Role;
use crm_tests::{events_of_type, id_of, on_both_backends, Order, Product, Response, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

use crate::service::listed;

/// What a customer never sees of a case.
const STAFF_ONLY: [&str; 6] = [
    "sla_status",
    "escalated_to_id",
    "csat_flagged",
    "priority",
    "tier",
    "assignee_id",
];

/// Office hours in Madrid, Monday to Friday 09:00 to 17:00, closed on Tuesday 2026-03-03, and
/// a policy for every category with one rule, for high priority: a first reply within 2
/// business hours, a resolution within 8, and no change of priority on a breach. Low and
/// normal cases have no SLA.
async fn desk(app: &TestApp) {
    let hours: Vec<Value> = ["mon", "tue", "wed", "thu", "fri"]
        .iter()
        .map(|day| json!({"weekday": day, "start": "09:00", "end": "17:00"}))
        .collect();
    let calendar = app
        .create(
            "/v1/business-calendars",
            json!({"name": "Oficina Madrid", "time_zone": "Europe/Madrid", "hours": hours,
                "holidays": [{"date": "2026-03-03", "name": "Fiesta"}]}),
        )
        .await;
    let rules =
        json!([{"priority": "high", "first_response_minutes": 120, "resolution_minutes": 480}]);
    app.create(
        "/v1/sla-policies",
        json!({"name": "Estándar", "calendar_id": calendar["id"], "position": 1,
            "categories": [], "active": true, "rules": rules}),
    )
    .await;
}

/// An incident of `company` of `priority`, by email; `extra` adds or overrides fields.
async fn new_case(app: &TestApp, company: &str, priority: &str, extra: Value) -> Value {
    let mut body = json!({"subject": format!("El pedido no ha llegado ({priority})"), "company_id": company,
        "channel": "email", "priority": priority, "category": "incident"});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    app.create("/v1/cases", body).await
}

async fn case_of(app: &TestApp, id: &str) -> Value {
    let r = app.get(&format!("/v1/cases/{id}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

/// `action` on a case, asserting that it was done; returns the case.
async fn done(app: &TestApp, id: &str, action: &str) -> Value {
    let r = app.act(&format!("/v1/cases/{id}/{action}")).await;
    assert_eq!(r.status, 200, "{action}: {}", r.text);
    r.body
}

/// Resolves a case; returns the survey token that only this answer shows.
async fn resolve(app: &TestApp, id: &str) -> String {
    let resolved = done(app, id, "resolve").await;
    assert_eq!(resolved["status"], "resolved");
    resolved["survey_token"]
        .as_str()
        .unwrap_or_else(|| panic!("a survey token: {resolved}"))
        .to_owned()
}

/// A comment as the bootstrap admin: a public reply or an internal note.
async fn comment(app: &TestApp, id: &str, body: &str, public: bool) -> Value {
    app.create(
        &format!("/v1/cases/{id}/comments"),
        json!({"body": body, "public": public}),
    )
    .await
}

/// A survey by its token, with no login: `GET` without an answer, `POST` with one.
async fn survey(app: &TestApp, token: &str, answer: Option<Value>) -> Response {
    let method = if answer.is_some() {
        Method::POST
    } else {
        Method::GET
    };
    app.request(method, &format!("/v1/csat/{token}"), None, answer, &[])
        .await
}

/// Answers a survey by its token, asserting that it took the answer; returns the survey.
async fn rate(app: &TestApp, token: &str, rating: i64, comment: Option<&str>) -> Value {
    let r = survey(
        app,
        token,
        Some(json!({"rating": rating, "comment": comment})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

/// A request of a portal user.
async fn portal(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Response {
    app.request(method, path, Some(token), body, &[]).await
}

fn shows_no_staff_field(case: &Value) {
    let fields = case.as_object().unwrap();
    for key in STAFF_ONLY {
        assert!(!fields.contains_key(key), "{key}: {case}");
    }
}

/// A report's body, asserting `200`.
async fn report(app: &TestApp, path: &str) -> Value {
    let r = app.get(path).await;
    assert_eq!(r.status, 200, "{path}: {}", r.text);
    r.body
}

/// Ratings as the CSAT report sums them up.
fn figures(responses: i64, average: &str, csat_bp: i64, distribution: [i64; 5]) -> Value {
    let [one, two, three, four, five] = distribution;
    json!({"responses": responses, "average_rating": average, "csat_bp": csat_bp,
        "distribution": {"1": one, "2": two, "3": three, "4": four, "5": five}})
}

/// One group of the CSAT report.
fn keyed(key: Value, mut figures: Value) -> Value {
    figures["key"] = key;
    figures
}

/// A report's groups by key.
fn by_key(report: &Value) -> BTreeMap<String, Value> {
    report["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["key"].as_str().unwrap_or("null").to_owned(), g.clone()))
        .collect()
}

async fn overview(app: &TestApp, company: &str) -> Value {
    let r = app.get(&format!("/v1/companies/{company}/overview")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

/// A case as the 360 lists it.
fn summary(case: &Value, status: &str) -> Value {
    json!({"id": case["id"], "number": case["number"], "subject": case["subject"], "status": status,
        "priority": case["priority"], "created_at": case["created_at"]})
}

/// The details of the timeline's entries of one case, sorted.
fn details(timeline: &[Value], case: &Value) -> Vec<String> {
    let number = case["number"].as_str().unwrap();
    let mut found: Vec<String> = timeline
        .iter()
        .filter(|e| e["kind"] == "case" && e["summary"].as_str().unwrap().starts_with(number))
        .map(|e| e["detail"].as_str().unwrap().to_owned())
        .collect();
    found.sort();
    found
}

on_both_backends! {
    async fn a_survey_answers_once_and_a_low_rating_flags(app: TestApp) {
        let company = id_of(&app.company("Cafetería Sol SL", json!({})).await);
        app.freeze_clock("2026-03-02T08:00:00Z").await;
        let case = new_case(&app, &company, "normal", json!({})).await;
        let id = id_of(&case);
        let token = resolve(&app, &id).await;
        assert!(token.len() >= 32, "unguessable: {token}");
        assert_eq!(case_of(&app, &id).await["survey_token"], Value::Null, "shown once");

        let r = survey(&app, &token, None).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body, json!({"case_id": id, "case_number": case["number"], "subject": case["subject"],
            "expires_at": "2026-03-16T08:00:00Z", "rating": null, "comment": null, "answered_at": null}), "open for 14 days");
        for answer in [None, Some(json!({"rating": 5}))] {
            let r = survey(&app, "no-such-survey-token", answer).await;
            assert_eq!(r.status, 404, "{}", r.text);
        }
        for rating in [0, 6] {
            let r = survey(&app, &token, Some(json!({"rating": rating}))).await;
            assert_eq!(r.status, 422, "{rating}: {}", r.text);
            assert_eq!(r.body["errors"][0]["field"], "rating");
        }
        assert_eq!(survey(&app, &token, None).await.body["answered_at"], Value::Null, "the refused answers recorded nothing");
        assert!(events_of_type(&app.case_events(&id).await, "csat_received").is_empty());

        // A 2 is at the threshold: it flags the case, which stays resolved.
        app.freeze_clock("2026-03-03T10:00:00Z").await;
        let answered = rate(&app, &token, 2, Some("Tardaron mucho")).await;
        assert_eq!((&answered["case_id"], &answered["rating"], &answered["comment"], &answered["answered_at"]),
            (&json!(id), &json!(2), &json!("Tardaron mucho"), &json!("2026-03-03T10:00:00Z")));
        let r = survey(&app, &token, Some(json!({"rating": 5}))).await;
        assert_eq!(r.status, 409, "{}", r.text);
        assert_eq!(survey(&app, &token, None).await.body, answered, "the first answer stands");
        let flagged = case_of(&app, &id).await;
        assert_eq!((&flagged["csat_flagged"], &flagged["status"]), (&json!(true), &json!("resolved")));
        let log = app.case_events(&id).await;
        let received = events_of_type(&log, "csat_received");
        assert_eq!(received.len(), 1, "{log:?}");
        assert_eq!((&received[0]["data"], &received[0]["at"]), (&json!({"rating": 2, "comment": "Tardaron mucho"}), &json!("2026-03-03T10:00:00Z")));

        // A 3 is above it.
        let fine = id_of(&new_case(&app, &company, "low", json!({})).await);
        let fine_token = resolve(&app, &fine).await;
        assert_eq!(rate(&app, &fine_token, 3, None).await["rating"], 3);
        assert_eq!(case_of(&app, &fine).await["csat_flagged"], false);
        assert_eq!(listed(&app, &app.admin_token, "csat_flagged=true").await, BTreeSet::from([id.clone()]));
        assert_eq!(listed(&app, &app.admin_token, "csat_flagged=false").await, BTreeSet::from([fine.clone()]));

        // Resolved on Tuesday at 10:00Z, the survey expires 14 days later to the second.
        let late = id_of(&new_case(&app, &company, "normal", json!({})).await);
        let late_token = resolve(&app, &late).await;
        app.freeze_clock("2026-03-17T09:59:59Z").await;
        let r = survey(&app, &late_token, None).await;
        assert_eq!((r.status.as_u16(), &r.body["expires_at"]), (200, &json!("2026-03-17T10:00:00Z")), "{}", r.text);
        app.freeze_clock("2026-03-17T10:00:00Z").await;
        for answer in [None, Some(json!({"rating": 1}))] {
            let r = survey(&app, &late_token, answer).await;
            assert_eq!(r.status, 410, "{}", r.text);
        }
        assert!(events_of_type(&app.case_events(&late).await, "csat_received").is_empty());
        assert_eq!(case_of(&app, &late).await["csat_flagged"], false);

        // With `reopen`, a low rating reopens the resolved case instead of flagging it.
        let r = app.patch("/v1/settings/service", json!({"low_csat_action": "reopen"})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["low_csat_action"], "reopen");
        let unhappy = id_of(&new_case(&app, &company, "normal", json!({})).await);
        let unhappy_token = resolve(&app, &unhappy).await;
        rate(&app, &unhappy_token, 1, Some("Sigue sin llegar")).await;
        let reopened = case_of(&app, &unhappy).await;
        assert_eq!((&reopened["status"], &reopened["csat_flagged"], &reopened["resolved_at"]), (&json!("open"), &json!(false), &Value::Null));
        let log = app.case_events(&unhappy).await;
        assert_eq!(events_of_type(&log, "csat_received")[0]["data"], json!({"rating": 1, "comment": "Sigue sin llegar"}));
        let changes: Vec<Value> = events_of_type(&log, "status_changed").iter().map(|e| e["data"].clone()).collect();
        assert!(changes.contains(&json!({"from": "resolved", "to": "open"})), "{changes:?}");
        assert_eq!(listed(&app, &app.admin_token, "csat_flagged=true").await, BTreeSet::from([id.clone()]));
        let again = done(&app, &unhappy, "resolve").await;
        assert_eq!((&again["status"], &again["survey_token"]), (&json!("resolved"), &Value::Null), "one answer per case: no second survey");
    }

    async fn refused_survey_tries_count_against_the_limit(app: TestApp) {
        let app = TestApp::spawn_configured(app.backend, |config| config.survey_per_minute = 4).await;
        let company = id_of(&app.company("Cafetería Sol SL", json!({})).await);
        app.freeze_clock("2026-03-02T08:00:30Z").await;
        let id = id_of(&new_case(&app, &company, "normal", json!({})).await);
        let token = resolve(&app, &id).await;

        // Two guessed tokens and two refused ratings use up the minute's four tries.
        for answer in [None, Some(json!({"rating": 5}))] {
            let r = survey(&app, "a-guessed-survey-token", answer).await;
            assert_eq!(r.status, 404, "{}", r.text);
        }
        for rating in [0, 6] {
            let r = survey(&app, &token, Some(json!({"rating": rating}))).await;
            assert_eq!(r.status, 422, "{rating}: {}", r.text);
        }
        for answer in [None, Some(json!({"rating": 5}))] {
            let r = survey(&app, &token, answer).await;
            assert_eq!(r.status, 429, "{}", r.text);
            assert_eq!(r.body["type"], "/problems/too-many-requests", "{}", r.text);
            assert_eq!(r.header("retry-after"), Some("30"), "the next minute of the service clock");
        }
        assert!(events_of_type(&app.case_events(&id).await, "csat_received").is_empty());

        // The next minute of the service clock counts afresh.
        app.freeze_clock("2026-03-02T08:01:00Z").await;
        assert_eq!(rate(&app, &token, 5, None).await["rating"], 5);
    }

    async fn csat_and_case_reports_match_hand_computed_values(app: TestApp) {
        desk(&app).await;
        let company = id_of(&app.company("Cafetería Sol SL", json!({})).await);
        let (ana, _, _) = app.login_new_user(Role::Support, None).await;
        let (bea, _, _) = app.login_new_user(Role::Support, None).await;

        // Friday 2026-02-27: a question created, resolved an hour later and rated 1, all in
        // February: outside both March reports.
        app.freeze_clock("2026-02-27T08:00:00Z").await;
        let february = id_of(&new_case(&app, &company, "normal", json!({"category": "question", "assignee_id": bea})).await);
        app.freeze_clock("2026-02-27T09:00:00Z").await;
        let token = resolve(&app, &february).await;
        rate(&app, &token, 1, None).await;

        // Monday 09:00 in Madrid: three high cases, their first replies due at 11:00 (10:00Z)
        // and their resolutions at 17:00 (16:00Z), and a normal complaint with no SLA.
        app.freeze_clock("2026-03-02T08:00:00Z").await;
        let quick = new_case(&app, &company, "high", json!({"assignee_id": ana})).await;
        let complaint = new_case(&app, &company, "high", json!({"category": "complaint", "channel": "phone", "assignee_id": bea})).await;
        let ignored = new_case(&app, &company, "high", json!({"assignee_id": ana})).await;
        let unrooted = new_case(&app, &company, "normal", json!({"category": "complaint", "channel": "phone"})).await;
        assert_eq!((&quick["first_response_due_at"], &quick["resolution_due_at"]), (&json!("2026-03-02T10:00:00Z"), &json!("2026-03-02T16:00:00Z")));
        assert_eq!(unrooted["sla_policy_id"], Value::Null);
        let (quick, complaint, ignored) = (id_of(&quick), id_of(&complaint), id_of(&ignored));

        app.freeze_clock("2026-03-02T08:30:00Z").await;
        comment(&app, &quick, "Lo miramos ahora", true).await;
        app.freeze_clock("2026-03-02T09:00:00Z").await;
        let token = resolve(&app, &quick).await;
        rate(&app, &token, 5, None).await;
        comment(&app, &complaint, "Lo siento mucho, lo revisamos", true).await;

        // 11:30 in Madrid: the unanswered case missed its first reply at 10:00Z. A request opened
        // now is due a first reply at 13:30 (12:30Z) and a resolution after 5.5 business hours
        // on Monday, none on the holiday and 2.5 on Wednesday: 11:30 (10:30Z) on the 4th.
        app.freeze_clock("2026-03-02T10:30:00Z").await;
        let swept = app.run_maintenance().await;
        assert_eq!((&swept["breached"], &swept["escalated"], &swept["closed"]), (&json!(1), &json!(1), &json!(0)), "{swept}");
        let breached = case_of(&app, &ignored).await;
        assert_eq!((&breached["first_response_breached_at"], &breached["priority"]), (&json!("2026-03-02T10:00:00Z"), &json!("high")));
        let waiting = new_case(&app, &company, "high", json!({"category": "request", "channel": "chat"})).await;
        assert_eq!((&waiting["first_response_due_at"], &waiting["resolution_due_at"]), (&json!("2026-03-02T12:30:00Z"), &json!("2026-03-04T10:30:00Z")));
        // The same request, at once awaiting the customer: its clocks stop before either is due.
        let paused = new_case(&app, &company, "high", json!({"category": "request", "channel": "chat"})).await;
        assert_eq!(done(&app, &id_of(&paused), "pend").await["sla_paused"], true);

        app.freeze_clock("2026-03-02T11:00:00Z").await;
        let r = app.patch(&format!("/v1/cases/{complaint}"), json!({"root_cause": {"category": "shipping", "notes": "Dejado en otra dirección", "preventive_action": "Confirmar la dirección por SMS"}})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let token = resolve(&app, &complaint).await;
        rate(&app, &token, 4, None).await;
        app.freeze_clock("2026-03-02T12:00:00Z").await;
        let token = resolve(&app, &ignored).await;
        rate(&app, &token, 2, Some("Nadie contestó")).await;

        // March's ratings: 5 (ana), 4 (bea), 2 (ana). Average 11 / 3 = 3.666… → "3.67"; 4s and
        // 5s: 2 / 3 = 6666.67 bp → 6667. Ana: (5 + 2) / 2 = "3.50", 1 / 2 = 5000 bp; bea: "4.00",
        // 10000 bp. February's 1 is left out.
        let march = "from=2026-03-01&to=2026-03-31";
        let by_assignee = report(&app, &format!("/v1/cases/csat-report?{march}&group_by=assignee")).await;
        assert_eq!(by_assignee["total"], figures(3, "3.67", 6667, [0, 1, 0, 1, 1]));
        assert_eq!(by_key(&by_assignee), BTreeMap::from([
            (ana.clone(), keyed(json!(ana), figures(2, "3.50", 5000, [0, 1, 0, 0, 1]))),
            (bea.clone(), keyed(json!(bea), figures(1, "4.00", 10000, [0, 0, 0, 1, 0]))),
        ]));
        // Incidents: 5 and 2; the complaint: 4. No case has a team.
        let by_category = report(&app, &format!("/v1/cases/csat-report?{march}&group_by=category")).await;
        assert_eq!(by_category["groups"], json!([
            keyed(json!("complaint"), figures(1, "4.00", 10000, [0, 0, 0, 1, 0])),
            keyed(json!("incident"), figures(2, "3.50", 5000, [0, 1, 0, 0, 1])),
        ]));
        let by_team = report(&app, &format!("/v1/cases/csat-report?{march}&group_by=team")).await;
        assert_eq!(by_team["groups"], json!([keyed(Value::Null, figures(3, "3.67", 6667, [0, 1, 0, 1, 1]))]));
        // February and March: 1, 5, 4, 2. Average 12 / 4 = "3.00"; 4s and 5s: 2 / 4 = 5000 bp.
        // February alone: "1.00", 0 bp.
        let by_month = report(&app, "/v1/cases/csat-report?from=2026-02-01&to=2026-03-31&group_by=month").await;
        assert_eq!(by_month, json!({"total": figures(4, "3.00", 5000, [1, 1, 0, 1, 1]), "groups": [
            keyed(json!("2026-02"), figures(1, "1.00", 0, [1, 0, 0, 0, 0])),
            keyed(json!("2026-03"), figures(3, "3.67", 6667, [0, 1, 0, 1, 1])),
        ]}));
        let none = json!({"responses": 0, "average_rating": null, "csat_bp": null, "distribution": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0}});
        assert_eq!(report(&app, "/v1/cases/csat-report?from=2026-01-01&to=2026-01-31").await, json!({"total": none, "groups": []}));
        for path in ["/v1/cases/csat-report?from=2026-03-31&to=2026-03-01", "/v1/cases/report?from=2026-03-31&to=2026-03-01"] {
            let r = app.get(path).await;
            assert_eq!(r.status, 422, "{path}: {}", r.text);
            assert_eq!(r.body["errors"][0]["field"], "to");
        }
        // The last day chrono can name has no next day to end a period at.
        for path in ["/v1/cases/csat-report", "/v1/cases/report"] {
            let r = app.get(&format!("{path}?from=%2B262142-12-31&to=%2B262142-12-31")).await;
            assert_eq!(r.status, 422, "{path}: {}", r.text);
            assert_eq!(r.body["errors"][0]["field"], "from");
        }

        // Created in March: quick, complaint, ignored (high incident, high complaint, high
        // incident), unrooted (normal complaint, no root cause yet: `unknown`), waiting and
        // paused (high requests). Resolved: quick in
        // 1 h (3600 s), complaint in 3 h (10800 s), ignored in 4 h (14400 s); nearest rank of
        // three: p50 is the ⌈1.5⌉ = 2nd, 10800, and p90 the ⌈2.7⌉ = 3rd, 14400.
        // At 12:00Z first replies: quick and complaint met, ignored breached, waiting's not due
        // until 12:30Z: 2 / 3 = 6666.67 → 6667 bp. Resolutions: three met by 16:00Z, waiting's
        // not due: 3 / 3 = 10000 bp. Unrooted has no SLA and counts in neither.
        let mut expected = json!({"cases": 6, "complaints": 2,
            "by_category": {"complaint": 2, "incident": 2, "request": 2},
            "by_priority": {"high": 5, "normal": 1},
            "by_channel": {"chat": 2, "email": 2, "phone": 2},
            "by_root_cause": {"shipping": 1, "unknown": 1},
            "time_to_resolve": {"count": 3, "p50_seconds": 10800, "p90_seconds": 14400},
            "first_response_compliance_bp": 6667, "resolution_compliance_bp": 10000,
            "by_month": [{"month": "2026-03", "cases": 6, "complaints": 2}]});
        assert_eq!(report(&app, &format!("/v1/cases/report?{march}")).await, expected);

        // Wednesday 12:00 in Madrid, no sweep since: waiting is past both due times without
        // either recorded. First replies 2 / 4 = 5000 bp; resolutions 3 / 4 = 7500 bp. Paused
        // is past the due times it had when it stopped, but its clocks are stopped: not settled.
        app.freeze_clock("2026-03-04T11:00:00Z").await;
        expected["first_response_compliance_bp"] = json!(5000);
        expected["resolution_compliance_bp"] = json!(7500);
        assert_eq!(report(&app, &format!("/v1/cases/report?{march}")).await, expected);

        // Paused is resolved now, still pending: after the due times it had when it stopped, but
        // with its clocks stopped since before them, so both targets are met. First replies
        // 3 / 5 = 6000 bp, resolutions 4 / 5 = 8000 bp. It took 2 days and 30 minutes (174600 s):
        // of four times, p50 is the 2nd, 10800, and p90 the ⌈3.6⌉ = 4th, 174600.
        let resolved = done(&app, &id_of(&paused), "resolve").await;
        assert_eq!(resolved["sla_status"], "met", "{resolved}");
        expected["first_response_compliance_bp"] = json!(6000);
        expected["resolution_compliance_bp"] = json!(8000);
        expected["time_to_resolve"] = json!({"count": 4, "p50_seconds": 10800, "p90_seconds": 174600});
        assert_eq!(report(&app, &format!("/v1/cases/report?{march}")).await, expected);

        // February: one question, resolved in an hour, with no SLA to comply with.
        let february = report(&app, "/v1/cases/report?from=2026-02-01&to=2026-02-28").await;
        assert_eq!((&february["cases"], &february["complaints"], &february["by_root_cause"]), (&json!(1), &json!(0), &json!({})));
        assert_eq!(february["time_to_resolve"], json!({"count": 1, "p50_seconds": 3600, "p90_seconds": 3600}));
        assert_eq!((&february["first_response_compliance_bp"], &february["resolution_compliance_bp"]), (&Value::Null, &Value::Null));
    }

    async fn a_portal_user_sees_only_its_company_and_no_internal_note(app: TestApp) {
        Product::new("SD-MUG", 1000, 400).ensure(&app).await;
        let a = id_of(&app.company("Alfa SL", json!({})).await);
        let b = id_of(&app.company("Beta SL", json!({})).await);
        let a_order = Order::new("sd-alfa").company(&a).line("SD-MUG", "1", 1000).push(&app).await;
        let b_order = Order::new("sd-beta").company(&b).line("SD-MUG", "1", 1000).push(&app).await;
        let token = app.portal_user(&a).await;
        let ours = id_of(&new_case(&app, &a, "high", json!({})).await);
        let theirs = id_of(&new_case(&app, &b, "normal", json!({})).await);

        let r = portal(&app, &token, Method::POST, "/v1/portal/cases", Some(json!({"subject": "La taza llegó rota",
            "description": "El asa está partida", "category": "incident", "order_id": a_order["id"]}))).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let opened = r.body;
        assert_eq!((&opened["channel"], &opened["status"], &opened["category"], &opened["order_id"]),
            (&json!("portal"), &json!("new"), &json!("incident"), &a_order["id"]));
        shows_no_staff_field(&opened);
        let staff = case_of(&app, &id_of(&opened)).await;
        assert_eq!((&staff["priority"], &staff["channel"], &staff["company_id"]), (&json!("normal"), &json!("portal"), &json!(a)));
        let r = portal(&app, &token, Method::POST, "/v1/portal/cases", Some(json!({"subject": "¿Enviáis a Portugal?"}))).await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.body["category"], "question");
        let question = id_of(&r.body);
        let r = portal(&app, &token, Method::POST, "/v1/portal/cases", Some(json!({"subject": "Otro pedido", "order_id": b_order["id"]}))).await;
        assert_eq!(r.status, 422, "another company's order: {}", r.text);
        assert_eq!(r.body["errors"][0]["field"], "order_id");
        let missing = portal(&app, &token, Method::POST, "/v1/portal/cases", Some(json!({"subject": "Otro pedido", "order_id": "0193a1b2-0000-7000-8000-000000000001"}))).await;
        assert_eq!((missing.status.as_u16(), &missing.body["errors"]), (422, &r.body["errors"]), "no hint that the other company's order exists");

        let r = portal(&app, &token, Method::GET, "/v1/portal/cases", None).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let cases = r.body["data"].as_array().unwrap();
        assert_eq!(cases.iter().map(id_of).collect::<BTreeSet<_>>(), BTreeSet::from([ours.clone(), id_of(&opened), question.clone()]));
        cases.iter().for_each(shows_no_staff_field);
        let r = portal(&app, &token, Method::GET, &format!("/v1/portal/cases/{ours}"), None).await;
        assert_eq!(r.status, 200, "{}", r.text);
        shows_no_staff_field(&r.body);
        for (method, path, body) in [
            (Method::GET, format!("/v1/portal/cases/{theirs}"), None),
            (Method::GET, format!("/v1/portal/cases/{theirs}/comments"), None),
            (Method::POST, format!("/v1/portal/cases/{theirs}/comments"), Some(json!({"body": "Hola"}))),
            (Method::POST, format!("/v1/portal/cases/{theirs}/csat"), Some(json!({"rating": 5}))),
        ] {
            let r = portal(&app, &token, method.clone(), &path, body).await;
            assert_eq!(r.status, 404, "{method} {path}: {}", r.text);
        }

        comment(&app, &ours, "Nota interna: cliente con impagos", false).await;
        comment(&app, &ours, "Lo revisamos hoy mismo", true).await;
        let path = format!("/v1/portal/cases/{ours}/comments");
        let r = portal(&app, &token, Method::GET, &path, None).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let bodies: Vec<&Value> = r.body["data"].as_array().unwrap().iter().map(|c| &c["body"]).collect();
        assert_eq!(bodies, [&json!("Lo revisamos hoy mismo")]);
        assert!(!r.text.contains("impagos"), "an internal note: {}", r.text);
        assert_eq!(app.get(&path.replace("/portal", "")).await.body["data"].as_array().unwrap().len(), 2, "staff see both");

        assert_eq!(done(&app, &ours, "pend").await["status"], "pending");
        let r = portal(&app, &token, Method::POST, &path, Some(json!({"body": "Os mando las fotos"}))).await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!((&r.body["case_id"], &r.body["public"], &r.body["from_customer"]), (&json!(ours), &json!(true), &json!(true)));
        assert_eq!(case_of(&app, &ours).await["status"], "open", "the customer's reply reopens it");
        let r = portal(&app, &token, Method::GET, &path, None).await;
        let bodies: Vec<&Value> = r.body["data"].as_array().unwrap().iter().map(|c| &c["body"]).collect();
        assert_eq!(bodies, [&json!("Lo revisamos hoy mismo"), &json!("Os mando las fotos")]);
        assert!(!r.text.contains("impagos"), "{}", r.text);

        let r = portal(&app, &token, Method::POST, &format!("/v1/portal/cases/{question}/csat"), Some(json!({"rating": 5}))).await;
        assert_eq!(r.status, 422, "not resolved, no survey: {}", r.text);
        assert_eq!(r.body["errors"][0]["field"], "rating");
        resolve(&app, &ours).await;
        resolve(&app, &theirs).await;
        let rating = format!("/v1/portal/cases/{ours}/csat");
        let r = portal(&app, &token, Method::POST, &rating, Some(json!({"rating": 5, "comment": "Muy rápidos"}))).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!((&r.body["case_id"], &r.body["rating"], &r.body["comment"]), (&json!(ours), &json!(5), &json!("Muy rápidos")));
        let r = portal(&app, &token, Method::POST, &rating, Some(json!({"rating": 1}))).await;
        assert_eq!(r.status, 409, "{}", r.text);
        let r = portal(&app, &token, Method::POST, &format!("/v1/portal/cases/{theirs}/csat"), Some(json!({"rating": 1}))).await;
        assert_eq!(r.status, 404, "another company's, with a survey open: {}", r.text);
        assert_eq!(events_of_type(&app.case_events(&ours).await, "csat_received")[0]["data"], json!({"rating": 5, "comment": "Muy rápidos"}));
        assert!(events_of_type(&app.case_events(&theirs).await, "csat_received").is_empty());
    }

    #[smoke]
    async fn the_360_and_the_timeline_show_cases(app: TestApp) {
        let company = id_of(&app.company("Cafetería Sol SL", json!({})).await);
        let other = id_of(&app.company("Otra SL", json!({})).await);
        let empty = overview(&app, &company).await;
        assert_eq!((&empty["open_cases_count"], &empty["open_cases"], &empty["last_csat"]), (&json!(0), &json!([]), &Value::Null));

        app.freeze_clock("2026-03-02T08:00:00Z").await;
        let answered = new_case(&app, &company, "normal", json!({"subject": "Factura duplicada"})).await;
        app.freeze_clock("2026-03-02T08:10:00Z").await;
        let pending = new_case(&app, &company, "high", json!({"subject": "Pedido incompleto"})).await;
        app.freeze_clock("2026-03-02T08:20:00Z").await;
        let solved = new_case(&app, &company, "low", json!({"subject": "Cambio de dirección"})).await;
        app.freeze_clock("2026-03-02T08:30:00Z").await;
        let closed = new_case(&app, &company, "normal", json!({"subject": "Tallas"})).await;
        let elsewhere = new_case(&app, &other, "normal", json!({})).await;
        app.freeze_clock("2026-03-02T09:00:00Z").await;
        comment(&app, &id_of(&answered), "Lo miramos", true).await;
        done(&app, &id_of(&pending), "pend").await;
        let solved_token = resolve(&app, &id_of(&solved)).await;
        let closed_token = resolve(&app, &id_of(&closed)).await;
        done(&app, &id_of(&closed), "close").await;

        let view = overview(&app, &company).await;
        assert_eq!(view["open_cases_count"], 2);
        assert_eq!(view["open_cases"], json!([summary(&pending, "pending"), summary(&answered, "open")]), "newest first");
        assert_eq!(view["last_csat"], Value::Null);

        app.freeze_clock("2026-03-02T10:00:00Z").await;
        rate(&app, &solved_token, 4, None).await;
        assert_eq!(overview(&app, &company).await["last_csat"], json!({"rating": 4, "case_id": solved["id"], "answered_at": "2026-03-02T10:00:00Z"}));
        app.freeze_clock("2026-03-02T11:00:00Z").await;
        rate(&app, &closed_token, 5, None).await;
        assert_eq!(overview(&app, &company).await["last_csat"], json!({"rating": 5, "case_id": closed["id"], "answered_at": "2026-03-02T11:00:00Z"}));
        let theirs = overview(&app, &other).await;
        assert_eq!((&theirs["open_cases_count"], &theirs["open_cases"], &theirs["last_csat"]),
            (&json!(1), &json!([summary(&elsewhere, "new")]), &Value::Null));

        // Twelve open: all are counted, the ten newest listed.
        let mut newest = Vec::new();
        for minute in 0..10 {
            app.freeze_clock(&format!("2026-03-02T12:{minute:02}:00Z")).await;
            newest.push(new_case(&app, &company, "low", json!({"subject": format!("Consulta {minute}")})).await);
        }
        newest.reverse();
        let view = overview(&app, &company).await;
        assert_eq!(view["open_cases_count"], 12);
        let expected: Vec<Value> = newest.iter().map(|case| summary(case, "new")).collect();
        assert_eq!(view["open_cases"], json!(expected));

        let r = app.get(&format!("/v1/companies/{company}/timeline?limit=200")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let timeline = r.body["data"].as_array().unwrap();
        let times: Vec<&str> = timeline.iter().map(|e| e["at"].as_str().unwrap()).collect();
        assert!(times.windows(2).all(|pair| pair[0] >= pair[1]), "newest first: {times:?}");
        let cases: Vec<&Value> = timeline.iter().filter(|e| e["kind"] == "case").collect();
        assert_eq!(cases.len(), 3 + 2 + 3 + 4 + 10, "{timeline:?}");
        assert!(cases.iter().all(|e| e["company_id"] == json!(company)), "{cases:?}");
        assert_eq!(details(timeline, &answered), ["commented", "created", "status_changed"]);
        assert_eq!(details(timeline, &pending), ["created", "status_changed"]);
        assert_eq!(details(timeline, &solved), ["created", "csat_received", "status_changed"]);
        assert_eq!(details(timeline, &closed), ["created", "csat_received", "status_changed", "status_changed"]);
        assert_eq!(details(timeline, &newest[0]), ["created"]);
        assert!(details(timeline, &elsewhere).is_empty(), "another company's case");
        let created = cases.iter().find(|e| e["detail"] == "created" && e["summary"].as_str().unwrap().starts_with(answered["number"].as_str().unwrap())).unwrap();
        assert_eq!(created["at"], "2026-03-02T08:00:00Z");
    }
}
