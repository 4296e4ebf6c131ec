//! `make bench-events`: the events table of docs/benchmarks.md. Not a test, not in CI.
//!
//! For each backend, every measurement on a fresh database and a fresh release `crm serve`
//! (started with `CRM_WEBHOOK_ALLOW_HTTP=true CRM_WEBHOOK_ALLOW_PRIVATE=true`, so that it may
//! call loopback), over HTTP with a real JWT:
//!
//! 1. **Delivery throughput**, for 1, 10 and 50 endpoints: the endpoints are subscribed to `*`,
//!    each at its own path of a receiver in this process (an actix-web server on loopback that
//!    answers `200` and counts each endpoint's `webhook-id`s once). Then `BENCH_EVENTS` contacts
//!    are created by `BENCH_CLIENTS` concurrent clients, and the clock runs from the first write
//!    until the receiver has counted every event at every endpoint. Reported: deliveries/s,
//!    events/s (events fully fanned out per second), and the delivery latency, from the event's
//!    `occurred_at` to its arrival (under this burst, mostly the time spent queued). A
//!    duplicate delivery (a retry or a second claim) is counted apart, as excess, not twice.
//! 2. **Import cost of fan-out**: `BENCH_ORDERS` orders imported through
//!    `POST /v1/orders/import` in batches of `BENCH_BATCH`, one request at a time, first with no
//!    endpoint, then on a fresh database with 10 endpoints subscribed to `*` at the receiver;
//!    orders/s of each, and their ratio. The deliveries are not waited for: the row says how
//!    many had arrived when the import ended.
//!
//! Prints one markdown table per backend. Exits non-zero on any failed request, or when no
//! delivery arrives for a minute. A delivery measurement that has not finished after
//! `BENCH_MAX_WAIT` seconds is stopped and reported as incomplete, with the rate so far.
//!
//! Environment (all optional):
//! - `BENCH_BACKENDS`: `postgres,sqlite` (default), or one of them;
//! - `BENCH_POSTGRES_URL`: a server where databases may be created, default
//!   `postgres://postgres@127.0.0.1:5432/postgres`; the bench creates `crm_bench_events` and
//!   drops it at the end;
//! - `BENCH_ENDPOINTS`: the endpoint counts of the delivery measurement, default `1,10,50`;
//! - `BENCH_EVENTS`: contacts created per delivery measurement, default 1,000;
//! - `BENCH_CLIENTS`: concurrent clients creating them, default 4;
//! - `BENCH_MAX_WAIT`: seconds a delivery measurement may take, default 180;
//! - `BENCH_ORDERS` / `BENCH_BATCH`: orders imported, default 5,000, per request, default 500;
//! - `BENCH_IMPORT_ENDPOINTS`: endpoints during the second import, default 10;
//! - `BENCH_CRM`: the `crm` binary, default the one next to this one.
//!
//! The server inherits this process's environment, so `CRM_WEBHOOK_CONCURRENCY` (default 8)
//! and the other `CRM_WEBHOOK_*` settings apply to it.

use std::collections::HashSet;
use std::error::Error;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use crm_store::DatabaseUrl;
use diesel::prelude::*;
use futures_util::StreamExt;
use serde_json::{json, Value};

mod common;

use common::{
    crm_binary, env_or, machine, migrated_with_admin, percentile, postgres_settings, secs, Result,
    Scratch, Server, Targets, ADMIN_EMAIL,
};
use crm_tests::report::thousands;

/// No new delivery for this long means something is broken, not slow.
const STALL: Duration = Duration::from_secs(60);
/// How long the receiver is watched after the last expected delivery, for duplicates.
const LINGER: Duration = Duration::from_millis(1500);
const SKUS: [&str; 3] = ["BENCH-1", "BENCH-2", "BENCH-3"];
/// Distinct customers of the imported orders: each is created by its first order, then matched.
const CUSTOMERS: usize = 1000;

/// What the receiver has counted since the current phase began.
#[derive(Default)]
struct Inbox {
    /// (endpoint, webhook-id) of each delivery counted.
    seen: HashSet<(u32, String)>,
    /// Deliveries that came again.
    duplicates: u64,
    /// Requests of an earlier phase, or without a path or `webhook-id` of ours.
    stale: u64,
    /// From each counted event's `occurred_at` to its arrival.
    latencies: Vec<Duration>,
    /// When the last counted delivery arrived.
    last: Option<Instant>,
}

/// The receiver's state, shared with its worker thread. Endpoint `i` of phase `p` is
/// `/hooks/{p}/{i}`, so that a request of an earlier phase is never counted in a later one.
#[derive(Default)]
struct Tally {
    phase: AtomicU32,
    counted: AtomicU64,
    inbox: Mutex<Inbox>,
}

struct Snapshot {
    counted: u64,
    duplicates: u64,
    stale: u64,
    latencies: Vec<Duration>,
    last: Option<Instant>,
}

impl Tally {
    fn inbox(&self) -> MutexGuard<'_, Inbox> {
        self.inbox.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn record(&self, path: &str, id: Option<&str>, body: &[u8]) {
        let arrived = Instant::now();
        let wall = chrono::Utc::now();
        let target = path
            .strip_prefix("/hooks/")
            .and_then(|rest| rest.split_once('/'))
            .and_then(|(phase, endpoint)| {
                Some((phase.parse::<u32>().ok()?, endpoint.parse::<u32>().ok()?))
            });
        let mut inbox = self.inbox();
        let (Some((phase, endpoint)), Some(id)) = (target, id) else {
            inbox.stale += 1;
            return;
        };
        if phase != self.phase.load(Ordering::SeqCst) {
            inbox.stale += 1;
            return;
        }
        if !inbox.seen.insert((endpoint, id.to_owned())) {
            inbox.duplicates += 1;
            return;
        }
        if let Some(occurred) = occurred_at(body) {
            inbox
                .latencies
                .push((wall - occurred).to_std().unwrap_or_default());
        }
        inbox.last = Some(arrived);
        self.counted.fetch_add(1, Ordering::SeqCst);
    }

    /// Starts a new phase with nothing counted; returns its number.
    fn begin(&self) -> u32 {
        let mut inbox = self.inbox();
        *inbox = Inbox::default();
        self.counted.store(0, Ordering::SeqCst);
        self.phase.fetch_add(1, Ordering::SeqCst) + 1
    }

    fn counted(&self) -> u64 {
        self.counted.load(Ordering::SeqCst)
    }

    fn snapshot(&self) -> Snapshot {
        let inbox = self.inbox();
        Snapshot {
            counted: self.counted(),
            duplicates: inbox.duplicates,
            stale: inbox.stale,
            latencies: inbox.latencies.clone(),
            last: inbox.last,
        }
    }
}

/// The `occurred_at` of a delivered event, read without parsing the whole body: the body is
/// `{"id":…,"type":…,"occurred_at":"…","data":…}`, so the first match is the event's.
fn occurred_at(body: &[u8]) -> Option<chrono::DateTime<chrono::Utc>> {
    const KEY: &[u8] = b"\"occurred_at\":\"";
    let start = body.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let rest = body.get(start..)?;
    let end = rest.iter().position(|b| *b == b'"')?;
    let text = std::str::from_utf8(rest.get(..end)?).ok()?;
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// Starts the receiver on loopback, answering `200` to everything; returns its base URL.
fn start_receiver(tally: Arc<Tally>) -> Result<String> {
    let server = HttpServer::new(move || {
        let tally = tally.clone();
        App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
            let tally = tally.clone();
            async move {
                let id = req
                    .headers()
                    .get("webhook-id")
                    .and_then(|v| v.to_str().ok());
                tally.record(req.path(), id, &body);
                HttpResponse::Ok().body("ok")
            }
        }))
    })
    .workers(1)
    .disable_signals()
    .bind("127.0.0.1:0")?;
    let port = server
        .addrs()
        .first()
        .ok_or("the receiver has no address")?
        .port();
    actix_rt::spawn(server.run());
    Ok(format!("http://127.0.0.1:{port}"))
}

/// A fresh database and server, with an admin logged in. The server stops before the
/// database is dropped (fields drop in order).
struct Session {
    server: Server,
    scratch: Scratch,
    client: reqwest::Client,
    token: String,
}

impl Session {
    async fn start(ctx: &Ctx, backend: &str) -> Result<Session> {
        let scratch = Scratch::new(backend, &ctx.admin, "events")?;
        let url = DatabaseUrl::parse(scratch.url())?;
        let password = format!("bench {}", uuid::Uuid::now_v7().simple());
        migrated_with_admin(&url, &password)?;
        let server = Server::start(
            &ctx.crm,
            &scratch,
            // The receiver is on loopback, over plain HTTP.
            &[
                ("CRM_WEBHOOK_ALLOW_HTTP", "true"),
                ("CRM_WEBHOOK_ALLOW_PRIVATE", "true"),
            ],
        )?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(300))
            .build()?;
        let mut session = Session {
            server,
            scratch,
            client,
            token: String::new(),
        };
        let body = session
            .json(
                reqwest::Method::POST,
                "/v1/auth/token",
                Some(&json!({"email": ADMIN_EMAIL, "password": password})),
                200,
            )
            .await?;
        session.token = body["access_token"]
            .as_str()
            .ok_or("no access token")?
            .to_owned();
        Ok(session)
    }

    /// Sends `body` and fails unless the answer is `expected`; returns the answer's JSON.
    async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Vec<u8>>,
        expected: u16,
    ) -> Result<Value> {
        let mut request = self
            .client
            .request(method.clone(), format!("{}{path}", self.server.base));
        if !self.token.is_empty() {
            request = request.bearer_auth(&self.token);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?;
        let status = response.status();
        let bytes = response.bytes().await?;
        if status.as_u16() != expected {
            return Err(format!(
                "{method} {path}: {status} {}",
                String::from_utf8_lossy(&bytes)
            )
            .into());
        }
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        Ok(serde_json::from_slice(&bytes)?)
    }

    async fn json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        expected: u16,
    ) -> Result<Value> {
        let body = body.map(serde_json::to_vec).transpose()?;
        self.request(method, path, body, expected).await
    }

    /// Subscribes `count` endpoints to `*`, each at its own path of the receiver.
    async fn subscribe(&self, receiver: &str, phase: u32, count: usize) -> Result<()> {
        for i in 0..count {
            let body = json!({
                "url": format!("{receiver}/hooks/{phase}/{i}"),
                "event_types": ["*"],
                "description": format!("bench endpoint {i}"),
            });
            let endpoint = self
                .json(
                    reqwest::Method::POST,
                    "/v1/webhook-endpoints",
                    Some(&body),
                    201,
                )
                .await?;
            if !endpoint["secret"].is_string() {
                return Err(format!("webhook endpoint without a secret: {endpoint}").into());
            }
        }
        Ok(())
    }

    async fn create_contact(&self, i: u64) -> Result<()> {
        let body = json!({
            "first_name": "Bench",
            "last_name": format!("Contact {i}"),
            "email": format!("contact{i}@example.com"),
            "lifecycle_stage": "prospect",
        });
        self.json(reqwest::Method::POST, "/v1/contacts", Some(&body), 201)
            .await?;
        Ok(())
    }

    /// How many events the database holds, read through a plain connection.
    fn events(&self) -> Result<u64> {
        let mut conn = DatabaseUrl::parse(self.scratch.url())?.connect()?;
        let count: i64 = crm_store::platform::schema::events::table
            .count()
            .get_result(&mut conn)?;
        Ok(u64::try_from(count)?)
    }
}

/// What every measurement shares.
struct Ctx {
    crm: PathBuf,
    admin: String,
    tally: Arc<Tally>,
    receiver: String,
    events: u64,
    clients: usize,
    max_wait: Duration,
    orders: usize,
    batch: usize,
}

struct Delivery {
    endpoints: usize,
    events: u64,
    expected: u64,
    counted: u64,
    complete: bool,
    elapsed: Duration,
    writes: Duration,
    latencies: Vec<Duration>,
    excess: u64,
    stale: u64,
}

async fn delivery(ctx: &Ctx, backend: &str, endpoints: usize) -> Result<Delivery> {
    eprintln!(
        "   delivery: {endpoints} endpoint(s), {} events",
        thousands(ctx.events)
    );
    let session = Session::start(ctx, backend).await?;
    let phase = ctx.tally.begin();
    session.subscribe(&ctx.receiver, phase, endpoints).await?;
    let before = session.events()?;

    let started = Instant::now();
    let writes: Vec<Result<()>> = futures_util::stream::iter(0..ctx.events)
        .map(|i| session.create_contact(i))
        .buffer_unordered(ctx.clients.max(1))
        .collect()
        .await;
    for write in writes {
        write?;
    }
    let writes = started.elapsed();
    let events = session.events()? - before;
    let expected = events * endpoints as u64;

    let deadline = started + ctx.max_wait;
    let (mut progress, mut progressed) = (0, Instant::now());
    let mut report = Instant::now() + Duration::from_secs(10);
    let stopped = loop {
        let counted = ctx.tally.counted();
        let now = Instant::now();
        if counted >= expected || now >= deadline {
            break now;
        }
        if counted != progress {
            (progress, progressed) = (counted, now);
        } else if now - progressed > STALL {
            return Err(format!(
                "no delivery for {} s, at {counted} of {expected}; the server's log ends with:\n{}",
                STALL.as_secs(),
                session.scratch.log_tail()
            )
            .into());
        }
        if now >= report {
            eprintln!(
                "   {} of {} deliveries after {}",
                thousands(counted),
                thousands(expected),
                secs(now - started)
            );
            report = now + Duration::from_secs(10);
        }
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    };
    let at_stop = ctx.tally.snapshot();
    actix_rt::time::sleep(LINGER).await;
    let after = ctx.tally.snapshot();
    let complete = at_stop.counted >= expected;
    let elapsed = match (complete, at_stop.last) {
        (true, Some(last)) => last.saturating_duration_since(started),
        _ => stopped - started,
    };
    Ok(Delivery {
        endpoints,
        events,
        expected,
        counted: at_stop.counted,
        complete,
        elapsed,
        writes,
        latencies: at_stop.latencies,
        excess: after.duplicates + after.counted.saturating_sub(expected.max(at_stop.counted)),
        stale: after.stale,
    })
}

fn eur(minor: i64) -> Value {
    json!({"amount_minor": minor, "currency": "EUR"})
}

/// The `i`th order of the import, as a shop would push it: paid, two lines, its customer by
/// email (created by the first order, matched after), with a company by name.
fn order(i: usize, now: chrono::DateTime<chrono::Utc>) -> Value {
    let customer = i % CUSTOMERS;
    let minutes = i64::try_from(i * 7).unwrap_or(0);
    json!({
        "channel": "bench-shop",
        "external_id": format!("B{i:07}"),
        "ordered_at": (now - chrono::Duration::minutes(minutes)).to_rfc3339(),
        "currency": "EUR",
        "status": "paid",
        "customer": {
            "email": format!("customer{customer}@example.com"),
            "first_name": "Ana",
            "last_name": format!("Customer {customer}"),
            "phone": format!("+34600{customer:06}"),
            "company_name": format!("Company {} SL", customer % 200),
        },
        "lines": [
            {"sku": SKUS[i % SKUS.len()], "quantity": "2", "unit_price": eur(1000),
             "unit_cost": eur(600), "discount_bp": 0, "tax_rate_bp": 2100},
            {"sku": SKUS[(i + 1) % SKUS.len()], "quantity": "1", "unit_price": eur(2500),
             "tax_rate_bp": 2100},
        ],
    })
}

struct Import {
    endpoints: usize,
    orders: usize,
    batches: usize,
    events: u64,
    elapsed: Duration,
    delivered: u64,
}

impl Import {
    fn rate(&self) -> f64 {
        self.orders as f64 / self.elapsed.as_secs_f64()
    }
}

async fn import(ctx: &Ctx, backend: &str, endpoints: usize) -> Result<Import> {
    eprintln!(
        "   import: {} orders, {endpoints} endpoint(s)",
        thousands(ctx.orders as u64)
    );
    let session = Session::start(ctx, backend).await?;
    for (i, sku) in SKUS.iter().enumerate() {
        let body = json!({"sku": sku, "name": format!("Bench product {}", i + 1),
            "unit_price": eur(1000), "unit_cost": eur(600), "tax_rate_bp": 2100});
        session
            .json(reqwest::Method::POST, "/v1/products", Some(&body), 201)
            .await?;
    }
    let phase = ctx.tally.begin();
    session.subscribe(&ctx.receiver, phase, endpoints).await?;
    // The bodies are made before the clock starts.
    let now = chrono::Utc::now();
    let batch = ctx.batch.max(1);
    let mut bodies = Vec::new();
    for first in (0..ctx.orders).step_by(batch) {
        let orders: Vec<Value> = (first..(first + batch).min(ctx.orders))
            .map(|i| order(i, now))
            .collect();
        bodies.push((orders.len(), serde_json::to_vec(&orders)?));
    }
    let batches = bodies.len();
    // Warm-up, not counted: opens the client's connection.
    session
        .json(reqwest::Method::GET, "/v1/orders?limit=1", None, 200)
        .await?;
    let before = session.events()?;

    let started = Instant::now();
    for (count, body) in bodies {
        let answer = session
            .request(reqwest::Method::POST, "/v1/orders/import", Some(body), 200)
            .await?;
        let results = answer["results"]
            .as_array()
            .ok_or("an import answer without results")?;
        if results.len() != count {
            return Err(format!("import: {} results for {count} orders", results.len()).into());
        }
        if let Some(refused) = results.iter().find(|r| r["status"] != "created") {
            return Err(format!("import: an order was not created: {refused}").into());
        }
    }
    let elapsed = started.elapsed();
    let delivered = ctx.tally.counted();
    let events = session.events()? - before;
    Ok(Import {
        endpoints,
        orders: ctx.orders,
        batches,
        events,
        elapsed,
        delivered,
    })
}

struct Run {
    label: &'static str,
    deliveries: Vec<Delivery>,
    none: Import,
    with: Import,
}

async fn run_backend(
    ctx: &Ctx,
    backend: &str,
    endpoint_counts: &[usize],
    import_endpoints: usize,
) -> Result<Run> {
    let label = match backend {
        "postgres" => "PostgreSQL",
        "sqlite" => "SQLite",
        other => return Err(format!("unknown backend `{other}`").into()),
    };
    eprintln!("== {label}");
    let mut deliveries = Vec::new();
    for &n in endpoint_counts {
        deliveries.push(delivery(ctx, backend, n).await?);
    }
    let none = import(ctx, backend, 0).await?;
    let with = import(ctx, backend, import_endpoints).await?;
    Ok(Run {
        label,
        deliveries,
        none,
        with,
    })
}

/// Milliseconds below a second, else seconds.
fn span(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.1} ms")
    } else if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        secs(d)
    }
}

fn per_second(count: f64, d: Duration) -> String {
    thousands((count / d.as_secs_f64().max(1e-9)).round() as u64)
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn table(run: &Run) -> String {
    let mut out = format!(
        "#### {}\n\n| measurement | work | time | throughput | detail |\n|---|---|---|---|---|\n",
        run.label
    );
    for d in &run.deliveries {
        let work = format!(
            "{} events × {} = {} deliveries",
            thousands(d.events),
            d.endpoints,
            thousands(d.expected)
        );
        let throughput = format!(
            "**{} events/s**, {} deliveries/s",
            per_second(d.counted as f64 / d.endpoints as f64, d.elapsed),
            per_second(d.counted as f64, d.elapsed)
        );
        let mut detail = format!(
            "latency p50 / p99: {} / {}; writes done after {}; excess deliveries: {}",
            span(percentile(&d.latencies, 50)),
            span(percentile(&d.latencies, 99)),
            secs(d.writes),
            d.excess
        );
        if d.stale > 0 {
            detail += &format!("; {} stray requests", d.stale);
        }
        if !d.complete {
            detail += &format!(
                "; **incomplete**: stopped with {} of {} delivered",
                thousands(d.counted),
                thousands(d.expected)
            );
        }
        out += &format!(
            "| delivery, {} | {work} | {} | {throughput} | {detail} |\n",
            plural(d.endpoints, "endpoint", "endpoints"),
            secs(d.elapsed)
        );
    }
    for i in [&run.none, &run.with] {
        let name = if i.endpoints == 0 {
            "order import, no endpoint".to_owned()
        } else {
            format!(
                "order import, {}",
                plural(i.endpoints, "endpoint", "endpoints")
            )
        };
        let work = format!(
            "{} orders in {} requests; {} events",
            thousands(i.orders as u64),
            i.batches,
            thousands(i.events)
        );
        let detail = if i.endpoints == 0 {
            String::new()
        } else {
            let due = i.events * i.endpoints as u64;
            format!(
                "{} of {} deliveries had arrived when the import ended",
                thousands(i.delivered),
                thousands(due)
            )
        };
        out += &format!(
            "| {name} | {work} | {} | **{} orders/s** | {detail} |\n",
            secs(i.elapsed),
            per_second(i.orders as f64, i.elapsed)
        );
    }
    out += &format!(
        "| import with {} / with none | | | **{:.2}×** | orders/s |\n",
        plural(run.with.endpoints, "endpoint", "endpoints"),
        run.with.rate() / run.none.rate()
    );
    out
}

fn list(name: &str, default: &str) -> Result<Vec<usize>> {
    let text: String = env_or(name, default.to_owned())?;
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| -> Box<dyn Error> { format!("{name}: cannot read `{s}`").into() })
        })
        .collect()
}

async fn bench() -> Result<()> {
    let Targets { backends, admin } = Targets::from_env()?;
    let endpoint_counts = list("BENCH_ENDPOINTS", "1,10,50")?;
    if endpoint_counts.contains(&0) {
        return Err("BENCH_ENDPOINTS: every count must be at least 1".into());
    }
    let import_endpoints: usize = env_or("BENCH_IMPORT_ENDPOINTS", 10)?;
    let crm = crm_binary()?;
    let tally = Arc::new(Tally::default());
    let receiver = start_receiver(tally.clone())?;
    let ctx = Ctx {
        crm,
        admin: admin.clone(),
        tally,
        receiver,
        events: env_or("BENCH_EVENTS", 1000)?,
        clients: env_or("BENCH_CLIENTS", 4)?,
        max_wait: Duration::from_secs(env_or("BENCH_MAX_WAIT", 180)?),
        orders: env_or("BENCH_ORDERS", 5000)?,
        batch: env_or("BENCH_BATCH", 500)?,
    };
    if ctx.events == 0 || ctx.orders == 0 {
        return Err("BENCH_EVENTS and BENCH_ORDERS must be at least 1".into());
    }
    let mut notes = vec![machine()];
    let mut runs = Vec::new();
    for backend in backends.split(',').map(str::trim) {
        if backend == "postgres" {
            notes.push(postgres_settings(&admin, "synchronous_commit")?);
        }
        runs.push(run_backend(&ctx, backend, &endpoint_counts, import_endpoints).await?);
    }
    let concurrency = std::env::var("CRM_WEBHOOK_CONCURRENCY")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "8, the default".to_owned());
    println!();
    println!("Machine: {}.", notes.join("; "));
    println!(
        "Each measurement on a fresh database and a fresh release `crm serve` with default \
         settings (HTTP workers one per core, pool of 10, webhook concurrency {concurrency}) on \
         the same machine as the client and the receiver (actix-web on loopback, one worker, \
         answering 200). Delivery: {} contact creates by {} concurrent clients, timed from the \
         first write until every endpoint has received every event; latency is from the \
         event's `occurred_at` to its arrival. Import: batches of {} orders through \
         `POST /v1/orders/import`, one request at a time; the deliveries are not waited for.",
        thousands(ctx.events),
        ctx.clients,
        ctx.batch
    );
    for run in &runs {
        println!();
        print!("{}", table(run));
    }
    Ok(())
}

fn main() -> Result<()> {
    actix_rt::System::new().block_on(bench())
}
