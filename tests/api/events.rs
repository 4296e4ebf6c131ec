use crm_tests::receiver::{Received, Receiver};
use crm_tests::{eur, id_of, on_both_backends, Order, Product, TestApp};
use serde_json::{json, Value};

/// Checks the Standard Webhooks signature with the reference library.
fn verify(secret: &str, received: &Received) {
    let webhook = standardwebhooks::Webhook::new(secret).unwrap();
    let mut headers = http::HeaderMap::new();
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        headers.insert(name, received.header(name).unwrap().parse().unwrap());
    }
    webhook
        .verify(received.body.as_bytes(), &headers)
        .expect("a valid Standard Webhooks signature");
}

async fn subscribe(app: &TestApp, receiver: &Receiver, types: Value) -> (String, String) {
    let endpoint = app
        .create(
            "/v1/webhook-endpoints",
            json!({"url": receiver.url, "event_types": types}),
        )
        .await;
    let secret = endpoint["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    (endpoint["id"].as_str().unwrap().to_owned(), secret)
}

/// The endpoint's deliveries once none is pending: the receiver sees an attempt before the worker
/// that made it has written down its answer.
async fn settled_deliveries(app: &TestApp, endpoint_id: &str) -> Vec<Value> {
    let mut deliveries = Vec::new();
    for _ in 0..100 {
        let page = app
            .get(&format!("/v1/webhook-endpoints/{endpoint_id}/deliveries"))
            .await;
        assert_eq!(page.status, 200, "{}", page.text);
        deliveries = page.body["data"].as_array().unwrap().clone();
        if deliveries.iter().all(|d| d["status"] != "pending") {
            return deliveries;
        }
        actix_rt::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("deliveries still pending after 20 s: {deliveries:?}");
}

on_both_backends! {
    #[smoke]
    async fn a_new_contact_reaches_the_receiver_signed_and_equal_to_its_get(app: TestApp) {
        let receiver = Receiver::start(&[]);
        let (endpoint_id, secret) = subscribe(&app, &receiver, json!(["contact.*"])).await;
        let read = app.get(&format!("/v1/webhook-endpoints/{endpoint_id}")).await;
        assert_eq!(read.status, 200);
        assert!(read.body.get("secret").is_none(), "the secret is shown once");
        assert_eq!(read.body["status"], "enabled");

        let refused = app.post("/v1/contacts", json!({"last_name": ""})).await;
        assert_eq!(refused.status, 422);
        app.create("/v1/products", json!({"sku": "EV-1", "name": "Not subscribed", "unit_price": crm_tests::eur(100)})).await;
        let contact = app.create("/v1/contacts", json!({"last_name": "Events", "email": "ev@example.com"})).await;

        let received = receiver.wait_for(1, 20).await;
        assert_eq!(received.len(), 1, "one event, and none for the refused create or the product");
        verify(&secret, &received[0]);
        let event = received[0].json();
        assert_eq!(event["type"], "contact.created");
        assert_eq!(received[0].header("webhook-id"), event["id"].as_str());
        let get = app.get(&format!("/v1/contacts/{}", contact["id"].as_str().unwrap())).await;
        assert_eq!(event["data"], get.body, "data is the resource as its GET answers");

        let feed = app.get("/v1/events?type=contact.*").await;
        assert_eq!(feed.status, 200);
        let types: Vec<&str> = feed.body["data"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["contact.created"]);
        assert_eq!(feed.body["data"][0], event, "the feed and the delivery carry the same event");
        let cursor = feed.body["next_cursor"].as_str().unwrap().to_owned();
        let after = app.get(&format!("/v1/events?type=contact.*&cursor={cursor}")).await;
        assert_eq!(after.body["data"].as_array().unwrap().len(), 0);
        assert!(after.body["next_cursor"].is_string(), "a poller always gets a cursor");

        let deliveries = settled_deliveries(&app, &endpoint_id).await;
        assert_eq!(deliveries[0]["status"], "succeeded");
        assert_eq!(deliveries[0]["attempts"][0]["status_code"], 200);
    }

    async fn a_failed_attempt_is_retried_with_the_same_id_and_body(app: TestApp) {
        let receiver = Receiver::start(&[500]);
        let (endpoint_id, secret) = subscribe(&app, &receiver, json!(["*"])).await;
        app.create("/v1/contacts", json!({"last_name": "Retry"})).await;
        let received = receiver.wait_for(2, 30).await;
        assert_eq!(received.len(), 2, "the first answer was 500, so it came again");
        assert_eq!(received[0].header("webhook-id"), received[1].header("webhook-id"));
        assert_eq!(received[0].body, received[1].body);
        verify(&secret, &received[1]);
        let deliveries = settled_deliveries(&app, &endpoint_id).await;
        let attempts = deliveries[0]["attempts"].as_array().unwrap().clone();
        assert_eq!(attempts.len(), 2);
        assert_eq!(attempts[0]["status_code"], 500);
        assert_eq!(attempts[1]["status_code"], 200);
    }

    async fn after_a_rotation_each_secret_signs(app: TestApp) {
        let receiver = Receiver::start(&[]);
        let (endpoint_id, old_secret) = subscribe(&app, &receiver, json!(["contact.created"])).await;
        let rotated = app.post(&format!("/v1/webhook-endpoints/{endpoint_id}/rotate-secret"), json!({"overlap_seconds": 3600})).await;
        assert_eq!(rotated.status, 200, "{}", rotated.text);
        let new_secret = rotated.body["secret"].as_str().unwrap().to_owned();
        assert_ne!(new_secret, old_secret);
        app.create("/v1/contacts", json!({"last_name": "Rotated"})).await;
        let received = receiver.wait_for(1, 20).await;
        assert_eq!(received.len(), 1);
        assert_eq!(received[0].header("webhook-signature").unwrap().split(' ').count(), 2);
        verify(&old_secret, &received[0]);
        verify(&new_secret, &received[0]);
    }

    async fn a_range_replay_sends_the_events_again(app: TestApp) {
        let receiver = Receiver::start(&[]);
        let (endpoint_id, _) = subscribe(&app, &receiver, json!(["*"])).await;
        let sent = app.post(&format!("/v1/webhook-endpoints/{endpoint_id}/test"), json!({})).await;
        assert_eq!(sent.status, 202, "{}", sent.text);
        app.create("/v1/contacts", json!({"last_name": "Replayed"})).await;
        assert_eq!(receiver.wait_for(2, 20).await.len(), 2);
        let other = app.create("/v1/webhook-endpoints", json!({"url": "https://hooks.example.com/other", "event_types": ["*"]})).await;
        let other_id = other["id"].as_str().unwrap();
        let r = app.post(&format!("/v1/webhook-endpoints/{other_id}/replay"), json!({"since": "2000-01-01T00:00:00Z"})).await;
        assert_eq!(r.status, 202, "{}", r.text);
        let replay = app.post(&format!("/v1/webhook-endpoints/{endpoint_id}/replay"), json!({"since": "2000-01-01T00:00:00Z"})).await;
        assert_eq!(replay.status, 202, "{}", replay.text);
        assert_eq!(replay.body["replayed"], 1, "the contact again; a test event is not replayed");
        let received = receiver.wait_for(3, 20).await;
        assert_eq!(received.len(), 3);
        assert_eq!(received[2].json()["type"], "contact.created");
    }

    async fn each_endpoint_gets_the_events_after_its_own_start_that_it_subscribes_to(app: TestApp) {
        let (early, late, products) = (Receiver::start(&[]), Receiver::start(&[]), Receiver::start(&[]));
        subscribe(&app, &early, json!(["contact.*"])).await;
        app.create("/v1/contacts", json!({"last_name": "Before"})).await;
        subscribe(&app, &late, json!(["contact.created"])).await;
        subscribe(&app, &products, json!(["product.*"])).await;
        app.create("/v1/contacts", json!({"last_name": "After"})).await;
        app.create("/v1/products", json!({"sku": "EV-FAN", "name": "Fanned", "unit_price": eur(100)})).await;
        let names = |received: Vec<Received>| {
            let mut names: Vec<String> = received.iter().map(|r| {
                let event = r.json();
                format!("{} {}", event["type"].as_str().unwrap(), event["data"]["last_name"].as_str().or(event["data"]["sku"].as_str()).unwrap())
            }).collect();
            names.sort();
            names
        };
        assert_eq!(names(early.wait_for(2, 20).await), ["contact.created After", "contact.created Before"]);
        assert_eq!(names(products.wait_for(1, 20).await), ["product.created EV-FAN"]);
        assert_eq!(names(late.wait_for(2, 3).await), ["contact.created After"], "nothing from before its start");
        assert_eq!(early.received().len(), 2, "each event once");
    }

    async fn unknown_event_types_and_internal_targets_are_refused(app: TestApp) {
        let r = app.post("/v1/webhook-endpoints", json!({"url": "https://hooks.example.com/x", "event_types": ["order.shipped"]})).await;
        assert_eq!(r.status, 422);
        assert_eq!(r.body["errors"][0]["field"], "event_types[0]");
        let r = app.post("/v1/webhook-endpoints", json!({"url": "http://169.254.169.254/latest", "event_types": ["*"]})).await;
        assert_eq!(r.status, 422, "metadata stays refused even with the flags");
        let listed = app.get("/v1/webhook-endpoints").await;
        assert_eq!(listed.body["data"].as_array().unwrap().len(), 0, "nothing was stored");
    }

    async fn an_invoice_issued_paid_and_credited_tells_each_step_once(app: TestApp) {
        app.configure_issuer().await;
        Product::new("EV-INV", 1000, 600).ensure(&app).await;
        let company = id_of(&app.company("Evented SL", json!({"tax_id": "ESB12345678"})).await);
        let order = Order::new("EV-ORD-1").company(&company).line("EV-INV", "2", 1000).push(&app).await;
        let invoice = app.issued_invoice(&company, &order).await;
        let path = format!("/v1/invoices/{invoice}");
        let issued = app.get(&path).await.body;
        let paid = app.post(&format!("{path}/payments"), json!({"amount": eur(2420), "paid_on": "2026-03-05"})).await;
        assert_eq!(paid.status, 201, "{}", paid.text);
        assert_eq!(paid.body["status"], "paid");
        let after_payment = app.get(&path).await.body;
        let note = app.post(&format!("{path}/credit-notes"), json!({"reason": "One unit returned",
            "lines": [{"invoice_line_id": issued["lines"][0]["id"], "quantity": "1"}]})).await;
        assert_eq!(note.status, 201, "{}", note.text);
        let note_path = format!("/v1/invoices/{}", id_of(&note.body));
        let drafted_note = app.get(&note_path).await.body;
        let issued_note = app.act(&format!("{note_path}/issue")).await;
        assert_eq!(issued_note.status, 200, "{}", issued_note.text);

        let expected = ["invoice.created", "invoice.issued", "invoice.payment_recorded", "invoice.paid",
            "credit_note.created", "credit_note.issued", "invoice.credited"];
        // An event shows once no transaction that could commit before it is still running.
        let mut events = Vec::new();
        for _ in 0..100 {
            let feed = app.get("/v1/events?type=invoice.*,credit_note.*").await;
            assert_eq!(feed.status, 200, "{}", feed.text);
            events = feed.body["data"].as_array().unwrap().clone();
            if events.len() >= expected.len() {
                break;
            }
            actix_rt::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(types, expected, "each step once, in order, and nothing of the order or company");

        let data = |i: usize| events[i]["data"].clone();
        assert_eq!(data(0)["id"], invoice.as_str());
        assert_eq!(data(0)["status"], "draft", "created: the draft as it was");
        assert_eq!(data(1), issued, "issued: the invoice as its GET answered then");
        assert_eq!(data(2), after_payment);
        assert_eq!(data(3), after_payment, "paid: the invoice once paid in full");
        assert_eq!(data(4), drafted_note);
        let (note_now, invoice_now) = (app.get(&note_path).await.body, app.get(&path).await.body);
        assert_eq!(data(5), note_now, "the issued credit note as its GET answers now");
        assert_eq!(data(6), invoice_now, "credited: the invoice as its GET answers now");
        assert_eq!(invoice_now["credited"], eur(1210));
        assert_ne!(data(6), after_payment, "crediting changed the invoice");
    }

    async fn sales_and_customers_may_not_read_events_or_endpoints(app: TestApp) {
        let sales = app.token_for(crm_domain::access::roles::Role::Sales, None).await;
        for path in ["/v1/events", "/v1/webhook-endpoints"] {
            let r = app.get_as(&sales, path).await;
            assert_eq!(r.status, 403, "{path}");
        }
    }
}

const RECEIVER_SETTINGS: [(&str, &str); 2] = [
    ("CRM_WEBHOOK_ALLOW_HTTP", "true"),
    ("CRM_WEBHOOK_ALLOW_PRIVATE", "true"),
];

async fn send(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<Value>,
) -> crate::nodes::Reply {
    crate::nodes::send(client, method, url, token, body, &[]).await
}

/// Subscribes `url` to `contact.created` through the node at `base`; returns the endpoint's id.
async fn subscribe_on(client: &reqwest::Client, base: &str, token: &str, url: &str) -> String {
    let body = json!({"url": url, "event_types": ["contact.created"]});
    let url = format!("{base}/v1/webhook-endpoints");
    let endpoint = send(client, reqwest::Method::POST, url, token, Some(body)).await;
    assert_eq!(endpoint.status, 201, "{}", endpoint.text);
    endpoint.body["id"].as_str().unwrap().to_owned()
}

/// Reads the feed from `cursor` to its end; returns the events and where it stopped.
async fn read_feed(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    cursor: &mut Option<String>,
) -> Vec<Value> {
    let mut events = Vec::new();
    loop {
        let query = cursor
            .as_ref()
            .map_or(String::new(), |c| format!("&cursor={c}"));
        let url = format!("{base}/v1/events?type=contact.created&limit=200{query}");
        let page = send(client, reqwest::Method::GET, url, token, None).await;
        assert_eq!(page.status, 200, "{}", page.text);
        let data = page.body["data"].as_array().unwrap().clone();
        *cursor = Some(page.body["next_cursor"].as_str().unwrap().to_owned());
        if data.is_empty() {
            return events;
        }
        events.extend(data);
    }
}

#[actix_rt::test]
#[cfg_attr(not(crm_test_postgres), ignore = "needs CRM_TEST_POSTGRES_URL")]
async fn under_two_node_load_a_cursor_reader_sees_each_event_once() {
    use futures_util::stream::{self, StreamExt};
    let db = crate::nodes::SharedDatabase::create();
    let crate::nodes::TwoNodes {
        processes: _processes,
        base_a,
        base_b,
        token,
        client,
    } = db.start_two_nodes_with(&RECEIVER_SETTINGS);
    let receiver = Receiver::start(&[]);
    subscribe_on(&client, &base_a, &token, &receiver.url).await;

    const CONTACTS: usize = 150;
    let writes = stream::iter(0..CONTACTS)
        .map(|i| {
            let (client, token) = (&client, &token);
            let base = if i % 2 == 0 { &base_a } else { &base_b };
            async move {
                let body = json!({"last_name": format!("Load {i}")});
                let r = send(
                    client,
                    reqwest::Method::POST,
                    format!("{base}/v1/contacts"),
                    token,
                    Some(body),
                )
                .await;
                assert_eq!(r.status, 201, "{}", r.text);
                r.body["id"].as_str().unwrap().to_owned()
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<String>>();
    // The reader polls while the writes commit, alternating between the nodes.
    let reader = async {
        let mut cursor = None;
        let mut seen = Vec::new();
        for round in 0..400 {
            let base = if round % 2 == 0 { &base_a } else { &base_b };
            seen.extend(read_feed(&client, base, &token, &mut cursor).await);
            if seen.len() >= CONTACTS {
                break;
            }
            actix_rt::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        seen
    };
    let (created, seen) = futures_util::future::join(writes, reader).await;
    let seen_ids: Vec<&str> = seen
        .iter()
        .map(|e| e["data"]["id"].as_str().unwrap())
        .collect();
    let unique: std::collections::BTreeSet<&str> = seen_ids.iter().copied().collect();
    assert_eq!(seen_ids.len(), unique.len(), "no event twice");
    let created: std::collections::BTreeSet<&str> = created.iter().map(String::as_str).collect();
    assert_eq!(unique, created, "every event, none passed over");

    let delivered = receiver.wait_for(CONTACTS, 60).await;
    let ids: std::collections::BTreeSet<String> = delivered
        .iter()
        .map(|r| r.json()["data"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), CONTACTS, "every event reached the receiver");
}

#[actix_rt::test]
#[cfg_attr(not(crm_test_postgres), ignore = "needs CRM_TEST_POSTGRES_URL")]
async fn a_killed_node_loses_no_delivery_and_a_stopped_one_releases_its_claims_at_once() {
    let db = crate::nodes::SharedDatabase::create();
    let mut settings = RECEIVER_SETTINGS.to_vec();
    settings.extend([
        ("CRM_WEBHOOK_TIMEOUT_SECONDS", "5"),
        ("CRM_WEBHOOK_LEASE_SECONDS", "10"),
        ("CRM_WEBHOOK_CONCURRENCY", "2"),
    ]);
    let (mut first, base) = db.start_node_with(&settings);
    let (token, client) = (db.admin_token(), reqwest::Client::new());
    let receiver = Receiver::start_slow(&[], std::time::Duration::from_secs(2));
    let endpoint_id = subscribe_on(&client, &base, &token, &receiver.url).await;
    for i in 0..6 {
        let r = send(
            &client,
            reqwest::Method::POST,
            format!("{base}/v1/contacts"),
            &token,
            Some(json!({"last_name": format!("Kill {i}")})),
        )
        .await;
        assert_eq!(r.status, 201);
    }
    assert!(
        !receiver.wait_for(1, 20).await.is_empty(),
        "the first node is delivering"
    );
    first.kill();

    let (mut second, second_base) = db.start_node_with(&settings);
    let deliveries = format!("{second_base}/v1/webhook-endpoints/{endpoint_id}/deliveries");
    let mut statuses = Vec::new();
    for _ in 0..120 {
        let page = send(
            &client,
            reqwest::Method::GET,
            deliveries.clone(),
            &token,
            None,
        )
        .await;
        statuses = page.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["status"].as_str().unwrap().to_owned())
            .collect();
        if statuses.len() == 6 && statuses.iter().all(|s| s == "succeeded") {
            break;
        }
        actix_rt::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert_eq!(
        statuses,
        vec!["succeeded"; 6],
        "the killed node's claims came back when their lease ran out"
    );

    // A node stopped with SIGTERM gives its claims back as it exits.
    for i in 0..6 {
        let r = send(
            &client,
            reqwest::Method::POST,
            format!("{second_base}/v1/contacts"),
            &token,
            Some(json!({"last_name": format!("Term {i}")})),
        )
        .await;
        assert_eq!(r.status, 201);
    }
    let before = receiver.received().len();
    for _ in 0..100 {
        if receiver.received().len() > before {
            break;
        }
        actix_rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    second.terminate();
    let pool = crm_tests::test_pool(&crm_store::DatabaseUrl::parse(&db.url).unwrap(), 1);
    let held: i64 = {
        use diesel::prelude::*;
        let mut conn = pool.get().unwrap();
        crm_store::platform::schema::webhook_deliveries::table
            .filter(crm_store::platform::schema::webhook_deliveries::claim_token.is_not_null())
            .count()
            .get_result(&mut conn)
            .unwrap()
    };
    assert_eq!(held, 0, "no claim outlives the node that stopped");
}

/// The address dialled is checked when it is dialled: a receiver subscribed while private
/// targets were allowed, whose name resolves to loopback, is not called once they are not.
#[actix_rt::test]
#[cfg_attr(not(crm_test_postgres), ignore = "needs CRM_TEST_POSTGRES_URL")]
async fn a_name_resolving_to_loopback_is_not_called() {
    let db = crate::nodes::SharedDatabase::create();
    let (token, client) = (db.admin_token(), reqwest::Client::new());
    let receiver = Receiver::start(&[]);
    let by_name = receiver.url.replace("127.0.0.1", "localhost");
    let (mut permissive, base) = db.start_node_with(&RECEIVER_SETTINGS);
    let endpoint_id = subscribe_on(&client, &base, &token, &by_name).await;
    permissive.terminate();

    let (_strict, base) = db.start_node_with(&[("CRM_WEBHOOK_ALLOW_HTTP", "true")]);
    let r = send(
        &client,
        reqwest::Method::POST,
        format!("{base}/v1/contacts"),
        &token,
        Some(json!({"last_name": "Rebound"})),
    )
    .await;
    assert_eq!(r.status, 201);
    let refused = send(
        &client,
        reqwest::Method::POST,
        format!("{base}/v1/webhook-endpoints"),
        &token,
        Some(json!({"url": by_name, "event_types": ["*"]})),
    )
    .await;
    assert_eq!(
        refused.status, 422,
        "subscribing it now is refused: {}",
        refused.text
    );
    let deliveries = format!("{base}/v1/webhook-endpoints/{}/deliveries", endpoint_id);
    let mut attempts = Vec::new();
    for _ in 0..60 {
        let page = send(
            &client,
            reqwest::Method::GET,
            deliveries.clone(),
            &token,
            None,
        )
        .await;
        attempts = page.body["data"][0]["attempts"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if !attempts.is_empty() {
            break;
        }
        actix_rt::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(!attempts.is_empty(), "the delivery was attempted");
    assert!(attempts[0]["status_code"].is_null());
    let error = attempts[0]["error"].as_str().unwrap();
    assert!(error.contains("loopback or private"), "{error}");
    assert!(
        receiver.received().is_empty(),
        "the receiver was never called"
    );
}
