//! `make bench-filters`: the contact list's filter language and `expand=`, each as a ratio in
//! the same run (issue #19). Not a test, not in CI.
//!
//! For each backend, on a fresh database:
//!
//! 1. Loads `BENCH_COMPANIES` companies and `BENCH_CONTACTS` contacts through the store's bulk
//!    inserts (`companies::create_many`, `contacts::create_many`, 1,000 per write transaction):
//!    80% of contacts at a company drawn at random, lifecycle stages prospect / customer /
//!    former at 40 / 40 / 20%, created over the last 2 years. `create_many` leaves
//!    `custom_fields` at its default `{}`; in the same transaction one `UPDATE … WHERE id IN
//!    (…)` per segment sets `{"segment": …}` to retail, food and wholesale at 30% each, the
//!    other 10% without a value.
//! 2. Starts the release `crm serve`, logs in as an admin with a real JWT, and adds the enum
//!    field `segment` over HTTP (`POST /v1/schema/contacts/fields`, `indexed`), so that the
//!    server creates its expression index on the loaded table. Then `VACUUM ANALYZE` on
//!    PostgreSQL (the UPDATEs left a dead version of most rows), `ANALYZE` on SQLite.
//! 3. Measures over HTTP, one request at a time after 20 of warm-up, `BENCH_REQUESTS` each:
//!    `GET /v1/contacts?filter=and(lifecycle_stage.eq.customer,custom.segment.eq.retail,
//!    created_at.gte.<a year ago>)&limit=50`, then `GET /v1/contacts?limit=100` and
//!    `GET /v1/contacts?limit=100&expand=company`.
//! 4. Stops the server and runs the filter as hand-written SQL on one connection of this
//!    process, timed the same way with its rows decoded: every column the store reads,
//!    `archived_at IS NULL` and the three conditions without the `COALESCE(…, FALSE)` the
//!    filter language wraps each comparison in (PostgreSQL `custom_fields @> '{"segment":
//!    "retail"}'`, SQLite `json_extract(custom_fields, '$.segment') = 'retail'`), `ORDER BY
//!    created_at DESC, id DESC LIMIT 51`, the values bound as parameters.
//!
//! Prints a markdown table per backend: p50 and p95 of each measurement and of its baseline,
//! and the ratio baseline p50 / p50, higher is better (1.0 would be a filtered list as fast as
//! its raw query, and an expanded page as fast as a plain one). The raw SQL has no HTTP, no
//! authentication and no JSON; the plain page has all three. Also whether the raw query found
//! the page the API answered.
//!
//! Environment (all optional):
//! - `BENCH_BACKENDS`: `postgres,sqlite` (default), or one of them;
//! - `BENCH_POSTGRES_URL`: a server where databases may be created, default
//!   `postgres://postgres@127.0.0.1:5432/postgres`; the bench creates `crm_bench_filters` and
//!   drops it at the end;
//! - `BENCH_CONTACTS` / `BENCH_COMPANIES`: default 100,000 / 10,000;
//! - `BENCH_REQUESTS`: timed requests (and raw queries) per measurement, default 300;
//! - `BENCH_CRM`: the `crm` binary, default the one next to this one.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use crm_domain::parties::contacts::LifecycleStage;
use crm_store::parties::companies::{self as company_store, CompanyFields};
use crm_store::parties::contacts::{self as contact_store, ContactFields};
use crm_store::platform::db::write_transaction;
use crm_store::platform::schema::contacts;
use crm_store::{DatabaseUrl, DbConnection, StoreError};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{Text, Timestamp};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

mod common;

use common::{
    crm_binary, env_or, machine, migrated_with_admin, percentile, postgres_settings, secs, Result,
    Scratch, Server, Targets, ADMIN_EMAIL,
};
use crm_tests::report::{ms, short, sql_literal, thousands, Count};

const WARMUP: usize = 20;
const CHUNK: usize = 1_000;
/// The filtered list's page, and the expanded one's.
const PAGE: usize = 50;
const WIDE_PAGE: usize = 100;
const DAY: i64 = 24 * 3_600;
/// Contacts are created over this many days before the load.
const SPAN_DAYS: i64 = 730;
/// The filter takes contacts created since this many days before the load: about half.
const SINCE_DAYS: i64 = 365;
const STAGE: &str = "customer";
const SEGMENT: &str = "retail";
/// The segments and their shares; the rest of the contacts have none.
const SEGMENTS: [(&str, f64); 3] = [("retail", 0.3), ("food", 0.3), ("wholesale", 0.3)];
const FIRST_NAMES: [&str; 10] = [
    "Ana", "Luis", "Marta", "Jorge", "Claire", "Louis", "Giulia", "Marco", "Emma", "James",
];
const LAST_NAMES: [&str; 10] = [
    "Garcia", "Ruiz", "Navarro", "Bernard", "Petit", "Schulz", "Russo", "Ferreira", "Visser",
    "Jones",
];
/// Every column `contacts::list` reads, as it reads them.
const CONTACT_COLUMNS: &str = "id, company_id, first_name, last_name, email, email_key, phone, \
    title, lifecycle_stage, owner_id, tags, preferences, marketing_consent, marketing_consent_at, \
    search_text, version, created_at, updated_at, archived_at, merged_into_id, email_base, \
    name_key, CAST(custom_fields AS TEXT) AS custom_fields";

impl Scratch {
    fn label(&self) -> &'static str {
        match self {
            Scratch::Postgres { .. } => "PostgreSQL",
            Scratch::Sqlite { .. } => "SQLite",
        }
    }
}

/// A row of the raw list, decoded whole (the SQL types are the schema's).
#[derive(QueryableByName)]
#[diesel(table_name = contacts)]
#[allow(dead_code)]
struct RawContact {
    id: String,
    company_id: Option<String>,
    first_name: Option<String>,
    last_name: String,
    email: Option<String>,
    email_key: Option<String>,
    phone: Option<String>,
    title: Option<String>,
    lifecycle_stage: String,
    owner_id: Option<String>,
    tags: String,
    preferences: String,
    marketing_consent: bool,
    marketing_consent_at: Option<NaiveDateTime>,
    search_text: String,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    archived_at: Option<NaiveDateTime>,
    merged_into_id: Option<String>,
    email_base: Option<String>,
    name_key: Option<String>,
    custom_fields: String,
}

fn percent(part: usize, whole: usize) -> String {
    format!("{:.0}%", part as f64 * 100.0 / whole.max(1) as f64)
}

/// What the contacts were loaded with.
#[derive(Default)]
struct Loaded {
    /// Contacts at a company.
    linked: usize,
    /// Contacts per segment of [`SEGMENTS`], then without one.
    segments: [usize; SEGMENTS.len() + 1],
    companies: Duration,
    contacts: Duration,
}

/// A contact as `contacts::create_many` takes it: its fields and when it was created.
type NewContact = (ContactFields, NaiveDateTime);

/// The `i`th contact, and its segment (an index of [`SEGMENTS`], or `None`).
fn contact(
    i: usize,
    rng: &mut StdRng,
    now: NaiveDateTime,
    companies: &[String],
) -> (NewContact, Option<usize>) {
    let lifecycle_stage = match rng.gen::<f64>() {
        u if u < 0.4 => LifecycleStage::Prospect,
        u if u < 0.8 => LifecycleStage::Customer,
        _ => LifecycleStage::Former,
    };
    let company_id = (!companies.is_empty() && rng.gen_bool(0.8))
        .then(|| companies[rng.gen_range(0..companies.len())].clone());
    let u: f64 = rng.gen();
    let mut edge = 0.0_f64;
    let mut segment = None;
    for (s, (_, share)) in SEGMENTS.iter().enumerate() {
        edge += *share;
        if u < edge {
            segment = Some(s);
            break;
        }
    }
    let first_name = FIRST_NAMES[rng.gen_range(0..FIRST_NAMES.len())];
    let last_name = LAST_NAMES[rng.gen_range(0..LAST_NAMES.len())];
    let created = now - chrono::Duration::seconds(rng.gen_range(60..SPAN_DAYS * DAY));
    let fields = ContactFields {
        company_id,
        first_name: Some(first_name.to_owned()),
        last_name: last_name.to_owned(),
        email: Some(format!(
            "{}.{}.{i}@bench.example",
            first_name.to_lowercase(),
            last_name.to_lowercase()
        )),
        phone: None,
        title: None,
        lifecycle_stage,
        owner_id: None,
        tags: Vec::new(),
        preferences: json!({}),
        marketing_consent: rng.gen_bool(0.4),
        birthday: None,
        locale: None,
        custom_fields: serde_json::Map::new(),
        custom_written: None,
    };
    ((fields, created), segment)
}

/// Companies, then contacts with their segments set.
fn load(
    conn: &mut DbConnection,
    rng: &mut StdRng,
    companies: usize,
    contacts: usize,
) -> Result<Loaded> {
    let mut loaded = Loaded::default();
    let postgres = matches!(conn, DbConnection::Postgres(_));
    let now = crm_store::now();

    let started = Instant::now();
    let mut company_ids = Vec::with_capacity(companies);
    for first in (0..companies).step_by(CHUNK) {
        let batch: Vec<(CompanyFields, NaiveDateTime)> = (first..(first + CHUNK).min(companies))
            .map(|i| {
                let created =
                    now - chrono::Duration::seconds(rng.gen_range(SPAN_DAYS * DAY..3 * 365 * DAY));
                (
                    CompanyFields::named(format!("Bench Company {:05}", i + 1)),
                    created,
                )
            })
            .collect();
        company_ids.extend(write_transaction(conn, |c| {
            company_store::create_many(c, &batch)
        })?);
    }
    loaded.companies = started.elapsed();

    let started = Instant::now();
    for first in (0..contacts).step_by(CHUNK) {
        let end = (first + CHUNK).min(contacts);
        let (batch, segments): (Vec<NewContact>, Vec<Option<usize>>) = (first..end)
            .map(|i| contact(i, rng, now, &company_ids))
            .unzip();
        loaded.linked += batch.iter().filter(|(f, _)| f.company_id.is_some()).count();
        for segment in segments.iter().copied() {
            loaded.segments[segment.unwrap_or(SEGMENTS.len())] += 1;
        }
        write_transaction(conn, |c| {
            let ids = contact_store::create_many(c, &batch)?;
            for (s, (name, _)) in SEGMENTS.iter().enumerate() {
                let chosen: Vec<String> = ids
                    .iter()
                    .zip(&segments)
                    .filter(|(_, segment)| **segment == Some(s))
                    .map(|(id, _)| sql_literal(id))
                    .collect();
                if chosen.is_empty() {
                    continue;
                }
                let value = sql_literal(&json!({ "segment": name }).to_string());
                let value = if postgres {
                    format!("CAST({value} AS jsonb)")
                } else {
                    value
                };
                c.batch_execute(&format!(
                    "UPDATE contacts SET custom_fields = {value} WHERE id IN ({})",
                    chosen.join(", ")
                ))?;
            }
            Ok::<_, StoreError>(())
        })?;
        if (first / CHUNK + 1).is_multiple_of(20) {
            eprintln!(
                "   {} contacts after {}",
                thousands(first + CHUNK),
                secs(started.elapsed())
            );
        }
    }
    loaded.contacts = started.elapsed();
    Ok(loaded)
}

/// The WHERE of the hand-written filter: stage, segment and creation bound as parameters 1–3.
fn raw_filter(postgres: bool) -> &'static str {
    if postgres {
        "archived_at IS NULL AND lifecycle_stage = $1 AND custom_fields @> CAST($2 AS jsonb) \
         AND created_at >= $3"
    } else {
        "archived_at IS NULL AND lifecycle_stage = ?1 \
         AND json_extract(custom_fields, '$.segment') = ?2 AND created_at >= ?3"
    }
}

/// What the segment parameter is on each backend: containment on PostgreSQL, the value on SQLite.
fn segment_parameter(postgres: bool) -> String {
    if postgres {
        json!({ "segment": SEGMENT }).to_string()
    } else {
        SEGMENT.to_owned()
    }
}

/// Runs the hand-written list; returns its time and the ids of the page.
fn raw_list(
    conn: &mut DbConnection,
    sql: &str,
    segment: &str,
    since: NaiveDateTime,
) -> Result<(Duration, Vec<String>)> {
    let started = Instant::now();
    let rows: Vec<RawContact> = match conn {
        DbConnection::Postgres(pg) => diesel::sql_query(sql)
            .bind::<Text, _>(STAGE)
            .bind::<Text, _>(segment)
            .bind::<Timestamp, _>(since)
            .load(pg)?,
        DbConnection::Sqlite(lite) => diesel::sql_query(sql)
            .bind::<Text, _>(STAGE)
            .bind::<Text, _>(segment)
            .bind::<Timestamp, _>(since)
            .load(lite)?,
    };
    let elapsed = started.elapsed();
    Ok((elapsed, rows.into_iter().take(PAGE).map(|r| r.id).collect()))
}

/// How many contacts the filter matches, all pages.
fn count_matching(conn: &mut DbConnection, since: NaiveDateTime) -> Result<i64> {
    let postgres = matches!(conn, DbConnection::Postgres(_));
    let sql = format!(
        "SELECT COUNT(*) AS n FROM contacts WHERE {}",
        raw_filter(postgres)
    );
    let segment = segment_parameter(postgres);
    let count: Count = match conn {
        DbConnection::Postgres(pg) => diesel::sql_query(sql)
            .bind::<Text, _>(STAGE)
            .bind::<Text, _>(&segment)
            .bind::<Timestamp, _>(since)
            .get_result(pg)?,
        DbConnection::Sqlite(lite) => diesel::sql_query(sql)
            .bind::<Text, _>(STAGE)
            .bind::<Text, _>(&segment)
            .bind::<Timestamp, _>(since)
            .get_result(lite)?,
    };
    Ok(count.n)
}

/// Times of one measurement, the ids of its first answer, and how many of those embedded a
/// company.
struct Measured {
    samples: Vec<Duration>,
    ids: Vec<String>,
    embedded: usize,
}

/// `WARMUP + requests` runs of `run`; the warm-up is not kept.
fn measure_raw(
    requests: usize,
    mut run: impl FnMut() -> Result<(Duration, Vec<String>)>,
) -> Result<Measured> {
    let mut samples = Vec::with_capacity(requests);
    let mut ids = None;
    for i in 0..WARMUP + requests {
        let (elapsed, found) = run()?;
        if i >= WARMUP {
            samples.push(elapsed);
        }
        ids.get_or_insert(found);
    }
    Ok(Measured {
        samples,
        ids: ids.unwrap_or_default(),
        embedded: 0,
    })
}

async fn login(
    client: &reqwest::Client,
    base: &str,
    email: &str,
    password: &str,
) -> Result<String> {
    let response = client
        .post(format!("{base}/v1/auth/token"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await?;
    if response.status() != 200 {
        return Err(format!("login of {email}: {}", response.status()).into());
    }
    let body: Value = response.json().await?;
    Ok(body["access_token"]
        .as_str()
        .ok_or("no access token")?
        .to_owned())
}

/// Adds the indexed enum field `segment` to contacts; returns how long the request took.
async fn create_field(client: &reqwest::Client, base: &str, token: &str) -> Result<Duration> {
    let options: Vec<Value> = SEGMENTS
        .iter()
        .map(|(value, _)| json!({"value": value, "label": value}))
        .collect();
    let started = Instant::now();
    let response = client
        .post(format!("{base}/v1/schema/contacts/fields"))
        .bearer_auth(token)
        .json(&json!({
            "key": "segment",
            "label": "Segment",
            "type": "enum",
            "options": options,
            "indexed": true
        }))
        .send()
        .await?;
    let status = response.status();
    let body = response.text().await?;
    let elapsed = started.elapsed();
    if status != 201 {
        return Err(format!("POST /v1/schema/contacts/fields: {status} {body}").into());
    }
    Ok(elapsed)
}

/// The API side of [`measure_raw`]: every answer must be a 200 with something found.
async fn measure_api(
    client: &reqwest::Client,
    token: &str,
    url: &reqwest::Url,
    requests: usize,
) -> Result<Measured> {
    let mut samples = Vec::with_capacity(requests);
    let mut first: Option<(Vec<String>, usize)> = None;
    for i in 0..WARMUP + requests {
        let started = Instant::now();
        let response = client.get(url.clone()).bearer_auth(token).send().await?;
        let status = response.status();
        let body = response.bytes().await?;
        let elapsed = started.elapsed();
        if status != 200 {
            return Err(format!("GET {url}: {status} {}", String::from_utf8_lossy(&body)).into());
        }
        if i >= WARMUP {
            samples.push(elapsed);
        }
        if first.is_none() {
            let body: Value = serde_json::from_slice(&body)?;
            let data = body["data"]
                .as_array()
                .ok_or_else(|| format!("GET {url}: no data"))?;
            let ids: Vec<String> = data
                .iter()
                .filter_map(|r| r["id"].as_str().map(str::to_owned))
                .collect();
            if ids.is_empty() {
                return Err(format!("GET {url}: nothing found").into());
            }
            let embedded = data.iter().filter(|r| r["company"].is_object()).count();
            first = Some((ids, embedded));
        }
    }
    let (ids, embedded) = first.unwrap_or_default();
    Ok(Measured {
        samples,
        ids,
        embedded,
    })
}

struct Row {
    name: String,
    api: Measured,
    baseline_name: &'static str,
    baseline: Measured,
    /// Whether the baseline answered the same page, in the same order.
    same: bool,
}

struct Run {
    label: &'static str,
    contacts: usize,
    companies: usize,
    loaded: Loaded,
    since: NaiveDate,
    matching: i64,
    field: Duration,
    analyze: Duration,
    rows: Vec<Row>,
}

fn setup(url: &DatabaseUrl, password: &str) -> Result<DbConnection> {
    migrated_with_admin(url, password)?;
    Ok(url.connect()?)
}

fn bench(
    crm: &Path,
    scratch: &Scratch,
    contacts: usize,
    companies: usize,
    requests: usize,
) -> Result<Run> {
    let label = scratch.label();
    eprintln!(
        "== {label}: {} contacts, {} companies",
        thousands(contacts),
        thousands(companies)
    );
    let url = DatabaseUrl::parse(scratch.url())?;
    let password = format!("bench {}", uuid::Uuid::now_v7().simple());
    let mut conn = setup(&url, &password)?;
    let postgres = matches!(conn, DbConnection::Postgres(_));
    let mut rng = StdRng::seed_from_u64(19);
    let loaded = load(&mut conn, &mut rng, companies, contacts)?;
    eprintln!(
        "   loaded: companies in {}, contacts in {}",
        secs(loaded.companies),
        secs(loaded.contacts)
    );
    let since = (crm_store::now() - chrono::Duration::days(SINCE_DAYS)).date();
    let since_at = since.and_time(NaiveTime::MIN);
    let filter = format!(
        "and(lifecycle_stage.eq.{STAGE},custom.segment.eq.{SEGMENT},created_at.gte.{})",
        since.format("%Y-%m-%d")
    );

    let server = Server::start(crm, scratch, &[])?;
    eprintln!(
        "   server at {}; adding the field, then measuring",
        server.base
    );
    let base = server.base.clone();
    let contacts_url = format!("{base}/v1/contacts");
    let page = PAGE.to_string();
    let wide = WIDE_PAGE.to_string();
    let filter_url = reqwest::Url::parse_with_params(
        &contacts_url,
        &[("filter", filter.as_str()), ("limit", page.as_str())],
    )?;
    let plain_url = reqwest::Url::parse_with_params(&contacts_url, &[("limit", wide.as_str())])?;
    let expand_url = reqwest::Url::parse_with_params(
        &contacts_url,
        &[("limit", wide.as_str()), ("expand", "company")],
    )?;
    let (field, analyze, api_filter, api_plain, api_expand) =
        actix_rt::System::new().block_on(async {
            let client = reqwest::Client::new();
            let admin = login(&client, &base, ADMIN_EMAIL, &password).await?;
            let field = create_field(&client, &base, &admin).await?;
            // Statistics for the new expression index too; on PostgreSQL the UPDATEs of the
            // load also left dead row versions behind, which a live server's autovacuum would
            // have removed.
            let statement = if postgres {
                "VACUUM ANALYZE"
            } else {
                "ANALYZE"
            };
            let started = Instant::now();
            conn.batch_execute(statement)?;
            let analyze = started.elapsed();
            let filtered = measure_api(&client, &admin, &filter_url, requests).await?;
            let plain = measure_api(&client, &admin, &plain_url, requests).await?;
            let expanded = measure_api(&client, &admin, &expand_url, requests).await?;
            Ok::<_, Box<dyn std::error::Error>>((field, analyze, filtered, plain, expanded))
        })?;
    drop(server);
    if api_expand.embedded == 0 {
        return Err("expand=company embedded no company".into());
    }

    eprintln!("   raw SQL");
    let matching = count_matching(&mut conn, since_at)?;
    let sql = format!(
        "SELECT {CONTACT_COLUMNS} FROM contacts WHERE {} \
         ORDER BY created_at DESC, id DESC LIMIT {}",
        raw_filter(postgres),
        PAGE + 1
    );
    let segment = segment_parameter(postgres);
    let raw = measure_raw(requests, || raw_list(&mut conn, &sql, &segment, since_at))?;

    let rows = vec![
        Row {
            name: format!(
                "contacts by lifecycle_stage, custom.segment & created_at, {PAGE} of {} ({})",
                thousands(usize::try_from(matching).unwrap_or_default()),
                short(contacts)
            ),
            same: api_filter.ids == raw.ids,
            api: api_filter,
            baseline_name: "hand-written SQL",
            baseline: raw,
        },
        Row {
            name: format!(
                "contacts, {WIDE_PAGE} with expand=company ({} companies embedded)",
                api_expand.embedded
            ),
            same: api_expand.ids == api_plain.ids,
            api: api_expand,
            baseline_name: "the same page without expand",
            baseline: api_plain,
        },
    ];
    Ok(Run {
        label,
        contacts,
        companies,
        loaded,
        since,
        matching,
        field,
        analyze,
        rows,
    })
}

fn table(run: &Run) -> String {
    let mut out = format!(
        "#### {}\n\n| measurement | API p50 | API p95 | baseline | baseline p50 | baseline p95 | \
         ratio (baseline / API) |\n|---|---|---|---|---|---|---|\n",
        run.label
    );
    for row in &run.rows {
        let (api, baseline) = (
            percentile(&row.api.samples, 50),
            percentile(&row.baseline.samples, 50),
        );
        let ratio = baseline.as_secs_f64() / api.as_secs_f64().max(1e-9);
        let flag = if row.same {
            ""
        } else {
            " (**the baseline's rows differ from the API's**)"
        };
        out += &format!(
            "| {}{flag} | {} | {} | {} | {} | {} | **{ratio:.2}** |\n",
            row.name,
            ms(api),
            ms(percentile(&row.api.samples, 95)),
            row.baseline_name,
            ms(baseline),
            ms(percentile(&row.baseline.samples, 95)),
        );
    }
    let loaded = &run.loaded;
    let segments: Vec<String> = SEGMENTS
        .iter()
        .map(|(name, _)| *name)
        .chain(["none"])
        .zip(loaded.segments)
        .map(|(name, n)| format!("{name} {}", percent(n, run.contacts)))
        .collect();
    out += &format!(
        "\nData: {} contacts, {} of them at one of {} companies; lifecycle stages prospect / \
         customer / former at 40 / 40 / 20%; segment {}; created over the last {SPAN_DAYS} days. \
         The filter (`created_at.gte.{}`) matches {} contacts. Loaded in {} (companies) and {} \
         (contacts, `create_many` and the segment UPDATEs); the field added over HTTP, with its \
         index, in {}; {} {}.\n",
        thousands(run.contacts),
        percent(loaded.linked, run.contacts),
        thousands(run.companies),
        segments.join(", "),
        run.since.format("%Y-%m-%d"),
        thousands(usize::try_from(run.matching).unwrap_or_default()),
        secs(loaded.companies),
        secs(loaded.contacts),
        ms(run.field),
        if run.label == "PostgreSQL" {
            "`VACUUM ANALYZE`"
        } else {
            "`ANALYZE`"
        },
        secs(run.analyze),
    );
    out
}

fn main() -> Result<()> {
    let Targets { backends, admin } = Targets::from_env()?;
    let contacts: usize = env_or("BENCH_CONTACTS", 100_000)?;
    let companies: usize = env_or("BENCH_COMPANIES", 10_000)?;
    let requests: usize = env_or("BENCH_REQUESTS", 300)?;
    // The set-up writes through the store, which records events as the server would.
    crm_http::events::render::install();
    if contacts == 0 || companies == 0 || requests == 0 {
        return Err("BENCH_CONTACTS, BENCH_COMPANIES and BENCH_REQUESTS must be at least 1".into());
    }
    let crm = crm_binary()?;
    let mut notes = vec![machine()];
    let mut runs = Vec::new();
    for backend in backends.split(',').map(str::trim) {
        let scratch = Scratch::new(backend, &admin, "filters")?;
        if backend == "postgres" {
            notes.push(postgres_settings(&admin, "work_mem")?);
        }
        runs.push(bench(&crm, &scratch, contacts, companies, requests)?);
    }
    println!();
    println!("Machine: {}.", notes.join("; "));
    println!(
        "The release `crm serve` with default settings on the same machine as the client; {requests} \
         requests one at a time after {WARMUP} of warm-up, times client-side, HTTP included. \
         Filter: `and(lifecycle_stage.eq.{STAGE},custom.segment.eq.{SEGMENT},created_at.gte.<a year \
         before the load>)`, `limit={PAGE}`, against the same conditions as hand-written SQL \
         (no `COALESCE`, every column, `LIMIT {}`) on one connection of the bench process after \
         the server stopped, timed the same way with its rows decoded: no HTTP, no \
         authentication, no JSON. Expand: `limit={WIDE_PAGE}&expand=company` against \
         `limit={WIDE_PAGE}`, both over HTTP. Ratio: baseline p50 / API p50, higher is better.",
        PAGE + 1
    );
    for run in &runs {
        println!();
        print!("{}", table(run));
    }
    Ok(())
}
