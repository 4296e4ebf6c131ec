//! `make bench-import`: P3 of #20, the bulk order import against a raw multi-row `INSERT` of the
//! same rows, each as a rate in the same run. Not a test, not in CI.
//!
//! For each backend:
//!
//! 1. On a fresh database, starts the release `crm serve`, logs in as an admin with a real JWT
//!    and creates `BENCH_COMPANIES` companies and 50 products over HTTP.
//! 2. Imports `BENCH_BATCHES` batches of `BENCH_ORDERS` orders of 5 lines each with
//!    `POST /v1/orders/import` (one request per batch, after one batch of warm-up), every order
//!    new: a company drawn at random, 5 products drawn at random, ordered over the last year.
//!    Every item must come back `created`.
//! 3. The baseline, on a second fresh database with the same companies and products written by
//!    the store: the same orders and lines as `OrderRow`s and `OrderLineRow`s (totals and cost
//!    as the store computes them), inserted with multi-row `INSERT`s of 1,000 rows
//!    (`HistoryBatch::write`, one transaction per batch), then the rollups of those rows
//!    (`rollups::rebuild`, which reads them back and writes every rollup row).
//!
//! Prints a markdown table per backend: orders per second of each, and the ratio import /
//! baseline, higher is better (the goal is at least 0.25).
//!
//! Environment (all optional):
//! - `BENCH_BACKENDS`: `postgres,sqlite` (default), or one of them;
//! - `BENCH_POSTGRES_URL`: a server where databases may be created, default
//!   `postgres://postgres@127.0.0.1:5432/postgres`;
//! - `BENCH_ORDERS`: orders per import request, default 1,000 (the endpoint's most);
//! - `BENCH_BATCHES`: timed batches, default 3;
//! - `BENCH_COMPANIES`: default 200;
//! - `BENCH_CRM`: the `crm` binary, default the one next to this one.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{NaiveDateTime, Utc};
use crm_domain::platform::money::Quantity;
use crm_domain::sales::orders::LineKind;
use crm_store::billing::history::HistoryBatch;
use crm_store::parties::companies::{self as company_store, CompanyFields};
use crm_store::platform::address::Address;
use crm_store::sales::documents::{self, Line};
use crm_store::sales::orders::{OrderLineRow, OrderRow};
use crm_store::sales::products::{self as product_store, ProductFields};
use crm_store::{DatabaseUrl, DbConnection};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

mod common;

use common::{
    crm_binary, env_or, machine, migrated_with_admin, percentile, postgres_settings, secs, Result,
    Scratch, Server, Targets, ADMIN_EMAIL,
};

const PRODUCTS: usize = 50;
const LINES: usize = 5;

/// One order as the bench sends it and as the baseline writes it.
struct Planned {
    external_id: String,
    company: usize,
    ordered_at: NaiveDateTime,
    /// (product index, quantity).
    lines: Vec<(usize, i64)>,
}

fn product_price(p: usize) -> i64 {
    1_000 + 37 * i64::try_from(p).unwrap_or(0)
}

fn product_cost(p: usize) -> i64 {
    product_price(p) * 6 / 10
}

fn plan(rng: &mut StdRng, prefix: &str, count: usize, companies: usize) -> Vec<Planned> {
    let now = Utc::now().naive_utc();
    (0..count)
        .map(|i| Planned {
            external_id: format!("{prefix}-{i}"),
            company: rng.gen_range(0..companies),
            ordered_at: now - chrono::Duration::minutes(rng.gen_range(0..525_600)),
            lines: (0..LINES)
                .map(|_| (rng.gen_range(0..PRODUCTS), rng.gen_range(1..=5)))
                .collect(),
        })
        .collect()
}

fn payload(orders: &[Planned], company_ids: &[String]) -> Value {
    Value::Array(
        orders
            .iter()
            .map(|o| {
                json!({
                    "channel": "bench",
                    "external_id": o.external_id,
                    "ordered_at": format!("{}Z", o.ordered_at.format("%Y-%m-%dT%H:%M:%S")),
                    "currency": "EUR",
                    "status": "paid",
                    "company_id": company_ids[o.company],
                    "lines": o.lines.iter().map(|(p, q)| json!({
                        "sku": format!("IMP-{p}"),
                        "quantity": q.to_string(),
                        "unit_price": {"amount_minor": product_price(*p), "currency": "EUR"},
                        "tax_rate_bp": 2100,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

async fn call(
    client: &reqwest::Client,
    token: Option<&str>,
    url: String,
    body: &Value,
) -> Result<Value> {
    let mut request = client.post(url).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await?;
    let status = response.status();
    let body: Value = response.json().await?;
    if !status.is_success() {
        return Err(format!("{status}: {body}").into());
    }
    Ok(body)
}

/// Creates the companies and products over HTTP; returns the companies' ids and the products'.
async fn catalogue(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    companies: usize,
) -> Result<(Vec<String>, Vec<String>)> {
    let mut company_ids = Vec::with_capacity(companies);
    for i in 0..companies {
        let body = json!({"name": format!("Import customer {i}")});
        let company = call(client, Some(token), format!("{base}/v1/companies"), &body).await?;
        company_ids.push(company["id"].as_str().ok_or("no company id")?.to_owned());
    }
    let mut product_ids = Vec::with_capacity(PRODUCTS);
    for p in 0..PRODUCTS {
        let body = json!({"sku": format!("IMP-{p}"), "name": format!("Imported {p}"),
            "unit_price": {"amount_minor": product_price(p), "currency": "EUR"},
            "unit_cost": {"amount_minor": product_cost(p), "currency": "EUR"}, "tax_rate_bp": 2100});
        let product = call(client, Some(token), format!("{base}/v1/products"), &body).await?;
        product_ids.push(product["id"].as_str().ok_or("no product id")?.to_owned());
    }
    Ok((company_ids, product_ids))
}

fn setup(url: &DatabaseUrl, password: &str) -> Result<DbConnection> {
    migrated_with_admin(url, password)?;
    Ok(url.connect()?)
}

/// The imports over HTTP: the time of each timed batch.
fn imports(
    crm: &Path,
    scratch: &Scratch,
    rng: &mut StdRng,
    orders: usize,
    batches: usize,
    companies: usize,
) -> Result<(Vec<Duration>, Vec<Vec<Planned>>)> {
    let password = format!("bench {}", uuid::Uuid::now_v7().simple());
    let url = DatabaseUrl::parse(scratch.url())?;
    drop(setup(&url, &password)?);
    let server = Server::start(crm, scratch, &[])?;
    let base = server.base.clone();
    let planned: Vec<Vec<Planned>> = (0..=batches)
        .map(|b| plan(rng, &format!("b{b}"), orders, companies))
        .collect();
    let times = actix_rt::System::new().block_on(async {
        let client = reqwest::Client::new();
        let login = json!({"email": ADMIN_EMAIL, "password": password});
        let token = call(&client, None, format!("{base}/v1/auth/token"), &login).await?;
        let token = token["access_token"].as_str().ok_or("no token")?.to_owned();
        let (company_ids, _) = catalogue(&client, &base, &token, companies).await?;
        let mut times = Vec::new();
        for (b, batch) in planned.iter().enumerate() {
            let body = payload(batch, &company_ids);
            let started = Instant::now();
            let answer = call(
                &client,
                Some(&token),
                format!("{base}/v1/orders/import"),
                &body,
            )
            .await?;
            let elapsed = started.elapsed();
            let results = answer["results"].as_array().ok_or("no results")?;
            let created = results.iter().filter(|r| r["status"] == "created").count();
            if created != batch.len() {
                return Err(format!("batch {b}: {created} of {} created", batch.len()).into());
            }
            if b > 0 {
                times.push(elapsed);
            }
        }
        Ok::<_, Box<dyn std::error::Error>>(times)
    })?;
    drop(server);
    Ok((times, planned.into_iter().skip(1).collect()))
}

/// The same orders written raw into a second database with the same catalogue: the time of
/// each batch, rollups included.
fn baseline(
    scratch: &Scratch,
    planned: &[Vec<Planned>],
    companies: usize,
) -> Result<Vec<Duration>> {
    let url = DatabaseUrl::parse(scratch.url())?;
    let mut conn = setup(&url, "baseline password 0123456789")?;
    let now = crm_store::now();
    let mut company_ids = Vec::with_capacity(companies);
    for i in 0..companies {
        let fields = CompanyFields {
            name: format!("Import customer {i}"),
            legal_name: None,
            tax_id: None,
            billing_address: Address::default(),
            email: None,
            phone: None,
            website: None,
            industry: None,
            owner_id: None,
            tags: Vec::new(),
            preferences: json!({}),
            custom_fields: serde_json::Map::new(),
            custom_written: None,
        };
        company_ids.push(company_store::create(&mut conn, fields)?.id);
    }
    let mut product_ids = Vec::with_capacity(PRODUCTS);
    for p in 0..PRODUCTS {
        let fields = ProductFields {
            sku: format!("IMP-{p}"),
            name: format!("Imported {p}"),
            description: None,
            currency: "EUR".to_owned(),
            unit_price_minor: product_price(p),
            unit_cost_minor: Some(product_cost(p)),
            tax_rate_bp: 2100,
            active: true,
        };
        product_ids.push(product_store::create(&mut conn, fields)?.id);
    }
    let mut times = Vec::new();
    for batch in planned {
        let mut history = HistoryBatch::default();
        for order in batch {
            let lines: Vec<Line> = order
                .lines
                .iter()
                .map(|(p, q)| Line {
                    product_id: Some(product_ids[*p].clone()),
                    sku: Some(format!("IMP-{p}")),
                    description: format!("Imported {p}"),
                    quantity: Quantity::from_milli(q * 1_000),
                    unit_price_minor: product_price(*p),
                    unit_cost_minor: Some(product_cost(*p)),
                    discount_bp: 0,
                    tax_rate_bp: 2100,
                    kind: LineKind::Product,
                    stated: None,
                    external_id: None,
                })
                .collect();
            let totals = documents::totals(&lines)?;
            let cost_minor = documents::cost_of(&lines)?;
            let id = crm_store::new_id();
            for (position, (line, amounts)) in lines.iter().zip(&totals.lines).enumerate() {
                history
                    .lines
                    .push(OrderLineRow::new(&id, position, line, amounts));
            }
            history.orders.push(OrderRow {
                id,
                channel: "bench".to_owned(),
                external_id: order.external_id.clone(),
                contact_id: None,
                company_id: Some(company_ids[order.company].clone()),
                quote_id: None,
                currency: "EUR".to_owned(),
                status: "paid".to_owned(),
                ordered_at: order.ordered_at,
                salesperson_id: None,
                campaign_id: None,
                payload_hash: order.external_id.clone(),
                subtotal_minor: totals.subtotal_minor,
                discount_minor: totals.discount_minor,
                tax_minor: totals.tax_minor,
                total_minor: totals.total_minor,
                cost_minor,
                version: 1,
                created_at: now,
                updated_at: now,
                prices_include_tax: false,
                connection_id: None,
                shop_number: None,
                shop_updated_at: None,
                utm: None,
                custom_fields: String::new(),
            });
        }
        let started = Instant::now();
        history.write(&mut conn)?;
        crm_store::platform::db::write_transaction(
            &mut conn,
            crm_store::analytics::rollups::rebuild,
        )?;
        times.push(started.elapsed());
    }
    Ok(times)
}

/// Orders of one best seller: every line is product 0, so every order adds to that product's
/// rollup for its month; each importer's customers are its own.
fn best_seller_orders(
    prefix: &str,
    count: usize,
    customers: std::ops::Range<usize>,
) -> Vec<Planned> {
    let month = Utc::now().naive_utc();
    (0..count)
        .map(|i| Planned {
            external_id: format!("{prefix}-{i}"),
            company: customers.start + i % customers.len(),
            ordered_at: month,
            lines: vec![(0, 1)],
        })
        .collect()
}

/// `importers` importing at once, each `requests` requests of `orders` orders of the same SKU:
/// orders per second over the whole run. Then checks that the rollups equal a rebuild.
fn same_sku(
    crm: &Path,
    scratch: &Scratch,
    importers: usize,
    (requests, orders): (usize, usize),
    companies: usize,
) -> Result<f64> {
    let password = format!("bench {}", uuid::Uuid::now_v7().simple());
    let url = DatabaseUrl::parse(scratch.url())?;
    drop(setup(&url, &password)?);
    let server = Server::start(crm, scratch, &[])?;
    let base = server.base.clone();
    let per_importer = companies / importers;
    let elapsed = actix_rt::System::new().block_on(async {
        let client = reqwest::Client::new();
        let login = json!({"email": ADMIN_EMAIL, "password": password});
        let token = call(&client, None, format!("{base}/v1/auth/token"), &login).await?;
        let token = token["access_token"].as_str().ok_or("no token")?.to_owned();
        let (company_ids, _) = catalogue(&client, &base, &token, companies).await?;
        let import = |importer: usize| {
            let (client, token, base, company_ids) = (
                client.clone(),
                token.clone(),
                base.clone(),
                company_ids.clone(),
            );
            async move {
                let customers = importer * per_importer..(importer + 1) * per_importer;
                for r in 0..requests {
                    let batch =
                        best_seller_orders(&format!("i{importer}-r{r}"), orders, customers.clone());
                    let answer = call(
                        &client,
                        Some(&token),
                        format!("{base}/v1/orders/import"),
                        &payload(&batch, &company_ids),
                    )
                    .await?;
                    let created = answer["results"]
                        .as_array()
                        .ok_or("no results")?
                        .iter()
                        .filter(|r| r["status"] == "created")
                        .count();
                    if created != orders {
                        return Err(
                            format!("importer {importer}: {created} of {orders} created").into(),
                        );
                    }
                }
                Ok::<_, Box<dyn std::error::Error>>(())
            }
        };
        let started = Instant::now();
        futures_util::future::try_join_all((0..importers).map(import)).await?;
        Ok::<_, Box<dyn std::error::Error>>(started.elapsed())
    })?;
    drop(server);
    let mut conn = url.connect()?;
    let stored = crm_store::analytics::rollups::stored(&mut conn)?;
    if stored != crm_store::analytics::rollups::from_scratch(&mut conn)? {
        return Err("after the concurrent imports the rollups differ from a rebuild".into());
    }
    let years = crm_store::analytics::years::stored(&mut conn)?;
    if years
        != crm_store::analytics::years::from_months(
            &mut conn,
            crm_store::analytics::years::Companies::All,
        )?
    {
        return Err(
            "after the concurrent imports the yearly rollups differ from their months".into(),
        );
    }
    Ok((importers * requests * orders) as f64 / elapsed.as_secs_f64())
}

fn rate(orders: usize, times: &[Duration]) -> f64 {
    let total: f64 = times.iter().map(Duration::as_secs_f64).sum();
    (orders * times.len()) as f64 / total.max(f64::EPSILON)
}

fn main() -> Result<()> {
    let Targets { backends, admin } = Targets::from_env()?;
    let orders: usize = env_or("BENCH_ORDERS", 1_000)?;
    let batches: usize = env_or("BENCH_BATCHES", 3)?;
    let companies: usize = env_or("BENCH_COMPANIES", 200)?;
    if orders == 0 || batches == 0 || companies == 0 {
        return Err("BENCH_ORDERS, BENCH_BATCHES and BENCH_COMPANIES must be at least 1".into());
    }
    crm_http::events::render::install();
    let crm = crm_binary()?;
    let mut notes = vec![machine()];
    if backends.contains("postgres") {
        notes.push(postgres_settings(&admin, "synchronous_commit")?);
    }
    println!("Machine: {}.", notes.join("; "));
    println!(
        "{batches} timed batches of {orders} orders × {LINES} lines (after one of warm-up), every \
         order new, over {companies} companies and {PRODUCTS} products. Import: `POST \
         /v1/orders/import` to the release `crm serve`, one request per batch, times client-side. \
         Baseline: the same rows as multi-row INSERTs of 1,000 (`HistoryBatch::write`) and the \
         rollups rebuilt from them, on a second database with the same catalogue. Ratio: import \
         rate / baseline rate, higher is better."
    );
    println!();
    println!("| backend | import orders/s | batch p50 | baseline orders/s | batch p50 | ratio |");
    println!("|---|---:|---:|---:|---:|---:|");
    for backend in backends.split(',').map(str::trim) {
        let mut rng = StdRng::seed_from_u64(20);
        let (api, planned) = {
            let scratch = Scratch::new(backend, &admin, "import")?;
            imports(&crm, &scratch, &mut rng, orders, batches, companies)?
        };
        let raw = {
            let scratch = Scratch::new(backend, &admin, "import_raw")?;
            baseline(&scratch, &planned, companies)?
        };
        let (api_rate, raw_rate) = (rate(orders, &api), rate(orders, &raw));
        println!(
            "| {backend} | {api_rate:.0} | {} | {raw_rate:.0} | {} | {:.3} |",
            secs(percentile(&api, 50)),
            secs(percentile(&raw, 50)),
            api_rate / raw_rate
        );
    }
    if backends.contains("postgres") {
        let batches = (
            env_or("BENCH_SKU_REQUESTS", 4)?,
            env_or("BENCH_SKU_ORDERS", 100)?,
        );
        let pushes = (env_or("BENCH_SKU_PUSHES", 200)?, 1);
        println!();
        println!(
            "One best seller on PostgreSQL: every order one line of the same SKU, in the same \
             month, for the importer's own customers. An importer sends its requests one at a \
             time: either {} batches of {} orders, or {} pushes of one order each, as a shop's \
             order webhook does. Rollups checked equal to a rebuild after each run.",
            batches.0, batches.1, pushes.0
        );
        println!();
        println!("| requests | importers | orders/s | ÷ one importer |");
        println!("|---|---:|---:|---:|");
        for (requests, orders) in [batches, pushes] {
            let mut one = None;
            for importers in [1, 8] {
                let scratch = Scratch::new("postgres", &admin, "import_sku")?;
                let rate = same_sku(&crm, &scratch, importers, (requests, orders), 8 * 25)?;
                let single = *one.get_or_insert(rate);
                println!(
                    "| {requests} × {orders} | {importers} | {rate:.0} | {:.2} |",
                    rate / single
                );
            }
        }
    }
    Ok(())
}
