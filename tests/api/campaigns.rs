//! Campaigns: their life, costs and members, and the orders they earn by `campaign_id` or
//! `utm.campaign`.
use chrono::{Duration, Utc};
use crm_domain::access::roles::Role;
use crm_tests::{id_of, money, on_both_backends, query_value, Order, Product, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

fn today_plus(days: i64) -> String {
    (Utc::now() + Duration::days(days)).date_naive().to_string()
}

/// A campaign running from 10 days ago to 10 days ahead, with a 5-day window.
async fn campaign(app: &TestApp, code: &str, channel: &str) -> Value {
    app.create(
        "/v1/campaigns",
        json!({"name": format!("Campaign {code}"), "code": code, "channel": channel,
            "starts_on": today_plus(-10), "ends_on": today_plus(10), "attribution_window_days": 5,
            "budget": money(500_000, "EUR")}),
    )
    .await
}

async fn members_of(app: &TestApp, campaign_id: &str) -> Vec<Value> {
    let r = app
        .get(&format!("/v1/campaigns/{campaign_id}/members"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["data"].as_array().unwrap().clone()
}

on_both_backends! {
    async fn a_campaign_is_planned_then_active_then_completed_and_its_code_is_unique(app: TestApp) {
        let spring = campaign(&app, "Spring-Sale", "email").await;
        assert_eq!(spring["status"], "planned");
        assert_eq!(spring["consent_channel"], "email", "an email campaign needs email consent by default");
        assert_eq!(spring["allowed_actions"], json!(["activate", "cancel"]));
        let id = id_of(&spring);

        let again = app.post("/v1/campaigns", json!({"name": "Copy", "code": " spring-sale ", "channel": "ads",
            "starts_on": today_plus(0), "ends_on": today_plus(1)})).await;
        assert_eq!(again.status, 409, "{}", again.text);
        assert_eq!(again.body["existing_id"], id.as_str());

        let backwards = app.post("/v1/campaigns", json!({"name": "Odd", "code": "odd", "channel": "ads",
            "starts_on": today_plus(3), "ends_on": today_plus(1), "attribution_window_days": -1})).await;
        assert_eq!(backwards.status, 422, "{}", backwards.text);
        let fields: Vec<&str> = backwards.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert!(fields.contains(&"ends_on") && fields.contains(&"attribution_window_days"), "{fields:?}");
        let listed = app.get("/v1/campaigns").await;
        assert_eq!(listed.body["data"].as_array().unwrap().len(), 1, "nothing written by the refused ones");

        let early = app.act(&format!("/v1/campaigns/{id}/complete")).await;
        assert_eq!(early.status, 409, "{}", early.text);
        assert_eq!(early.body["current_state"], "planned");
        assert_eq!(early.body["allowed_actions"], json!(["activate", "cancel"]));
        let active = app.act(&format!("/v1/campaigns/{id}/activate")).await;
        assert_eq!(active.status, 200, "{}", active.text);
        assert_eq!(active.body["status"], "active");
        let done = app.act(&format!("/v1/campaigns/{id}/complete")).await;
        assert_eq!(done.body["status"], "completed");
        assert_eq!(done.body["allowed_actions"], json!([]));

        let renamed = app.patch(&format!("/v1/campaigns/{id}"), json!({"name": "Spring sale 2026", "budget": null})).await;
        assert_eq!(renamed.status, 200, "{}", renamed.text);
        assert_eq!(renamed.body["name"], "Spring sale 2026");
        assert_eq!(renamed.body["budget"], Value::Null);
        assert_eq!(renamed.body["code"], "Spring-Sale");

        // The feed shows a transaction's events once no older one is still running.
        let mut events = app.get("/v1/events?type=campaign.*").await;
        for _ in 0..50 {
            if events.body["data"].as_array().is_some_and(|d| d.len() >= 4) {
                break;
            }
            actix_rt::time::sleep(std::time::Duration::from_millis(50)).await;
            events = app.get("/v1/events?type=campaign.*").await;
        }
        assert_eq!(events.status, 200, "{}", events.text);
        let types: Vec<&str> = events.body["data"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(types, vec!["campaign.created", "campaign.activated", "campaign.completed", "campaign.updated"]);
        assert_eq!(events.body["data"][3]["data"]["name"], "Spring sale 2026", "the data is the campaign as read");
    }

    async fn costs_are_appended_in_any_currency(app: TestApp) {
        let id = id_of(&campaign(&app, "costs", "ads").await);
        let first = app.post(&format!("/v1/campaigns/{id}/costs"), json!({"amount": money(120_000, "EUR"), "incurred_on": today_plus(-1), "description": "Banners"})).await;
        assert_eq!(first.status, 201, "{}", first.text);
        let second = app.post(&format!("/v1/campaigns/{id}/costs"), json!({"amount": money(-2_000, "USD"), "incurred_on": today_plus(0), "description": "Refund of a click fee"})).await;
        assert_eq!(second.status, 201, "{}", second.text);
        let bad = app.post(&format!("/v1/campaigns/{id}/costs"), json!({"amount": money(0, "XXQ"), "incurred_on": today_plus(0), "description": ""})).await;
        assert_eq!(bad.status, 422, "{}", bad.text);
        assert_eq!(bad.body["errors"].as_array().unwrap().len(), 3, "{}", bad.text);
        let listed = app.get(&format!("/v1/campaigns/{id}/costs")).await;
        let amounts: Vec<&Value> = listed.body["data"].as_array().unwrap().iter().map(|c| &c["amount"]).collect();
        assert_eq!(amounts, vec![&money(120_000, "EUR"), &money(-2_000, "USD")]);
    }

    async fn an_email_campaign_refuses_a_contact_without_consent_and_adds_once(app: TestApp) {
        let id = id_of(&campaign(&app, "newsletter", "email").await);
        let company = app.create("/v1/companies", json!({"name": "Consenting SL"})).await;
        let willing = app.consenting_contact(json!({"last_name": "Willing", "email": "willing@example.com", "company_id": company["id"]})).await;
        let unwilling = app.create("/v1/contacts", json!({"last_name": "Unwilling", "email": "unwilling@example.com"})).await;
        let silent = app.create("/v1/companies", json!({"name": "No consent SA"})).await;
        app.create("/v1/contacts", json!({"last_name": "Quiet", "email": "quiet@example.com", "company_id": silent["id"]})).await;

        let r = app.post(&format!("/v1/campaigns/{id}/members"), json!({
            "contact_ids": [willing["id"], unwilling["id"], "0190a000-0000-7000-8000-000000000000"],
            "company_ids": [company["id"], silent["id"]]})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let outcomes: Vec<(&str, &str)> = r.body["results"].as_array().unwrap().iter()
            .map(|x| (x["outcome"].as_str().unwrap(), x["reason"].as_str().unwrap_or(""))).collect();
        assert_eq!(outcomes, vec![("added", ""), ("refused", "no_consent"), ("refused", "not_found"), ("added", ""), ("refused", "no_consent")]);

        let again = app.post(&format!("/v1/campaigns/{id}/members"), json!({"contact_ids": [willing["id"]]})).await;
        assert_eq!(again.body["results"][0]["outcome"], "existing");
        let members = members_of(&app, &id).await;
        assert_eq!(members.len(), 2);
        assert_eq!(members[0]["company_id"], company["id"], "a contact's membership names its company");

        let member = members[0]["id"].as_str().unwrap();
        let status = |s: &str| json!({"status": s});
        let forward = app.post(&format!("/v1/campaigns/{id}/members/{member}/status"), status("responded")).await;
        assert_eq!(forward.status, 200, "{}", forward.text);
        assert_eq!(forward.body["status"], "responded");
        let back = app.post(&format!("/v1/campaigns/{id}/members/{member}/status"), status("contacted")).await;
        assert_eq!(back.status, 409, "{}", back.text);
        assert_eq!(back.body["allowed_actions"], json!(["converted"]));

        let ads = id_of(&campaign(&app, "billboard", "ads").await);
        let r = app.post(&format!("/v1/campaigns/{ads}/members"), json!({"contact_ids": [unwilling["id"]]})).await;
        assert_eq!(r.body["results"][0]["outcome"], "added", "an ads campaign needs no consent");
    }

    async fn an_order_names_its_campaign_by_id_or_utm_code_and_converts_the_buyer(app: TestApp) {
        Product::new("CMP-1", 1_000, 400).ensure(&app).await;
        let spring = campaign(&app, "Spring-Sale", "ads").await;
        let id = id_of(&spring);
        let buyer = app.create("/v1/companies", json!({"name": "Buyer SL"})).await;
        let late = app.create("/v1/companies", json!({"name": "Late SL"})).await;
        for company in [&buyer, &late] {
            let r = app.post(&format!("/v1/campaigns/{id}/members"), json!({"company_ids": [company["id"]]})).await;
            assert_eq!(r.body["results"][0]["outcome"], "added", "{}", r.text);
        }

        let unknown = Order::new("cmp-unknown").company(buyer["id"].as_str().unwrap()).line("CMP-1", "1", 1_000);
        let mut body = unknown.body().clone();
        body["campaign_id"] = json!("0190a000-0000-7000-8000-000000000000");
        let r = app.request(Method::PUT, "/v1/orders/by-external-id/shop/cmp-unknown", Some(&app.admin_token.clone()), Some(body), &[]).await;
        assert_eq!(r.status, 422, "{}", r.text);
        assert_eq!(r.body["errors"][0]["field"], "campaign_id");
        assert_eq!(app.get("/v1/orders").await.body["data"], json!([]), "nothing written");
        assert!(members_of(&app, &id).await.iter().all(|m| m["status"] == "targeted"));

        let tagged = Order::new("cmp-utm").company(buyer["id"].as_str().unwrap()).line("CMP-1", "2", 1_000);
        let mut body = tagged.body().clone();
        body["utm"] = json!({"source": "newsletter", "medium": "email", "campaign": "SPRING-sale"});
        let r = app.request(Method::PUT, "/v1/orders/by-external-id/shop/cmp-utm", Some(&app.admin_token.clone()), Some(body.clone()), &[]).await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.body["campaign_id"], id.as_str(), "the code found the campaign, case ignored");
        assert_eq!(r.body["utm"]["source"], "newsletter");
        let replay = app.request(Method::PUT, "/v1/orders/by-external-id/shop/cmp-utm", Some(&app.admin_token.clone()), Some(body), &[]).await;
        assert_eq!(replay.status, 200);
        assert_eq!(replay.body["version"], r.body["version"], "the same payload changes nothing");

        let after_window = Order::new("cmp-late").company(late["id"].as_str().unwrap()).days_ago(-16).line("CMP-1", "1", 1_000);
        let mut body = after_window.body().clone();
        body["campaign_id"] = json!(id);
        let r = app.request(Method::PUT, "/v1/orders/by-external-id/shop/cmp-late", Some(&app.admin_token.clone()), Some(body), &[]).await;
        assert_eq!(r.status, 201, "{}", r.text);

        let statuses: Vec<(Value, Value)> = members_of(&app, &id).await.iter().map(|m| (m["company_id"].clone(), m["status"].clone())).collect();
        assert_eq!(statuses, vec![(buyer["id"].clone(), json!("converted")), (late["id"].clone(), json!("targeted"))],
            "the buyer within the window converted; an order past the window converts no one");
    }

    #[smoke]
    async fn the_report_matches_a_hand_count_to_the_cent(app: TestApp) {
        app.configure_issuer().await;
        Product::new("CMP-R", 1_000, 600).ensure(&app).await;
        let today = Utc::now().date_naive();
        let rate = app.request(Method::PUT, &format!("/v1/exchange-rates/USD/{today}"), Some(&app.admin_token.clone()), Some(json!({"rate": "0.9"})), &[]).await;
        assert!(rate.status.is_success(), "{}", rate.text);
        let id = id_of(&campaign(&app, "Spring-Report", "ads").await);
        for (amount, currency) in [(30_000, "EUR"), (10_000, "USD")] {
            let r = app.post(&format!("/v1/campaigns/{id}/costs"), json!({"amount": money(amount, currency), "incurred_on": today.to_string(), "description": "Ads"})).await;
            assert_eq!(r.status, 201, "{}", r.text);
        }
        let (x, y) = (app.create("/v1/companies", json!({"name": "Buyer X"})).await, app.create("/v1/companies", json!({"name": "Buyer Y"})).await);
        let added = app.post(&format!("/v1/campaigns/{id}/members"), json!({"company_ids": [x["id"], y["id"]]})).await;
        assert_eq!(added.status, 200, "{}", added.text);

        let line = |quantity: &str, discount_bp: i64| json!({"sku": "CMP-R", "quantity": quantity, "unit_price": money(1_000, "EUR"), "discount_bp": discount_bp, "tax_rate_bp": 2100});
        let send = |external: &'static str, body: Value| {
            let app = &app;
            async move {
                let r = app.request(Method::PUT, &format!("/v1/orders/by-external-id/shop/{external}"), Some(&app.admin_token.clone()), Some(body), &[]).await;
                assert_eq!(r.status, 201, "{}", r.text);
                r.body
            }
        };
        // A: 2 × 10.00 at a cost of 6.00, named by id.
        let mut a = Order::new("rep-a").company(x["id"].as_str().unwrap()).days_ago(1).line_with(line("2", 0)).body().clone();
        a["campaign_id"] = json!(id);
        send("rep-a", a).await;
        // B: 3 × 10.00 less 10%, named by its code in the UTM parameters.
        let mut b = Order::new("rep-b").company(y["id"].as_str().unwrap()).days_ago(1).line_with(line("3", 1_000)).body().clone();
        b["utm"] = json!({"campaign": "spring-report"});
        let b = send("rep-b", b).await;
        // Late: 16 days ahead, past the end (10 days ahead) and the 5-day window.
        let mut late = Order::new("rep-late").company(x["id"].as_str().unwrap()).days_ago(-16).line_with(line("5", 0)).body().clone();
        late["campaign_id"] = json!(id);
        send("rep-late", late).await;
        // One unit of B comes back into stock and is refunded (9.00 net) less a 1.00 fee, VAT included.
        let ret = app.create("/v1/returns", json!({"order_id": b["id"], "lines": [{"order_line_id": b["lines"][0]["id"], "quantity": "1", "reason": "damaged"}]})).await;
        let rid = ret["id"].as_str().unwrap();
        app.act_with(&format!("/v1/returns/{rid}/approve"), None).await;
        app.act_with(&format!("/v1/returns/{rid}/receive"), Some(json!({"lines": [{"return_line_id": ret["lines"][0]["id"], "quantity": "1", "disposition": "restock"}]}))).await;
        app.patch(&format!("/v1/returns/{rid}"), json!({"root_cause": {"category": "shipping", "notes": "n", "preventive_action": "p"}})).await;
        let resolved = app.act_with(&format!("/v1/returns/{rid}/resolve"), Some(json!({"resolution": "refund", "restocking_fee": money(100, "EUR")}))).await;
        assert_eq!(resolved.status, 200, "{}", resolved.text);

        let r = app.get(&format!("/v1/campaigns/{id}/report")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let revenue = 2_000 + 2_700;
        // B's returned unit is back in stock: its 6.00 of cost is given back.
        let cost_of_goods = 1_200 + 1_800 - 600;
        // The fee kept, net of its 21% VAT: 0.83.
        let returns = 900 - 83;
        let gross = revenue - cost_of_goods - returns;
        // 100.00 USD at 0.9.
        let spent = 30_000 + 9_000;
        let net = gross - spent;
        assert_eq!(r.body, json!({
            "campaign_id": id, "currency": "EUR", "members": 2, "responders": 2, "conversions": 2,
            "attributed_orders": 2, "outside_window_orders": 1,
            "revenue_minor": revenue, "cost_of_goods_minor": cost_of_goods, "returns_and_credits_minor": returns,
            "concessions_minor": 0, "gross_profit_minor": gross, "campaign_cost_minor": spent, "net_profit_minor": net,
            "cost_per_conversion_minor": 19_500,
            // -37,517 / 39,000 = -0.961974 and -35,117 / 39,000 = -0.900436, half away from zero.
            "roi_bp": -9_620, "revenue_roi_bp": -9_004,
        }));

        let support = app.token_for(Role::Support, None).await;
        assert_eq!(app.get_as(&support, &format!("/v1/campaigns/{id}/report")).await.status, 403);
    }

    async fn salespeople_see_their_own_campaigns_support_sees_no_money_customers_nothing(app: TestApp) {
        let (_, sales) = {
            let (id, token, _) = app.login_new_user(Role::Sales, None).await;
            (id, token)
        };
        let other_sales = app.token_for(Role::Sales, None).await;
        let support = app.token_for(Role::Support, None).await;
        let company = app.create("/v1/companies", json!({"name": "Customer SL"})).await;
        let customer = app.token_for(Role::Customer, Some(id_of(&company))).await;

        let mine = app.request(Method::POST, "/v1/campaigns", Some(&sales), Some(json!({"name": "Mine", "code": "mine", "channel": "visit",
            "starts_on": today_plus(0), "ends_on": today_plus(30), "budget": money(1_000, "EUR")})), &[]).await;
        assert_eq!(mine.status, 201, "{}", mine.text);
        let id = id_of(&mine.body);
        let path = format!("/v1/campaigns/{id}");
        assert_eq!(app.get_as(&sales, &path).await.status, 200);
        let theirs = app.get_as(&other_sales, &path).await;
        assert_eq!(theirs.status, 404, "another salesperson's campaign is not found");
        assert_eq!(app.get_as(&other_sales, "/v1/campaigns").await.body["data"], json!([]));
        let as_support = app.get_as(&support, &path).await;
        assert_eq!(as_support.status, 200);
        assert_eq!(as_support.body["budget"], Value::Null, "support does not see campaign money");
        assert_eq!(app.get_as(&support, &format!("{path}/costs")).await.status, 403);
        assert_eq!(app.get_as(&customer, &path).await.status, 403);
        assert_eq!(app.get_as(&customer, "/v1/campaigns").await.status, 403);
    }
}

on_both_backends! {
    async fn consent_is_a_history_and_an_unsubscribe_link_withdraws_it_without_login(app: TestApp) {
        let email_campaign = id_of(&campaign(&app, "letters", "email").await);
        let ana = app.consenting_contact(json!({"last_name": "Ana", "email": "ana@example.com"})).await;
        let ana_id = id_of(&ana);
        let consents = app.get(&format!("/v1/contacts/{ana_id}/consents")).await;
        assert_eq!(consents.status, 200, "{}", consents.text);
        let email = &consents.body["data"][0];
        assert_eq!((&email["channel"], &email["status"], &email["usable"], &email["source"]), (&json!("email"), &json!("granted"), &json!(true), &json!("form")));
        assert_eq!((&ana["marketing_consent"], ana["marketing_consent_at"].is_string()), (&json!(true), true), "the contact's summary of email");
        // The summary is read-only: consent is written as an event, never on the contact.
        for (method, path) in [(Method::POST, "/v1/contacts".to_owned()), (Method::PATCH, format!("/v1/contacts/{ana_id}"))] {
            let r = app.request(method, &path, Some(&app.admin_token), Some(json!({"last_name": "Ana", "marketing_consent": false})), &[]).await;
            assert_eq!(r.status, 422, "{}", r.text);
            assert_eq!(r.body["errors"][0]["field"], "marketing_consent", "{}", r.text);
        }
        assert_eq!(app.get(&format!("/v1/contacts/{ana_id}/consents/history")).await.body["data"].as_array().unwrap().len(), 1, "nothing written");
        let sms = &consents.body["data"][2];
        assert_eq!((&sms["channel"], &sms["status"], &sms["usable"]), (&json!("sms"), &Value::Null, &json!(false)), "SMS needs a grant");
        let phone = app.post(&format!("/v1/contacts/{ana_id}/consents"), json!({"channel": "phone", "status": "withdrawn", "source": "call", "lawful_basis": "legitimate_interests"})).await;
        assert_eq!(phone.status, 201, "{}", phone.text);
        let bad = app.post(&format!("/v1/contacts/{ana_id}/consents"), json!({"channel": "fax", "status": "granted", "source": "form"})).await;
        assert_eq!(bad.status, 422, "{}", bad.text);
        assert_eq!(app.post("/v1/contacts/0190a000-0000-7000-8000-000000000000/consents", json!({"channel": "email", "status": "granted", "source": "form"})).await.status, 404);

        let added = app.post(&format!("/v1/campaigns/{email_campaign}/members"), json!({"contact_ids": [ana_id]})).await;
        assert_eq!(added.body["results"][0]["outcome"], "added", "{}", added.text);
        app.create("/v1/contacts", json!({"last_name": "Ana", "email": "other-ana@example.com"})).await;
        let letters = id_of(&app.create("/v1/segments", json!({"name": "Letters", "subject": "contacts", "filter": "last_name.eq.Ana", "channel": "email"})).await);
        let counted = app.get(&format!("/v1/segments/{letters}/count")).await;
        assert_eq!((&counted.body["count"], &counted.body["excluded_no_consent"]), (&json!(1), &json!(1)), "the other Ana never agreed to email");

        let link = app.post(&format!("/v1/contacts/{ana_id}/unsubscribe-links"), json!({"channel": "email"})).await;
        assert_eq!(link.status, 201, "{}", link.text);
        let token = link.body["token"].as_str().unwrap().to_owned();
        assert!(link.body["url"].as_str().unwrap().ends_with(&format!("/v1/unsubscribe/{token}")));

        // Without login: a GET shows the channel and changes nothing.
        let anonymous = reqwest::Client::new();
        let shown = anonymous.get(app.url(&format!("/v1/unsubscribe/{token}"))).send().await.unwrap();
        assert_eq!(shown.status(), 200);
        assert_eq!(shown.json::<Value>().await.unwrap(), json!({"channel": "email", "status": "granted"}));
        // A tampered token is a 404 and changes nothing.
        let mut tampered = token.clone();
        let last = tampered.pop().unwrap();
        tampered.push(if last == 'A' { 'B' } else { 'A' });
        for method in [Method::GET, Method::POST] {
            let r = anonymous.request(method, app.url(&format!("/v1/unsubscribe/{tampered}"))).send().await.unwrap();
            assert_eq!(r.status(), 404);
        }
        let still = app.get(&format!("/v1/contacts/{ana_id}")).await;
        assert_eq!(still.body["marketing_consent"], true, "neither the GET nor the forgery withdrew");

        let done = anonymous.post(app.url(&format!("/v1/unsubscribe/{token}"))).body("List-Unsubscribe=One-Click").send().await.unwrap();
        assert_eq!(done.status(), 200);
        let after = app.get(&format!("/v1/contacts/{ana_id}")).await;
        assert_eq!(after.body["marketing_consent"], false);
        assert_eq!(members_of(&app, &email_campaign).await[0]["status"], "opted_out");
        let counted = app.get(&format!("/v1/segments/{letters}/count")).await;
        assert_eq!((&counted.body["count"], &counted.body["excluded_no_consent"]), (&json!(0), &json!(2)), "the unsubscribe dropped her from the email segment");
        assert!(app.get(&format!("/v1/segments/{letters}/members")).await.body["data"].as_array().unwrap().is_empty());
        let again = app.post(&format!("/v1/campaigns/{email_campaign}/members"), json!({"contact_ids": [ana_id]})).await;
        assert_eq!(again.body["results"][0]["outcome"], "existing");
        let other = id_of(&campaign(&app, "letters-2", "email").await);
        let refused = app.post(&format!("/v1/campaigns/{other}/members"), json!({"contact_ids": [ana_id]})).await;
        assert_eq!(refused.body["results"][0]["reason"], "no_consent", "the withdrawal holds for every email campaign");

        let timeline = app.get(&format!("/v1/contacts/{ana_id}/timeline")).await;
        let entries: Vec<(&str, &str)> = timeline.body["data"].as_array().unwrap().iter()
            .filter(|e| e["kind"] == "consent" || e["kind"] == "campaign")
            .map(|e| (e["kind"].as_str().unwrap(), e["detail"].as_str().unwrap())).collect();
        assert!(entries.contains(&("consent", "email")) && entries.contains(&("consent", "phone")), "{entries:?}");
        assert!(entries.contains(&("campaign", "opted_out")), "{entries:?}");
        let history = app.get(&format!("/v1/contacts/{ana_id}/consents/history")).await;
        let sources: Vec<(&str, &str, &str)> = history.body["data"].as_array().unwrap().iter()
            .map(|e| (e["channel"].as_str().unwrap(), e["status"].as_str().unwrap(), e["source"].as_str().unwrap())).collect();
        assert_eq!(sources, vec![("email", "granted", "form"), ("phone", "withdrawn", "call"), ("email", "withdrawn", "unsubscribe_link")]);
    }
}

on_both_backends! {
    async fn a_nested_segment_lists_counts_and_previews_the_same_members_and_feeds_a_campaign(app: TestApp) {
        let company = |name: &str, country: &str| {
            let app = &app;
            let body = json!({"name": name, "billing_address": {"country": country}, "tags": if name.starts_with('V') { json!(["vip"]) } else { json!([]) }});
            async move { id_of(&app.create("/v1/companies", body).await) }
        };
        let vera = company("Vera ES", "ES").await;
        let victor = company("Victor PT", "PT").await;
        let olga = company("Olga ES", "ES").await;
        let vanda = company("Vanda FR", "FR").await;
        let archived = company("Vito ES", "ES").await;
        assert_eq!(app.delete(&format!("/v1/companies/{archived}")).await.status, 204);
        let filter = "and(tags.contains.vip,or(billing_address.country.eq.ES,billing_address.country.eq.PT))";
        let segment = app.create("/v1/segments", json!({"name": "VIP Iberia", "subject": "companies", "filter": filter})).await;
        let id = id_of(&segment);

        let mut listed = Vec::new();
        let mut cursor = String::new();
        loop {
            let page = app.get(&format!("/v1/segments/{id}/members?limit=1{cursor}")).await;
            assert_eq!(page.status, 200, "{}", page.text);
            listed.extend(page.body["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_owned()));
            match page.body["next_cursor"].as_str() {
                Some(next) => cursor = format!("&cursor={next}"),
                None => break,
            }
        }
        assert_eq!(listed, vec![vera.clone(), victor.clone()], "VIPs in Spain or Portugal, archived ones never");
        let csv = app.request(Method::GET, &format!("/v1/segments/{id}/members"), Some(app.admin_token.as_str()), None, &[("Accept", "text/csv")]).await;
        assert_eq!(csv.status, 200, "{}", csv.text);
        assert!(csv.header("content-type").unwrap().starts_with("text/csv"), "{:?}", csv.header("content-type"));
        let rows: Vec<&str> = csv.text.lines().collect();
        assert_eq!(rows[0], "id,name,email,company_id");
        let csv_ids: Vec<&str> = rows[1..].iter().map(|r| r.split(',').next().unwrap()).collect();
        assert_eq!(csv_ids, vec![vera.as_str(), victor.as_str()], "the CSV agrees with the pages");
        assert_eq!(rows[1], format!("{vera},Vera ES,,"));
        let missing = app.request(Method::GET, "/v1/segments/0190a000-0000-7000-8000-000000000000/members", Some(app.admin_token.as_str()), None, &[("Accept", "text/csv")]).await;
        assert_eq!(missing.status, 404, "an unknown segment is a problem, not an empty CSV");
        assert_eq!(app.get(&format!("/v1/segments/{id}/count")).await.body["count"], 2);
        let preview = app.post("/v1/segments/preview", json!({"subject": "companies", "filter": filter})).await;
        assert_eq!(preview.status, 200, "{}", preview.text);
        assert_eq!(preview.body["count"], 2);
        let sampled: Vec<&str> = preview.body["sample"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
        assert_eq!(sampled, vec![vera.as_str(), victor.as_str()]);

        // A contact becomes a customer with its first order: a contacts segment gains one.
        let customers = id_of(&app.create("/v1/segments", json!({"name": "Customers", "subject": "contacts", "filter": "lifecycle_stage.eq.customer"})).await);
        assert_eq!(app.get(&format!("/v1/segments/{customers}/count")).await.body["count"], 0);
        Product::new("SEG-1", 1_000, 400).ensure(&app).await;
        Order::new("seg-1").line("SEG-1", "1", 1_000).push(&app).await;
        assert_eq!(app.get(&format!("/v1/segments/{customers}/count")).await.body["count"], 1);

        for bad in ["and(nope.eq.1)", "tags.between.vip", "and("] {
            let r = app.post("/v1/segments", json!({"name": "Bad", "subject": "companies", "filter": bad})).await;
            assert_eq!(r.status, 422, "{bad}: {}", r.text);
            assert!(r.body["errors"][0]["field"].as_str().unwrap().starts_with("filter"), "{}", r.text);
            assert_eq!(app.post("/v1/segments/preview", json!({"subject": "companies", "filter": bad})).await.status, 422);
        }
        assert_eq!(app.get("/v1/segments").await.body["data"].as_array().unwrap().len(), 2, "the bad ones wrote nothing");

        let campaign = id_of(&campaign(&app, "iberia", "visit").await);
        let added = app.post(&format!("/v1/campaigns/{campaign}/members"), json!({"segment_id": id})).await;
        assert_eq!(added.status, 200, "{}", added.text);
        let members: Vec<&str> = added.body["results"].as_array().unwrap().iter().map(|r| r["company_id"].as_str().unwrap()).collect();
        assert_eq!(members, vec![vera.as_str(), victor.as_str()]);
        assert!(!members.contains(&olga.as_str()) && !members.contains(&vanda.as_str()), "no VIP tag, or outside Iberia");

        // Activation adds the target segment's members as of then.
        let unknown = app.post("/v1/campaigns", json!({"name": "Targeted", "code": "targeted", "channel": "visit",
            "starts_on": today_plus(0), "ends_on": today_plus(9), "target_segment_id": "0190a000-0000-7000-8000-000000000000"})).await;
        assert_eq!(unknown.status, 422, "{}", unknown.text);
        assert_eq!(unknown.body["errors"][0]["field"], "target_segment_id");
        let targeted = id_of(&app.create("/v1/campaigns", json!({"name": "Targeted", "code": "targeted", "channel": "visit",
            "starts_on": today_plus(0), "ends_on": today_plus(9), "target_segment_id": id})).await);
        assert!(members_of(&app, &targeted).await.is_empty());
        assert_eq!(app.act(&format!("/v1/campaigns/{targeted}/activate")).await.status, 200);
        let companies: Vec<Value> = members_of(&app, &targeted).await.iter().map(|m| m["company_id"].clone()).collect();
        assert_eq!(companies, vec![json!(vera), json!(victor)]);

        // A page read before the segment changed cannot continue after it.
        let first = app.get(&format!("/v1/segments/{id}/members?limit=1")).await;
        let next = first.body["next_cursor"].as_str().unwrap().to_owned();
        app.patch(&format!("/v1/segments/{id}"), json!({"name": "VIP Iberia, renamed"})).await;
        assert_eq!(app.get(&format!("/v1/segments/{id}/members?cursor={next}")).await.status, 422);
    }
}

on_both_backends! {
    async fn segments_filter_companies_by_their_figures_once_the_loop_computed_them(app: TestApp) {
        Product::new("FACT-1", 1_000, 400).ensure(&app).await;
        let company = |name: &str| {
            let app = &app;
            let body = json!({"name": name});
            async move { id_of(&app.create("/v1/companies", body).await) }
        };
        let (regular, recent, lapsed) = (company("Regular").await, company("Recent").await, company("Lapsed").await);
        for (external, buyer, days) in [("f-1", &regular, 10), ("f-2", &regular, 40), ("f-3", &recent, 10), ("f-4", &lapsed, 500)] {
            Order::new(external).company(buyer).line("FACT-1", "2", 1_000).days_ago(days).push(&app).await;
        }
        let filter = "and(order_count.gte.1,profit_last_12_months.amount_minor.gte.1200)";
        let valued = id_of(&app.create("/v1/segments", json!({"name": "Valued", "subject": "companies", "filter": filter})).await);
        let loyal = id_of(&app.create("/v1/segments", json!({"name": "Loyal", "subject": "companies", "filter": "order_count.gte.2"})).await);
        assert_eq!(app.get(&format!("/v1/segments/{valued}/count")).await.body["count"], 0, "no figures before the loop computed them");

        let run = app.act("/v1/admin/maintenance/run").await;
        assert_eq!(run.status, 200, "{}", run.text);
        assert_eq!(run.body["customer_facts"], 3);
        let members = |id: String| {
            let app = &app;
            async move {
                let r = app.get(&format!("/v1/segments/{id}/members")).await;
                r.body["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
            }
        };
        assert_eq!(members(valued.clone()).await, vec![regular.clone(), recent.clone()], "1,200.00 of profit or more in the last twelve months");
        assert_eq!(members(loyal.clone()).await, vec![regular.clone()]);
        let lapsed_only = app.post("/v1/segments/preview", json!({"subject": "companies",
            "filter": "and(order_count.eq.1,profit_last_12_months.amount_minor.eq.0,clv_historical.amount_minor.eq.1200)"})).await;
        assert_eq!(lapsed_only.body["count"], 1, "{}", lapsed_only.text);
        assert_eq!(lapsed_only.body["sample"][0]["id"], lapsed.as_str());
        let bad = app.post("/v1/segments/preview", json!({"subject": "companies", "filter": "probability_alive.lt.most"})).await;
        assert_eq!(bad.status, 422, "{}", bad.text);
        assert_eq!(bad.body["errors"][0]["field"], "filter", "{}", bad.text);
        assert!(bad.text.contains("probability_alive"), "the problem names the path: {}", bad.text);

        // Between refreshes, an order adds to its customer's figures in its own transaction.
        Order::new("f-5").company(&recent).line("FACT-1", "1", 1_000).days_ago(5).push(&app).await;
        assert_eq!(members(loyal.clone()).await, vec![regular.clone(), recent.clone()], "the new order counts at once");
        let grown = "and(order_count.eq.2,profit_last_12_months.amount_minor.eq.1800,profit_last_year.amount_minor.eq.0,clv_historical.amount_minor.eq.1800)";
        let preview = || {
            let app = &app;
            async move {
                let r = app.post("/v1/segments/preview", json!({"subject": "companies", "filter": grown})).await;
                r.body["sample"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
            }
        };
        assert_eq!(preview().await, vec![recent.clone()]);
        app.run_maintenance().await;
        assert_eq!(preview().await, vec![recent.clone()], "the loop's refresh agrees");
    }
}

on_both_backends! {
    async fn contact_filters_reach_their_company_their_consent_and_dates_relative_to_the_service_clock(app: TestApp) {
        Product::new("REL-1", 1_000, 400).ensure(&app).await;
        let iberian = id_of(&app.create("/v1/companies", json!({"name": "Iberian", "billing_address": {"country": "ES"}, "tags": ["vip"]})).await);
        let gallic = id_of(&app.create("/v1/companies", json!({"name": "Gallic", "billing_address": {"country": "FR"}})).await);
        let lapsed = id_of(&app.consenting_contact(json!({"last_name": "Lapsed", "email": "rel-lapsed@example.com", "company_id": iberian})).await);
        let recent = id_of(&app.create("/v1/contacts", json!({"last_name": "Recent", "email": "rel-recent@example.com", "company_id": gallic})).await);
        let loner = id_of(&app.create("/v1/contacts", json!({"last_name": "Loner"})).await);
        Order::new("rel-lapsed").company(&iberian).days_ago(200).line("REL-1", "1", 1_000).push(&app).await;
        Order::new("rel-recent").company(&gallic).days_ago(10).line("REL-1", "1", 1_000).push(&app).await;
        app.post(&format!("/v1/contacts/{recent}/consents"), json!({"channel": "sms", "status": "withdrawn", "source": "call"})).await;

        let matching = |filter: &'static str| {
            let app = &app;
            async move {
                let r = app.get(&format!("/v1/contacts?sort=created_at&filter={}", query_value(filter))).await;
                assert_eq!(r.status, 200, "{filter}: {}", r.text);
                let mut ids: Vec<String> = r.body["data"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_owned()).collect();
                ids.sort();
                ids
            }
        };
        let sorted = |mut ids: Vec<&String>| { ids.sort(); ids.into_iter().cloned().collect::<Vec<String>>() };
        assert_eq!(matching("last_order_at.lt.-180d").await, vec![lapsed.clone()], "ordered 200 days ago");
        assert_eq!(matching("last_order_at.gte.-30d").await, vec![recent.clone()]);
        assert_eq!(matching("and(last_order_at.gt.-1y,last_order_at.lt.-26w)").await, vec![lapsed.clone()]);
        assert_eq!(matching("company.billing_address.country.eq.ES").await, vec![lapsed.clone()]);
        assert_eq!(matching("company.tags.contains.vip").await, vec![lapsed.clone()]);
        assert_eq!(matching("not(company.billing_address.country.eq.ES)").await, sorted(vec![&recent, &loner]), "no company is not Spain");
        assert_eq!(matching("company.name.is.null").await, vec![loner.clone()]);
        assert_eq!(matching("company.last_order_at.lt.-180d").await, vec![lapsed.clone()]);
        assert_eq!(matching("consent.email.eq.granted").await, vec![lapsed.clone()]);
        assert_eq!(matching("consent.sms.eq.withdrawn").await, vec![recent.clone()]);
        assert_eq!(matching("consent.email.is.null").await, sorted(vec![&recent, &loner]));

        let segment = id_of(&app.create("/v1/segments", json!({"name": "Lapsed Iberians", "subject": "contacts",
            "filter": "and(company.billing_address.country.in.(ES,PT),last_order_at.lt.-180d)"})).await);
        assert_eq!(app.get(&format!("/v1/segments/{segment}/count")).await.body["count"], 1);
        let lapsing = id_of(&app.create("/v1/segments", json!({"name": "Lapsing", "subject": "contacts", "filter": "last_order_at.lt.-180d"})).await);
        assert_eq!(app.get(&format!("/v1/segments/{lapsing}/count")).await.body["count"], 1);

        // Relative dates count from the service clock: 200 days on, the recent buyer lapsed too.
        let later = (Utc::now() + Duration::days(200)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        app.freeze_clock(&later).await;
        assert_eq!(app.get(&format!("/v1/segments/{lapsing}/count")).await.body["count"], 2);
        assert_eq!(matching("last_order_at.lt.-180d").await, sorted(vec![&lapsed, &recent]));
        let preview = app.post("/v1/segments/preview", json!({"subject": "contacts", "filter": "last_order_at.gte.-30d"})).await;
        assert_eq!(preview.body["count"], 0, "{}", preview.text);

        for (bad, named) in [("company.nope.eq.1", "company.nope"), ("last_order_at.lt.-180x", "-180x"),
            ("last_order_at.lt.-99999y", "-99999y"), ("consent.fax.eq.granted", "consent.fax"),
            ("consent.email.eq.maybe", "maybe"), ("owner.name.eq.x", "owner.name")] {
            let r = app.get(&format!("/v1/contacts?filter={}", query_value(bad))).await;
            assert_eq!(r.status, 422, "{bad}: {}", r.text);
            assert!(r.body["errors"][0]["message"].as_str().unwrap().contains(named), "{bad}: {}", r.text);
            let r = app.post("/v1/segments", json!({"name": "Bad", "subject": "contacts", "filter": bad})).await;
            assert_eq!(r.status, 422, "{bad}: {}", r.text);
        }
        let r = app.get("/v1/contacts?sort=company.name").await;
        assert_eq!(r.status, 422, "a company's column filters, it does not sort: {}", r.text);
    }
}

on_both_backends! {
    async fn a_lead_hands_its_campaign_to_its_opportunity_and_quote_and_the_quote_to_its_order(app: TestApp) {
        let spring = id_of(&campaign(&app, "spring-leads", "event").await);
        let unknown = "0190a000-0000-7000-8000-000000000000";
        let refused = app.post("/v1/leads", json!({"last_name": "Nobody", "campaign_id": unknown})).await;
        assert_eq!((refused.status.as_u16(), &refused.body["errors"][0]["field"]), (422, &json!("campaign_id")), "{}", refused.text);
        assert_eq!(app.post("/v1/leads", json!({"last_name": "Nobody", "campaign_id": "spring"})).await.status, 422, "not an id");
        assert!(app.get("/v1/leads").await.body["data"].as_array().unwrap().is_empty(), "nothing was written");

        let lead = app.create("/v1/leads", json!({"last_name": "Ruiz", "email": "ruiz@example.com", "company_name": "Ruiz Logística", "campaign_id": spring})).await;
        assert_eq!(lead["campaign_id"], json!(spring));
        let listed = app.get(&format!("/v1/leads?filter=campaign_id.eq.{spring}")).await;
        assert_eq!(listed.body["data"].as_array().unwrap().len(), 1, "{}", listed.text);
        let body = json!({"opportunity": {"name": "Fleet", "amount": money(150_000, "EUR"), "expected_close_date": today_plus(30)},
            "quote": {"currency": "EUR", "lines": [{"description": "Tracker", "quantity": "3", "unit_price": money(10_000, "EUR"), "tax_rate_bp": 2100}]}});
        let converted = app.post(&format!("/v1/leads/{}/convert", lead["id"].as_str().unwrap()), body).await;
        assert_eq!(converted.status, 200, "{}", converted.text);
        let opportunity = app.get(&format!("/v1/opportunities/{}", converted.body["opportunity_id"].as_str().unwrap())).await;
        assert_eq!(opportunity.body["campaign_id"], json!(spring), "the opportunity takes the lead's campaign");
        let quote_id = converted.body["lead"]["converted_quote_id"].as_str().or(converted.body["quote_id"].as_str()).unwrap().to_owned();
        let quote = app.get(&format!("/v1/quotes/{quote_id}")).await;
        assert_eq!(quote.body["campaign_id"], json!(spring), "so does the quote: {}", quote.text);

        // A quote of the opportunity takes its campaign unless it names one; an unknown one is refused.
        let company = opportunity.body["company_id"].as_str().unwrap().to_owned();
        let line = json!([{"description": "Spare", "quantity": "1", "unit_price": money(5_000, "EUR")}]);
        let second = app.create("/v1/quotes", json!({"opportunity_id": opportunity.body["id"], "company_id": company, "currency": "EUR", "lines": line})).await;
        assert_eq!(second["campaign_id"], json!(spring));
        let bad = app.patch(&format!("/v1/quotes/{}", second["id"].as_str().unwrap()), json!({"campaign_id": unknown})).await;
        assert_eq!((bad.status.as_u16(), &bad.body["errors"][0]["field"]), (422, &json!("campaign_id")), "{}", bad.text);
        let cleared = app.patch(&format!("/v1/quotes/{}", second["id"].as_str().unwrap()), json!({"campaign_id": null})).await;
        assert_eq!(cleared.body["campaign_id"], Value::Null, "{}", cleared.text);
        let bad = app.post("/v1/opportunities", json!({"name": "X", "company_id": company, "amount": money(1, "EUR"), "expected_close_date": today_plus(5), "campaign_id": "free text"})).await;
        assert_eq!((bad.status.as_u16(), &bad.body["errors"][0]["field"]), (422, &json!("campaign_id")), "{}", bad.text);

        // The accepted quote's order carries the campaign, and the report counts it.
        assert_eq!(app.act(&format!("/v1/quotes/{quote_id}/send")).await.status, 200);
        assert_eq!(app.act(&format!("/v1/quotes/{quote_id}/accept")).await.status, 200);
        let made = app.act(&format!("/v1/quotes/{quote_id}/convert")).await;
        assert_eq!(made.status, 200, "{}", made.text);
        let order = app.get(&format!("/v1/orders/{}", made.body["order_id"].as_str().unwrap())).await;
        assert_eq!(order.body["campaign_id"], json!(spring), "{}", order.text);
        let report = app.get(&format!("/v1/campaigns/{spring}/report")).await;
        assert_eq!(report.status, 200, "{}", report.text);
        assert_eq!((&report.body["attributed_orders"], &report.body["revenue_minor"]), (&json!(1), &json!(30_000)), "{}", report.text);
    }
}

on_both_backends! {
    async fn the_opt_in_channels_are_configured(app: TestApp) {
        // By default phone works unless withdrawn, and SMS needs a grant.
        let person = json!({"last_name": "Caller", "phone": "+34600111222"});
        let default_id = id_of(&app.create("/v1/contacts", person.clone()).await);
        let usable = |r: &crm_tests::Response| -> Vec<(String, bool)> {
            r.body["data"].as_array().unwrap().iter().map(|c| (c["channel"].as_str().unwrap().to_owned(), c["usable"].as_bool().unwrap())).collect()
        };
        let consents = app.get(&format!("/v1/contacts/{default_id}/consents")).await;
        assert_eq!(usable(&consents), vec![("email".into(), false), ("phone".into(), true), ("sms".into(), false), ("post".into(), true)]);
        let calls = id_of(&campaign(&app, "calls", "phone").await);
        let added = app.post(&format!("/v1/campaigns/{calls}/members"), json!({"contact_ids": [default_id]})).await;
        assert_eq!(added.body["results"][0]["outcome"], "added", "{}", added.text);

        // With CRM_CONSENT_OPT_IN_CHANNELS=email,phone the same person needs a grant to be called.
        let strict = TestApp::spawn_configured(app.backend, |config| config.consent_opt_in_channels = "email, phone".into()).await;
        let id = id_of(&strict.create("/v1/contacts", person).await);
        let consents = strict.get(&format!("/v1/contacts/{id}/consents")).await;
        assert_eq!(usable(&consents), vec![("email".into(), false), ("phone".into(), false), ("sms".into(), true), ("post".into(), true)]);
        let calls = id_of(&campaign(&strict, "calls", "phone").await);
        let refused = strict.post(&format!("/v1/campaigns/{calls}/members"), json!({"contact_ids": [id]})).await;
        assert_eq!(refused.body["results"][0]["reason"], "no_consent", "{}", refused.text);
        let by_phone = id_of(&strict.create("/v1/segments", json!({"name": "Callable", "subject": "contacts", "filter": "last_name.eq.Caller", "channel": "phone"})).await);
        let by_sms = id_of(&strict.create("/v1/segments", json!({"name": "Texts", "subject": "contacts", "filter": "last_name.eq.Caller", "channel": "sms"})).await);
        let count = |segment: String| { let strict = &strict; async move { let r = strict.get(&format!("/v1/segments/{segment}/count")).await; (r.body["count"].clone(), r.body["excluded_no_consent"].clone()) } };
        assert_eq!(count(by_phone.clone()).await, (json!(0), json!(1)));
        assert_eq!(count(by_sms).await, (json!(1), json!(0)), "SMS is no longer opt-in");
        strict.post(&format!("/v1/contacts/{id}/consents"), json!({"channel": "phone", "status": "granted", "source": "call"})).await;
        assert_eq!(count(by_phone).await, (json!(1), json!(0)));
        let added = strict.post(&format!("/v1/campaigns/{calls}/members"), json!({"contact_ids": [id]})).await;
        assert_eq!(added.body["results"][0]["outcome"], "added", "{}", added.text);
    }
}

on_both_backends! {
    async fn a_snapshot_keeps_the_members_a_segment_had_when_it_was_taken(app: TestApp) {
        let company = |name: &str, country: &str| {
            let app = &app;
            let body = json!({"name": name, "billing_address": {"country": country}});
            async move { id_of(&app.create("/v1/companies", body).await) }
        };
        let alba = company("Alba", "ES").await;
        let bruno = company("Bruno", "ES").await;
        company("Carla", "PT").await;
        let spain = id_of(&app.create("/v1/segments", json!({"name": "Spain", "subject": "companies", "filter": "billing_address.country.eq.ES"})).await);
        let taken = app.post(&format!("/v1/segments/{spain}/snapshot"), json!({})).await;
        assert_eq!(taken.status, 201, "{}", taken.text);
        let snapshot = id_of(&taken.body);
        assert_eq!((&taken.body["snapshot_of"], &taken.body["filter"]), (&json!(spain), &json!("billing_address.country.eq.ES")));
        assert!(taken.body["name"].as_str().unwrap().starts_with("Spain ("), "{}", taken.text);
        assert!(taken.body["snapshot_at"].is_string());
        assert_eq!(app.get(&format!("/v1/segments/{spain}")).await.body["snapshot_at"], Value::Null);

        let members = |segment: String| {
            let app = &app;
            async move {
                let mut ids = Vec::new();
                let mut cursor = String::new();
                loop {
                    let page = app.get(&format!("/v1/segments/{segment}/members?limit=1{cursor}")).await;
                    assert_eq!(page.status, 200, "{}", page.text);
                    ids.extend(page.body["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_owned()));
                    match page.body["next_cursor"].as_str() {
                        Some(next) => cursor = format!("&cursor={next}"),
                        None => return ids,
                    }
                }
            }
        };
        assert_eq!(members(snapshot.clone()).await, vec![alba.clone(), bruno.clone()]);
        let diego = company("Diego", "ES").await;
        assert_eq!(members(spain.clone()).await, vec![alba.clone(), bruno.clone(), diego.clone()], "the segment is live");
        assert_eq!(members(snapshot.clone()).await, vec![alba.clone(), bruno.clone()], "the snapshot is not");
        assert_eq!(app.get(&format!("/v1/segments/{snapshot}/count")).await.body["count"], 2);
        assert_eq!(app.delete(&format!("/v1/companies/{bruno}")).await.status, 204);
        assert_eq!(members(snapshot.clone()).await, vec![alba.clone()], "archived records are never members");
        let csv = app.request(Method::GET, &format!("/v1/segments/{snapshot}/members"), Some(app.admin_token.as_str()), None, &[("Accept", "text/csv")]).await;
        assert_eq!(csv.text.lines().count(), 2, "{}", csv.text);

        let fixed = app.patch(&format!("/v1/segments/{snapshot}"), json!({"filter": "billing_address.country.eq.PT"})).await;
        assert_eq!((fixed.status.as_u16(), &fixed.body["errors"][0]["field"]), (422, &json!("filter")), "{}", fixed.text);
        let renamed = app.patch(&format!("/v1/segments/{snapshot}"), json!({"name": "Spain, December"})).await;
        assert_eq!((renamed.status.as_u16(), &renamed.body["snapshot_of"]), (200, &json!(spain)), "{}", renamed.text);
        assert_eq!(members(snapshot.clone()).await, vec![alba.clone()]);

        let fair = id_of(&campaign(&app, "fair", "visit").await);
        let added = app.post(&format!("/v1/campaigns/{fair}/members"), json!({"segment_id": snapshot})).await;
        let added: Vec<&str> = added.body["results"].as_array().unwrap().iter().map(|r| r["company_id"].as_str().unwrap()).collect();
        assert_eq!(added, vec![alba.as_str()]);

        // On a channel, a withdrawal since the snapshot drops the person.
        let ana = id_of(&app.consenting_contact(json!({"last_name": "Snap", "email": "snap@example.com"})).await);
        let letters = id_of(&app.create("/v1/segments", json!({"name": "Letters", "subject": "contacts", "filter": "last_name.eq.Snap", "channel": "email"})).await);
        let copy = id_of(&app.post(&format!("/v1/segments/{letters}/snapshot"), json!({"name": "Letters, frozen"})).await.body);
        assert_eq!(members(copy.clone()).await, vec![ana.clone()]);
        app.post(&format!("/v1/contacts/{ana}/consents"), json!({"channel": "email", "status": "withdrawn", "source": "call"})).await;
        assert!(members(copy.clone()).await.is_empty());

        assert_eq!(app.post("/v1/segments/0190a000-0000-7000-8000-000000000000/snapshot", json!({})).await.status, 404);
        let bad = app.post(&format!("/v1/segments/{spain}/snapshot"), json!({"name": ""})).await;
        assert_eq!(bad.status, 422, "{}", bad.text);
        assert_eq!(app.delete(&format!("/v1/segments/{snapshot}")).await.status, 204);
        assert_eq!(app.get(&format!("/v1/segments/{snapshot}")).await.status, 404);
        assert_eq!(app.get("/v1/segments").await.body["data"].as_array().unwrap().len(), 3, "Spain, Letters and its copy");
    }
}

on_both_backends! {
    async fn a_merge_takes_the_duplicates_consent_tasks_plans_and_memberships_along(app: TestApp) {
        let keeper = id_of(&app.consenting_contact(json!({"last_name": "Dup", "email": "dup-1@example.com"})).await);
        let twin = id_of(&app.create("/v1/contacts", json!({"last_name": "Dup", "email": "dup-2@example.com"})).await);
        let withdrawn = app.post(&format!("/v1/contacts/{twin}/consents"), json!({"channel": "email", "status": "withdrawn", "source": "call"})).await;
        assert_eq!(withdrawn.status, 201, "{}", withdrawn.text);
        let meet = id_of(&campaign(&app, "meet", "visit").await);
        let solo = id_of(&campaign(&app, "solo", "visit").await);
        app.post(&format!("/v1/campaigns/{meet}/members"), json!({"contact_ids": [keeper, twin]})).await;
        app.post(&format!("/v1/campaigns/{solo}/members"), json!({"contact_ids": [twin]})).await;
        let task = id_of(&app.create("/v1/tasks", json!({"title": "Call the twin", "contact_id": twin})).await);

        let done = app.post(&format!("/v1/contacts/{keeper}/merge"), json!({"from": [twin]})).await;
        assert_eq!(done.status, 200, "{}", done.text);
        assert_eq!((&done.body["moved"]["consents"], &done.body["moved"]["tasks"], &done.body["moved"]["campaign_members"]), (&json!(1), &json!(1), &json!(1)), "{}", done.text);
        assert_eq!(done.body["result"]["marketing_consent"], false, "the twin's later withdrawal holds for the person");
        let consents = app.get(&format!("/v1/contacts/{keeper}/consents")).await;
        assert_eq!((&consents.body["data"][0]["status"], &consents.body["data"][0]["usable"]), (&json!("withdrawn"), &json!(false)));
        let news = id_of(&campaign(&app, "news", "email").await);
        let refused = app.post(&format!("/v1/campaigns/{news}/members"), json!({"contact_ids": [keeper]})).await;
        assert_eq!(refused.body["results"][0]["reason"], "no_consent", "{}", refused.text);
        assert_eq!(app.get(&format!("/v1/tasks/{task}")).await.body["contact_id"], json!(keeper));
        let solo_members: Vec<Value> = members_of(&app, &solo).await.iter().map(|m| m["contact_id"].clone()).collect();
        assert_eq!(solo_members, vec![json!(keeper)]);
        let mut meet_members: Vec<String> = members_of(&app, &meet).await.iter().map(|m| m["contact_id"].as_str().unwrap().to_owned()).collect();
        meet_members.sort();
        let mut both = vec![keeper.clone(), twin.clone()];
        both.sort();
        assert_eq!(meet_members, both, "where both were members, the twin's membership keeps its history");

        let (seller, _, _) = app.login_new_user(Role::Sales, None).await;
        let north = id_of(&app.create("/v1/companies", json!({"name": "North"})).await);
        let north_again = id_of(&app.create("/v1/companies", json!({"name": "North again"})).await);
        let plan = id_of(&app.create("/v1/visit-plans", json!({"company_id": north_again, "owner_id": seller, "every_weeks": 2, "next_visit_on": today_plus(20), "lead_days": 2})).await);
        let visit = id_of(&app.create("/v1/tasks", json!({"title": "Visit", "company_id": north_again})).await);
        let fair = id_of(&campaign(&app, "north-fair", "visit").await);
        app.post(&format!("/v1/campaigns/{fair}/members"), json!({"company_ids": [north_again]})).await;
        let done = app.post(&format!("/v1/companies/{north}/merge"), json!({"from": [north_again]})).await;
        assert_eq!(done.status, 200, "{}", done.text);
        assert_eq!((&done.body["moved"]["visit_plans"], &done.body["moved"]["tasks"], &done.body["moved"]["campaign_members"]), (&json!(1), &json!(1), &json!(1)), "{}", done.text);
        assert_eq!(app.get(&format!("/v1/visit-plans/{plan}")).await.body["company_id"], json!(north));
        assert_eq!(app.get(&format!("/v1/tasks/{visit}")).await.body["company_id"], json!(north));
        assert_eq!(members_of(&app, &fair).await[0]["company_id"], json!(north));
    }
}

on_both_backends! {
    async fn two_duplicates_in_one_campaign_hand_the_survivor_one_membership(app: TestApp) {
        let keeper = id_of(&app.create("/v1/contacts", json!({"last_name": "Trio", "email": "trio-1@example.com"})).await);
        let second = id_of(&app.create("/v1/contacts", json!({"last_name": "Trio", "email": "trio-2@example.com"})).await);
        let third = id_of(&app.create("/v1/contacts", json!({"last_name": "Trio", "email": "trio-3@example.com"})).await);
        let fair = id_of(&campaign(&app, "trio-fair", "visit").await);
        app.post(&format!("/v1/campaigns/{fair}/members"), json!({"contact_ids": [second, third]})).await;
        let done = app.post(&format!("/v1/contacts/{keeper}/merge"), json!({"from": [second, third]})).await;
        assert_eq!(done.status, 200, "{}", done.text);
        assert_eq!(done.body["moved"]["campaign_members"], 1, "{}", done.text);
        let mut members: Vec<String> = members_of(&app, &fair).await.iter().map(|m| m["contact_id"].as_str().unwrap().to_owned()).collect();
        members.sort();
        let mut expected = vec![keeper.clone(), third.clone()];
        expected.sort();
        assert_eq!(members, expected, "the first duplicate's membership moved; the second's stayed with it");
    }
}
