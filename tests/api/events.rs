use crm_tests::receiver::{Received, Receiver};
use crm_tests::{on_both_backends, TestApp};
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

on_both_backends! {
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

        let deliveries = app.get(&format!("/v1/webhook-endpoints/{endpoint_id}/deliveries")).await;
        assert_eq!(deliveries.body["data"][0]["status"], "succeeded");
        assert_eq!(deliveries.body["data"][0]["attempts"][0]["status_code"], 200);
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
        let deliveries = app.get(&format!("/v1/webhook-endpoints/{endpoint_id}/deliveries")).await;
        let attempts = deliveries.body["data"][0]["attempts"].as_array().unwrap().clone();
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

    async fn unknown_event_types_and_internal_targets_are_refused(app: TestApp) {
        let r = app.post("/v1/webhook-endpoints", json!({"url": "https://hooks.example.com/x", "event_types": ["order.shipped"]})).await;
        assert_eq!(r.status, 422);
        assert_eq!(r.body["errors"][0]["field"], "event_types[0]");
        let r = app.post("/v1/webhook-endpoints", json!({"url": "http://169.254.169.254/latest", "event_types": ["*"]})).await;
        assert_eq!(r.status, 422, "metadata stays refused even with the flags");
        let listed = app.get("/v1/webhook-endpoints").await;
        assert_eq!(listed.body["data"].as_array().unwrap().len(), 0, "nothing was stored");
    }

    async fn sales_and_customers_may_not_read_events_or_endpoints(app: TestApp) {
        let sales = app.token_for(crm_domain::access::roles::Role::Sales, None).await;
        for path in ["/v1/events", "/v1/webhook-endpoints"] {
            let r = app.get_as(&sales, path).await;
            assert_eq!(r.status, 403, "{path}");
        }
    }
}
