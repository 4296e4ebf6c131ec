//! The load, fault and soak tools behind `make bench` and `tests/faults/*.sh`; not a test.
//!
//! - `floor`: the HTTP floor, a bare actix handler returning a small fixed JSON body.
//! - `rawdb`: the same single-row select and insert as the API's, through a plain diesel pool
//!   with no HTTP, reporting the rate and latency percentiles.
//! - `writes`: a steady stream of order upserts with unique external ids, each acknowledged id
//!   written to a file, with the status of every second, for the restart test.
//! - `retries`: creations with an `Idempotency-Key`, each retried until acknowledged.
//! - `mixed`: a mixed workload at a fixed rate, with per-minute latency percentiles.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, Pool};
use diesel::sql_types::Text;
use serde_json::{json, Value};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Floor {
        #[arg(long, default_value = "127.0.0.1:8090")]
        bind: String,
    },
    Rawdb {
        /// postgres://... or a SQLite file path.
        #[arg(long)]
        url: String,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 4)]
        threads: usize,
    },
    Writes {
        #[arg(long)]
        base: String,
        #[arg(long)]
        token: String,
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Acknowledged external ids, one per line.
        #[arg(long)]
        acks: String,
    },
    Retries {
        #[arg(long)]
        base: String,
        #[arg(long)]
        token: String,
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// Acknowledged idempotency keys, one per line.
        #[arg(long)]
        acks: String,
    },
    Mixed {
        /// An API node; give it more than once to spread requests over several.
        #[arg(long = "base", required = true)]
        bases: Vec<String>,
        #[arg(long)]
        token: String,
        #[arg(long, default_value_t = 600)]
        seconds: u64,
        /// Requests per second, spread evenly.
        #[arg(long)]
        rate: u64,
        /// Contact ids to read, one per line.
        #[arg(long)]
        contacts: String,
        /// Company ids for the overview, one per line.
        #[arg(long)]
        companies: String,
    },
}

fn main() {
    match Cli::parse().command {
        Command::Floor { bind } => floor(&bind),
        Command::Rawdb {
            url,
            seconds,
            threads,
        } => rawdb(&url, seconds, threads),
        Command::Writes {
            base,
            token,
            seconds,
            concurrency,
            acks,
        } => actix_rt::System::new().block_on(writes(base, token, seconds, concurrency, acks)),
        Command::Retries {
            base,
            token,
            seconds,
            concurrency,
            acks,
        } => actix_rt::System::new().block_on(retries(base, token, seconds, concurrency, acks)),
        Command::Mixed {
            bases,
            token,
            seconds,
            rate,
            contacts,
            companies,
        } => actix_rt::System::new()
            .block_on(mixed(bases, token, seconds, rate, contacts, companies)),
    }
}

fn floor(bind: &str) {
    use actix_web::{web, App, HttpResponse, HttpServer};
    let server = HttpServer::new(|| {
        App::new().route(
            "/",
            web::get().to(|| async {
                HttpResponse::Ok()
                    .json(json!({"id": "01a2097c-3a45-76ba-a263-0189c6da2ea1", "status": "ok"}))
            }),
        )
    })
    .workers(2)
    .bind(bind)
    .unwrap()
    .run();
    actix_rt::System::new().block_on(server).unwrap();
}

/// Percentiles of sorted latencies, in milliseconds.
fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p / 100.0).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn summary(name: &str, mut latencies: Vec<Duration>, elapsed: Duration) {
    latencies.sort();
    println!(
        "{{\"op\": \"{name}\", \"requests\": {}, \"per_second\": {:.0}, \"p50_ms\": {:.3}, \"p99_ms\": {:.3}, \"p999_ms\": {:.3}}}",
        latencies.len(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        percentile(&latencies, 99.9)
    );
}

#[derive(diesel::MultiConnection)]
enum Raw {
    Pg(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

/// Writers on SQLite wait for the lock, as the API's connections do.
#[derive(Debug)]
struct BusyTimeout;

impl diesel::r2d2::CustomizeConnection<Raw, diesel::r2d2::Error> for BusyTimeout {
    fn on_acquire(&self, conn: &mut Raw) -> Result<(), diesel::r2d2::Error> {
        if let Raw::Sqlite(_) = conn {
            diesel::sql_query("PRAGMA busy_timeout = 5000")
                .execute(conn)
                .map_err(diesel::r2d2::Error::QueryError)?;
        }
        Ok(())
    }
}

fn rawdb(url: &str, seconds: u64, threads: usize) {
    let manager = ConnectionManager::<Raw>::new(url);
    let pool = Pool::builder()
        .max_size(threads as u32)
        .connection_customizer(Box::new(BusyTimeout))
        .build(manager)
        .unwrap();
    let ids: Vec<String> = {
        let mut c = pool.get().unwrap();
        #[derive(QueryableByName)]
        struct Id {
            #[diesel(sql_type = Text)]
            id: String,
        }
        diesel::sql_query("SELECT id FROM contacts LIMIT 1000")
            .load::<Id>(&mut c)
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect()
    };
    assert!(!ids.is_empty(), "seed the database first");
    let select = "SELECT * FROM contacts WHERE id = $1";
    let insert = "INSERT INTO contacts (id, last_name, email, email_key, lifecycle_stage, tags, preferences, marketing_consent, search_text, version, created_at, updated_at) \
                  VALUES ($1, $2, $3, $3, 'prospect', '[]', '{}', FALSE, $2, 1, $4, $4)";
    for (name, statement) in [("raw select by id", select), ("raw insert", insert)] {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let started = Instant::now();
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let pool = pool.clone();
                let ids = ids.clone();
                std::thread::spawn(move || {
                    let mut conn = pool.get().unwrap();
                    let mut latencies = Vec::new();
                    let mut n = 0_usize;
                    while Instant::now() < deadline {
                        let began = Instant::now();
                        if name == "raw select by id" {
                            #[derive(QueryableByName)]
                            #[allow(dead_code)]
                            struct Row {
                                #[diesel(sql_type = Text)]
                                id: String,
                            }
                            let _: Vec<Row> = diesel::sql_query(statement)
                                .bind::<Text, _>(&ids[n % ids.len()])
                                .load(&mut conn)
                                .unwrap();
                        } else {
                            let id = uuid::Uuid::now_v7().to_string();
                            // SQLite may refuse a writer at once ("database is locked")
                            // rather than wait for the lock; try again.
                            while diesel::sql_query(statement)
                                .bind::<Text, _>(&id)
                                .bind::<Text, _>("Raw")
                                .bind::<Text, _>(format!("raw-{t}-{id}@example.com"))
                                .bind::<diesel::sql_types::Timestamp, _>(
                                    chrono::Utc::now().naive_utc(),
                                )
                                .execute(&mut conn)
                                .is_err()
                            {}
                        }
                        latencies.push(began.elapsed());
                        n += 1;
                    }
                    latencies
                })
            })
            .collect();
        let latencies: Vec<Duration> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        summary(name, latencies, started.elapsed());
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

fn order_body(external_id: &str) -> Value {
    let lines: Vec<Value> = (0..5)
        .map(|i| json!({"sku": format!("LOAD-{i}"), "description": "Load line", "quantity": "2", "unit_price": {"amount_minor": 1000 + i, "currency": "EUR"}, "unit_cost": {"amount_minor": 600, "currency": "EUR"}, "tax_rate_bp": 2100}))
        .collect();
    json!({"ordered_at": chrono::Utc::now().to_rfc3339(), "currency": "EUR", "status": "paid",
        "customer": {"email": format!("{external_id}@example.com")}, "lines": lines})
}

/// Sends `request`; returns its operation, latency and whether its status is one `expected`.
async fn timed(
    op: &'static str,
    request: reqwest::RequestBuilder,
    expected: &[u16],
) -> (&'static str, Duration, bool) {
    let began = Instant::now();
    let ok = request
        .send()
        .await
        .is_ok_and(|r| expected.contains(&r.status().as_u16()));
    (op, began.elapsed(), ok)
}

/// A create with an `Idempotency-Key` on one node, its retry on the other (which must replay the
/// same response), an update there with `If-Match: "1"`, then the same update on the first node,
/// which must be refused as stale.
async fn create_across_nodes(
    client: &reqwest::Client,
    base: &str,
    other: &str,
    token: &str,
    external: &str,
) -> Vec<(&'static str, Duration, bool)> {
    let body = json!({"last_name": "Soak", "email": format!("soak-{external}@example.com")});
    let create = |node: &str| {
        client
            .post(format!("{node}/v1/contacts"))
            .bearer_auth(token)
            .header("Idempotency-Key", format!("soak-{external}"))
            .json(&body)
            .send()
    };
    let began = Instant::now();
    let first = match create(base).await {
        Ok(r) if r.status().as_u16() == 201 => r.text().await.ok(),
        _ => None,
    };
    let mut steps = vec![("create contact", began.elapsed(), first.is_some())];
    let Some(first) = first else {
        return steps;
    };
    let began = Instant::now();
    let replayed = match create(other).await {
        Ok(r) if r.status().as_u16() == 201 && r.headers().contains_key("idempotent-replayed") => {
            r.text().await.ok().filter(|text| *text == first)
        }
        _ => None,
    };
    steps.push((
        "replay on the other node",
        began.elapsed(),
        replayed.is_some(),
    ));
    let id = serde_json::from_str::<Value>(&first)
        .ok()
        .and_then(|v| v["id"].as_str().map(str::to_owned));
    let Some(id) = id else {
        return steps;
    };
    let update = |node: &str| {
        client
            .patch(format!("{node}/v1/contacts/{id}"))
            .bearer_auth(token)
            .header("If-Match", "\"1\"")
            .json(&json!({"title": format!("updated through {node}")}))
    };
    steps.push(timed("update on the other node", update(other), &[200]).await);
    steps.push(timed("stale update", update(base), &[412]).await);
    steps
}

/// Prints, per second, how many requests ended in 2xx, in 503 and otherwise, and the slowest.
struct Timeline {
    started: Instant,
    seconds: Vec<(u64, u64, u64, Duration)>,
}

impl Timeline {
    fn record(&mut self, at: Instant, status: Option<u16>, took: Duration) {
        let second = at.duration_since(self.started).as_secs() as usize;
        if self.seconds.len() <= second {
            self.seconds.resize(second + 1, (0, 0, 0, Duration::ZERO));
        }
        let slot = &mut self.seconds[second];
        match status {
            Some(s) if (200..300).contains(&s) => slot.0 += 1,
            Some(503) => slot.1 += 1,
            _ => slot.2 += 1,
        }
        slot.3 = slot.3.max(took);
    }

    fn print(&self) {
        let mut first_error = None;
        let mut last_error = None;
        for (i, (ok, unavailable, other, slowest)) in self.seconds.iter().enumerate() {
            if unavailable + other > 0 {
                first_error.get_or_insert(i);
                last_error = Some(i);
            }
            eprintln!("second {i:>3}: {ok:>5} ok, {unavailable:>4} 503, {other:>4} other, slowest {:.0} ms", slowest.as_secs_f64() * 1000.0);
        }
        let slowest = self.seconds.iter().map(|s| s.3).max().unwrap_or_default();
        println!(
            "{{\"error_window_seconds\": {}, \"slowest_ms\": {:.0}}}",
            match (first_error, last_error) {
                (Some(a), Some(b)) => b - a + 1,
                _ => 0,
            },
            slowest.as_secs_f64() * 1000.0
        );
    }
}

async fn writes(base: String, token: String, seconds: u64, concurrency: usize, acks: String) {
    let client = client();
    let timeline = std::rc::Rc::new(std::cell::RefCell::new(Timeline {
        started: Instant::now(),
        seconds: Vec::new(),
    }));
    let acked = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let run = uuid::Uuid::now_v7().simple().to_string();
    let workers: Vec<_> = (0..concurrency)
        .map(|w| {
            let (client, base, token, timeline, acked, run) = (
                client.clone(),
                base.clone(),
                token.clone(),
                timeline.clone(),
                acked.clone(),
                run.clone(),
            );
            actix_rt::spawn(async move {
                let mut n = 0;
                while Instant::now() < deadline {
                    n += 1;
                    let external = format!("{}-{w}-{n}", &run[run.len() - 8..]);
                    let began = Instant::now();
                    let r = client
                        .put(format!("{base}/v1/orders/by-external-id/fault/{external}"))
                        .bearer_auth(&token)
                        .json(&order_body(&external))
                        .send()
                        .await;
                    let status = r.as_ref().ok().map(|r| r.status().as_u16());
                    timeline.borrow_mut().record(began, status, began.elapsed());
                    if status.is_some_and(|s| (200..300).contains(&s)) {
                        acked.borrow_mut().push(external);
                    } else {
                        if let Ok(r) = r {
                            if r.status() != 503 {
                                eprintln!("{}: {}", r.status(), r.text().await.unwrap_or_default());
                            }
                        }
                        actix_rt::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
    let mut file = std::fs::File::create(&acks).unwrap();
    for id in acked.borrow().iter() {
        writeln!(file, "{id}").unwrap();
    }
    timeline.borrow().print();
    println!("{{\"acknowledged\": {}}}", acked.borrow().len());
}

async fn retries(base: String, token: String, seconds: u64, concurrency: usize, acks: String) {
    let client = client();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let acked = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let attempts = std::rc::Rc::new(std::cell::Cell::new(0_u64));
    let run = uuid::Uuid::now_v7().simple().to_string();
    let contact: String = client
        .post(format!("{base}/v1/contacts"))
        .bearer_auth(&token)
        .json(&json!({"last_name": "Retry", "email": format!("retry-{run}@example.com")}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let workers: Vec<_> = (0..concurrency)
        .map(|w| {
            let (client, base, token, acked, attempts, run, contact) = (
                client.clone(), base.clone(), token.clone(), acked.clone(), attempts.clone(), run.clone(), contact.clone(),
            );
            actix_rt::spawn(async move {
                let mut n = 0;
                while Instant::now() < deadline {
                    n += 1;
                    let key = format!("{run}-{w}-{n}");
                    // The same request until acknowledged, as a careful client does.
                    loop {
                        attempts.set(attempts.get() + 1);
                        let r = client
                            .post(format!("{base}/v1/interactions"))
                            .bearer_auth(&token)
                            .header("Idempotency-Key", &key)
                            .json(&json!({"contact_id": contact, "kind": "note", "subject": key, "occurred_at": "2026-01-05T10:00:00Z"}))
                            .send()
                            .await;
                        if r.is_ok_and(|r| r.status().is_success()) {
                            acked.borrow_mut().push(key.clone());
                            break;
                        }
                        actix_rt::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
    let mut file = std::fs::File::create(&acks).unwrap();
    for key in acked.borrow().iter() {
        writeln!(file, "{key}").unwrap();
    }
    println!(
        "{{\"acknowledged\": {}, \"attempts\": {}, \"contact_id\": \"{contact}\"}}",
        acked.borrow().len(),
        attempts.get()
    );
}

async fn mixed(
    bases: Vec<String>,
    token: String,
    seconds: u64,
    rate: u64,
    contacts: String,
    companies: String,
) {
    let read = |path: &str| -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .filter(|l| !l.is_empty())
            .collect()
    };
    let (contacts, companies) = (
        std::rc::Rc::new(read(&contacts)),
        std::rc::Rc::new(read(&companies)),
    );
    let bases = std::rc::Rc::new(bases);
    let client = client();
    let started = Instant::now();
    // (minute, operation, latency, succeeded) of every request.
    let samples = std::rc::Rc::new(std::cell::RefCell::new(
        Vec::<(usize, &str, Duration, bool)>::new(),
    ));
    let inflight = std::rc::Rc::new(std::cell::Cell::new(0_usize));
    let mut interval = actix_rt::time::interval(Duration::from_nanos(1_000_000_000 / rate.max(1)));
    let run = uuid::Uuid::now_v7().simple().to_string();
    let mut n: u64 = 0;
    // Open loop: requests leave on schedule whatever the earlier ones are doing, so a slow
    // server meets the same arrival rate instead of a client that waits for it.
    while started.elapsed() < Duration::from_secs(seconds) {
        interval.tick().await;
        n += 1;
        let (client, bases, token, contacts, companies, samples, inflight) = (
            client.clone(),
            bases.clone(),
            token.clone(),
            contacts.clone(),
            companies.clone(),
            samples.clone(),
            inflight.clone(),
        );
        let external = format!("{}-{n}", &run[run.len() - 8..]);
        inflight.set(inflight.get() + 1);
        actix_rt::spawn(async move {
            let base = &bases[n as usize % bases.len()];
            let steps = match n % 10 {
                0..=3 => vec![timed("get contact", client.get(format!(
                    "{base}/v1/contacts/{}",
                    contacts[(n as usize * 7919) % contacts.len()]
                )).bearer_auth(&token), &[200]).await],
                4 | 5 => vec![timed("list contacts", client.get(format!("{base}/v1/contacts?limit=50")).bearer_auth(&token), &[200]).await],
                6 => vec![timed("filter contacts", client.get(format!("{base}/v1/contacts?q=ana&limit=20")).bearer_auth(&token), &[200]).await],
                7 if bases.len() > 1 => {
                    let other = &bases[(n as usize + 1) % bases.len()];
                    create_across_nodes(&client, base, other, &token, &external).await
                }
                7 => vec![timed("create contact", client.post(format!("{base}/v1/contacts")).bearer_auth(&token).json(
                    &json!({"last_name": "Soak", "email": format!("soak-{external}@example.com")}),
                ), &[201]).await],
                8 => vec![timed("upsert order", client
                    .put(format!("{base}/v1/orders/by-external-id/soak/{external}"))
                    .bearer_auth(&token)
                    .json(&order_body(&external)), &[200, 201]).await],
                _ => vec![timed("overview", client.get(format!(
                    "{base}/v1/companies/{}/overview",
                    companies[(n as usize * 104_729) % companies.len()]
                )).bearer_auth(&token), &[200]).await],
            };
            let minute = started.elapsed().as_secs() as usize / 60;
            let mut samples = samples.borrow_mut();
            for (op, latency, ok) in steps {
                samples.push((minute, op, latency, ok));
            }
            inflight.set(inflight.get() - 1);
        });
    }
    while inflight.get() > 0 {
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    let samples = samples.borrow();
    let minutes = samples.iter().map(|s| s.0).max().map_or(0, |m| m + 1);
    for minute in 0..minutes {
        let of_minute: Vec<_> = samples.iter().filter(|s| s.0 == minute).collect();
        let mut all: Vec<Duration> = of_minute.iter().map(|s| s.2).collect();
        all.sort();
        let errors = of_minute.iter().filter(|s| !s.3).count();
        let mut by_op = Vec::new();
        for op in [
            "get contact",
            "list contacts",
            "filter contacts",
            "create contact",
            "upsert order",
            "overview",
            "replay on the other node",
            "update on the other node",
            "stale update",
        ] {
            let mut latencies: Vec<Duration> = of_minute
                .iter()
                .filter(|s| s.1 == op)
                .map(|s| s.2)
                .collect();
            if latencies.is_empty() {
                continue;
            }
            latencies.sort();
            by_op.push(format!("\"{op}\": {:.1}", percentile(&latencies, 99.0)));
        }
        println!(
            "{{\"minute\": {minute}, \"requests\": {}, \"errors\": {errors}, \"p50_ms\": {:.2}, \"p99_ms\": {:.2}, \"p99_ms_by_operation\": {{{}}}}}",
            all.len(),
            percentile(&all, 50.0),
            percentile(&all, 99.0),
            by_op.join(", ")
        );
    }
}
