//! Two API processes on one PostgreSQL database. What one process guarantees must hold across
//! both: gapless invoice numbers (in invoices.rs), idempotency keys and ETag preconditions.
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crm_domain::access::roles::Role;
use crm_store::DatabaseUrl;
use crm_tests::{Backend, TestDb};
use futures_util::stream::{self, StreamExt};
use reqwest::Method;
use serde_json::{json, Value};

/// Kills the child process when the test ends, however it ends.
pub struct Node(Child);

impl Node {
    /// Sends SIGTERM, as an orchestrator stopping the node does, and waits for it to exit.
    pub fn terminate(&mut self) {
        Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .unwrap();
        self.0.wait().unwrap();
    }

    /// Kills the process at once, as a crash does.
    pub fn kill(&mut self) {
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A migrated PostgreSQL database with one admin.
pub struct SharedDatabase {
    _db: TestDb,
    pub url: String,
    pub admin_id: String,
    pub secret: String,
}

impl SharedDatabase {
    pub fn create() -> SharedDatabase {
        let (db, url) = TestDb::migrated(Backend::Postgres);
        let database_url = DatabaseUrl::parse(&url).unwrap();
        let pool = crm_tests::test_pool(&database_url, 2);
        let (admin_id, _) = crm::app::create_user(
            &pool,
            "admin@example.com",
            Role::Admin,
            None,
            Some("a long test passphrase".into()),
        )
        .unwrap();
        SharedDatabase {
            _db: db,
            url,
            admin_id,
            secret: format!("two-nodes-secret-{}", uuid::Uuid::now_v7().simple()),
        }
    }

    /// Starts an API process on this database; returns it with its base URL.
    pub fn start_node(&self) -> (Node, String) {
        self.start_node_with(&[])
    }

    /// Starts an API process with more `CRM_*` settings.
    pub fn start_node_with(&self, settings: &[(&str, &str)]) -> (Node, String) {
        // With `TEST_LOG=1` the node's warnings and errors go to the test's stderr, as an
        // in-process server's do.
        let logs = if std::env::var("TEST_LOG").is_ok_and(|v| v == "1") {
            Stdio::inherit()
        } else {
            Stdio::null()
        };
        let mut child = Command::new(env!("CARGO_BIN_EXE_crm-node"))
            .arg("serve")
            // Every client of the tests calls from loopback, and races call as fast as they can.
            .env("CRM_SURVEY_PER_MINUTE", "100000")
            .env("CRM_RATE_LIMIT_PER_MINUTE", "0")
            .envs(settings.iter().copied())
            .env("CRM_BIND", "127.0.0.1:0")
            .env("CRM_DATABASE_URL", &self.url)
            .env("CRM_JWT_SECRET", &self.secret)
            .env("CRM_MIGRATE_ON_START", "false")
            .env("CRM_WORKERS", "2")
            .env("CRM_POOL_SIZE", "8")
            .env(
                "CRM_POOL_TIMEOUT_MS",
                crm_tests::POOL_WAIT.as_millis().to_string(),
            )
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(logs)
            .spawn()
            .expect("crm-node starts");
        let stdout = child.stdout.take().expect("stdout");
        let node = Node(child);
        let line = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find(|l| l.starts_with("CRM API listening on "))
            .expect("the node says where it listens");
        let base = line
            .trim_start_matches("CRM API listening on ")
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned();
        (node, base)
    }

    pub fn admin_token(&self) -> String {
        let now = chrono::Utc::now().timestamp();
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &json!({"sub": self.admin_id, "role": "admin", "iat": now, "nbf": now, "exp": now + 600}),
            &jsonwebtoken::EncodingKey::from_secret(self.secret.as_bytes()),
        )
        .unwrap()
    }
}

/// Two API processes on one database, with an admin token and a client.
pub struct TwoNodes {
    /// Bind it (`processes: _processes`): the processes stop when it is dropped.
    pub processes: (Node, Node),
    pub base_a: String,
    pub base_b: String,
    pub token: String,
    pub client: reqwest::Client,
}

impl SharedDatabase {
    pub fn start_two_nodes(&self) -> TwoNodes {
        self.start_two_nodes_with(&[])
    }

    /// Two nodes on the test clock, each running the maintenance loop and the SLA sweep by
    /// itself every second.
    pub fn start_two_sweeping_nodes(&self) -> TwoNodes {
        self.start_two_nodes_with(&[("CRM_TEST_CLOCK", "true"), ("CRM_SLA_SWEEP_SECONDS", "1")])
    }

    pub fn start_two_nodes_with(&self, settings: &[(&str, &str)]) -> TwoNodes {
        let (a, base_a) = self.start_node_with(settings);
        let (b, base_b) = self.start_node_with(settings);
        TwoNodes {
            processes: (a, b),
            base_a,
            base_b,
            token: self.admin_token(),
            client: reqwest::Client::new(),
        }
    }
}

/// A response, read whole.
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub text: String,
}

/// Sends `body` (none for a bare action) with `token` and `headers`; the whole response.
pub async fn send(
    client: &reqwest::Client,
    method: Method,
    url: String,
    token: &str,
    body: Option<Value>,
    headers: &[(&str, String)],
) -> Reply {
    let mut request = client.request(method, url).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    Reply {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    }
}

#[actix_rt::test]
#[cfg_attr(not(crm_test_postgres), ignore = "needs CRM_TEST_POSTGRES_URL")]
async fn an_idempotency_key_sent_to_two_processes_at_once_runs_once() {
    let db = SharedDatabase::create();
    let TwoNodes {
        processes: _processes,
        base_a,
        base_b,
        token,
        client,
    } = db.start_two_nodes();
    const KEYS: usize = 40;
    // Each key goes three times to each process, all at once.
    let attempts: Vec<(usize, &String)> = (0..KEYS)
        .flat_map(|k| (0..6).map(move |i| (k, i)))
        .map(|(k, i)| (k, if i % 2 == 0 { &base_a } else { &base_b }))
        .collect();
    let replies: Vec<(usize, Reply)> = stream::iter(attempts)
        .map(|(k, base)| {
            let (client, token) = (&client, &token);
            async move {
                let body = json!({"last_name": "Node", "email": format!("node-{k}@example.com")});
                let key = [("Idempotency-Key", format!("two-nodes-{k}"))];
                let url = format!("{base}/v1/contacts");
                (
                    k,
                    send(client, Method::POST, url, token, Some(body), &key).await,
                )
            }
        })
        .buffer_unordered(24)
        .collect()
        .await;
    let mut created: HashMap<usize, Vec<String>> = HashMap::new();
    for (k, reply) in &replies {
        match reply.status {
            201 => created.entry(*k).or_default().push(reply.text.clone()),
            409 => assert_eq!(
                reply.body["code"], "idempotency_in_progress",
                "a concurrent duplicate waits for the first, it does not run: {}",
                reply.text
            ),
            _ => panic!("unexpected {}: {}", reply.status, reply.text),
        }
    }
    for k in 0..KEYS {
        let first = created.get(&k).and_then(|bodies| bodies.first()).cloned();
        let first = match first {
            Some(body) => body,
            None => {
                // Every attempt met another in flight: a retry after they end gets the result.
                let body = json!({"last_name": "Node", "email": format!("node-{k}@example.com")});
                let key = [("Idempotency-Key", format!("two-nodes-{k}"))];
                let url = format!("{base_a}/v1/contacts");
                let reply = send(&client, Method::POST, url, &token, Some(body), &key).await;
                assert_eq!(reply.status, 201, "{}", reply.text);
                reply.text
            }
        };
        for body in created.get(&k).into_iter().flatten() {
            assert_eq!(body, &first, "every 201 for key {k} is the same response");
        }
        let body = json!({"last_name": "Node", "email": format!("node-{k}@example.com")});
        let key = [("Idempotency-Key", format!("two-nodes-{k}"))];
        let replay = send(
            &client,
            Method::POST,
            format!("{base_b}/v1/contacts"),
            &token,
            Some(body),
            &key,
        )
        .await;
        assert_eq!(replay.status, 201);
        assert_eq!(
            replay.text, first,
            "the other process replays the stored response"
        );
        let listed = client
            .get(format!("{base_b}/v1/contacts?email=node-{k}@example.com"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap();
        assert_eq!(
            listed["data"].as_array().unwrap().len(),
            1,
            "key {k} made one contact"
        );
    }
}

#[actix_rt::test]
#[cfg_attr(not(crm_test_postgres), ignore = "needs CRM_TEST_POSTGRES_URL")]
async fn one_if_match_version_wins_once_across_two_processes() {
    let db = SharedDatabase::create();
    let TwoNodes {
        processes: _processes,
        base_a,
        base_b,
        token,
        client,
    } = db.start_two_nodes();
    const CONTACTS: usize = 30;
    let mut ids = Vec::new();
    for i in 0..CONTACTS {
        let url = format!("{base_a}/v1/contacts");
        let reply = send(
            &client,
            Method::POST,
            url,
            &token,
            Some(json!({"last_name": format!("Race {i}")})),
            &[],
        )
        .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        ids.push(reply.body["id"].as_str().unwrap().to_owned());
    }
    // Both processes get a write for version 1 of each contact at the same moment.
    let writes: Vec<(&String, &String)> = ids
        .iter()
        .flat_map(|id| [(id, &base_a), (id, &base_b)])
        .collect();
    let replies: Vec<(&String, &String, Reply)> = stream::iter(writes)
        .map(|(id, base)| {
            let (client, token) = (&client, &token);
            async move {
                let url = format!("{base}/v1/contacts/{id}");
                let body = json!({"title": format!("set by {base}")});
                let precondition = [("If-Match", "\"1\"".to_owned())];
                (
                    id,
                    base,
                    send(client, Method::PATCH, url, token, Some(body), &precondition).await,
                )
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    for id in &ids {
        let of_contact: Vec<_> = replies.iter().filter(|(i, _, _)| *i == id).collect();
        let winners: Vec<_> = of_contact
            .iter()
            .filter(|(_, _, r)| r.status == 200)
            .collect();
        assert_eq!(winners.len(), 1, "exactly one write of version 1 wins");
        let loser = of_contact.iter().find(|(_, _, r)| r.status != 200).unwrap();
        assert_eq!(loser.2.status, 412, "{}", loser.2.text);
        assert_eq!(loser.2.body["current_version"], 2);
        let winner_base = winners[0].1;
        let now = client
            .get(format!("{base_b}/v1/contacts/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(now.headers()["etag"], "\"2\"");
        let now: Value = now.json().await.unwrap();
        assert_eq!(
            now["title"],
            format!("set by {winner_base}"),
            "the winner's write, once"
        );
    }
}

#[actix_rt::test]
#[cfg_attr(not(crm_test_postgres), ignore = "needs CRM_TEST_POSTGRES_URL")]
async fn a_rebuild_while_another_process_takes_orders_counts_each_order_once() {
    const COMPANIES: usize = 60;
    let db = SharedDatabase::create();
    let (_node, base) = db.start_node();
    let token = db.admin_token();
    let client = reqwest::Client::new();
    let product = json!({"sku": "RACE-1", "name": "Race", "unit_price": {"amount_minor": 1000, "currency": "EUR"},
        "unit_cost": {"amount_minor": 400, "currency": "EUR"}, "tax_rate_bp": 2100});
    let reply = send(
        &client,
        Method::POST,
        format!("{base}/v1/products"),
        &token,
        Some(product),
        &[],
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let mut companies = Vec::new();
    for i in 0..COMPANIES {
        let body = json!({"name": format!("Race customer {i}")});
        let reply = send(
            &client,
            Method::POST,
            format!("{base}/v1/companies"),
            &token,
            Some(body),
            &[],
        )
        .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        companies.push(reply.body["id"].as_str().unwrap().to_owned());
    }

    // This process rebuilds one company a slice, over and over, so that a slice is read long
    // after the rebuild emptied the rollups; the node meanwhile takes each company's first
    // order, which writes a rollup row that did not exist.
    let writing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let rebuilder = {
        let writing = writing.clone();
        let url = DatabaseUrl::parse(&db.url).unwrap();
        std::thread::spawn(move || {
            let mut conn = url.connect().unwrap();
            let mut rebuilds = 0;
            while writing.load(std::sync::atomic::Ordering::SeqCst) || rebuilds == 0 {
                crm_store::platform::db::write_transaction(&mut conn, |c| {
                    crm_store::analytics::rollups::rebuild_sliced(c, 1)
                })
                .unwrap();
                rebuilds += 1;
            }
            rebuilds
        })
    };
    let replies: Vec<Reply> = stream::iter(companies.iter().enumerate())
        .map(|(i, company)| {
            let (client, token, base) = (&client, &token, &base);
            async move {
                let body = json!({"ordered_at": chrono::Utc::now().to_rfc3339(), "currency": "EUR", "status": "paid",
                    "company_id": company, "lines": [{"sku": "RACE-1", "quantity": "2", "unit_price": {"amount_minor": 1000, "currency": "EUR"}, "tax_rate_bp": 2100}]});
                let url = format!("{base}/v1/orders/by-external-id/shop/race-{i}");
                send(client, Method::PUT, url, token, Some(body), &[]).await
            }
        })
        .buffer_unordered(4)
        .collect()
        .await;
    writing.store(false, std::sync::atomic::Ordering::SeqCst);
    let rebuilds = rebuilder.join().unwrap();
    for reply in &replies {
        assert!(matches!(reply.status, 200 | 201), "{}", reply.text);
    }
    assert!(rebuilds > 1, "the rebuilds ran while orders arrived");

    let mut conn = DatabaseUrl::parse(&db.url).unwrap().connect().unwrap();
    let stored = crm_store::analytics::rollups::stored(&mut conn).unwrap();
    assert_eq!(
        stored.customers.len(),
        COMPANIES,
        "one row per company's month"
    );
    assert!(
        stored
            .customers
            .iter()
            .all(|(_, figures)| figures.orders == 1),
        "each order counted once: {stored:?}"
    );
    assert_eq!(
        stored,
        crm_store::analytics::rollups::from_scratch(&mut conn).unwrap(),
        "the rollups equal a recomputation"
    );
}

#[actix_rt::test]
#[cfg_attr(not(crm_test_postgres), ignore = "needs CRM_TEST_POSTGRES_URL")]
async fn two_processes_running_the_maintenance_loop_make_one_task_per_visit() {
    const PLANS: usize = 20;
    let db = SharedDatabase::create();
    // Each node also runs the loop by itself every second, besides the runs asked for below.
    let TwoNodes {
        processes: _processes,
        base_a,
        base_b,
        token,
        client,
    } = db.start_two_sweeping_nodes();
    for i in 0..PLANS {
        let url = format!("{base_a}/v1/companies");
        let body = json!({"name": format!("Visited {i}")});
        let company = send(&client, Method::POST, url, &token, Some(body), &[]).await;
        assert_eq!(company.status, 201, "{}", company.text);
        let plan = json!({"company_id": company.body["id"], "owner_id": db.admin_id, "every_weeks": 2,
            "next_visit_on": "2027-01-15", "lead_days": 3});
        let url = format!("{base_b}/v1/visit-plans");
        let plan = send(&client, Method::POST, url, &token, Some(plan), &[]).await;
        assert_eq!(plan.status, 201, "{}", plan.text);
    }
    for now in ["2027-01-12T10:00:00Z", "2027-01-27T10:00:00Z"] {
        let url = format!("{base_a}/v1/admin/clock");
        let frozen = send(
            &client,
            Method::PUT,
            url,
            &token,
            Some(json!({"now": now})),
            &[],
        )
        .await;
        assert_eq!(frozen.status, 200, "{}", frozen.text);
        let runs: Vec<Reply> =
            stream::iter((0..16).map(|i| if i % 2 == 0 { &base_a } else { &base_b }))
                .map(|base| {
                    let (client, token) = (&client, &token);
                    async move {
                        let url = format!("{base}/v1/admin/maintenance/run");
                        send(client, Method::POST, url, token, None, &[]).await
                    }
                })
                .buffer_unordered(16)
                .collect()
                .await;
        for run in &runs {
            assert_eq!(run.status, 200, "{}", run.text);
        }
    }
    let url = format!("{base_b}/v1/tasks?source=visit_plan&limit=200");
    let tasks = send(&client, Method::GET, url, &token, None, &[]).await;
    let tasks = tasks.body["data"].as_array().unwrap();
    let mut per_company: HashMap<&str, Vec<&str>> = HashMap::new();
    for task in tasks {
        per_company
            .entry(task["company_id"].as_str().unwrap())
            .or_default()
            .push(task["due_at"].as_str().unwrap());
    }
    assert_eq!(per_company.len(), PLANS);
    for due in per_company.values_mut() {
        due.sort_unstable();
        assert_eq!(
            due,
            &vec!["2027-01-15T08:00:00Z", "2027-01-29T08:00:00Z"],
            "one task per visit"
        );
    }
}

#[actix_rt::test]
#[cfg_attr(not(crm_test_postgres), ignore = "needs CRM_TEST_POSTGRES_URL")]
async fn a_field_definition_changed_through_one_process_shows_in_the_others_next_read() {
    let db = SharedDatabase::create();
    let TwoNodes {
        processes: _processes,
        base_a,
        base_b,
        token,
        client,
    } = db.start_two_nodes();
    let call = |method: Method, url: String, body: Option<Value>| {
        let (client, token) = (&client, &token);
        async move { send(client, method, url, token, body, &[]).await }
    };
    let field = json!({"key": "size", "label": "Size", "type": "text"});
    let reply = call(
        Method::POST,
        format!("{base_b}/v1/schema/contacts/fields"),
        Some(field),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let contact = json!({"last_name": "Sized", "custom_fields": {"size": "42"}});
    let reply = call(Method::POST, format!("{base_b}/v1/contacts"), Some(contact)).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let url_a = format!(
        "{base_a}/v1/contacts/{}",
        reply.body["id"].as_str().unwrap()
    );
    // Process A reads the contact often enough that each of its workers holds the definitions.
    for _ in 0..8 {
        let read = call(Method::GET, url_a.clone(), None).await;
        assert_eq!(
            read.body["custom_fields"],
            json!({"size": "42"}),
            "{}",
            read.text
        );
    }

    let retype = json!({"type": "number"});
    let reply = call(
        Method::PATCH,
        format!("{base_b}/v1/schema/contacts/fields/size"),
        Some(retype),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    for _ in 0..8 {
        let read = call(Method::GET, url_a.clone(), None).await;
        assert_eq!(
            read.body["custom_fields"],
            json!({"size": 42}),
            "converted: {}",
            read.text
        );
    }

    let reply = call(
        Method::DELETE,
        format!("{base_b}/v1/schema/contacts/fields/size"),
        None,
    )
    .await;
    assert_eq!(reply.status, 204, "{}", reply.text);
    for _ in 0..8 {
        let read = call(Method::GET, url_a.clone(), None).await;
        assert_eq!(
            read.body["custom_fields"],
            json!({}),
            "archived: {}",
            read.text
        );
    }
}
