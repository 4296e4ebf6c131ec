//! `make bench-analytics`: the analytics table of docs/benchmarks.md. Not a test, not in CI.
//!
//! For each backend: a fresh database loaded by the demo generator (release build), the release
//! `crm` server started on it, and over HTTP with a real JWT: the 24-month profit series of 200
//! customers picked at random, the top-100 ranking of the last full year 30 times, and the tier
//! recompute of that year. In the same run, through a plain connection: the raw `GROUP BY` over
//! the order lines that the ranking replaces, and the store calls of the ranking handler timed
//! one by one, to show where its time goes. Then the customer facts are recomputed and a
//! segment (tier A, profit of the last 12 months ≥ 1,000.00, country ES) is counted over HTTP
//! against the same count in raw SQL over the rollups. Prints a markdown table.
//!
//! Environment (all optional):
//! - `BENCH_BACKENDS`: `postgres,sqlite` (default), or one of them;
//! - `BENCH_POSTGRES_URL`: a server where databases may be created, default
//!   `postgres://postgres@127.0.0.1:5432/postgres`; the bench creates `crm_bench_analytics` and
//!   drops it at the end;
//! - `BENCH_PG_COMPANIES` / `BENCH_PG_ORDERS`: default 100,000 / 2,000,000 (about 10M lines);
//! - `BENCH_SQLITE_COMPANIES` / `BENCH_SQLITE_ORDERS`: default 10,000 / 200,000 (about 1M lines);
//! - `BENCH_UNTIL`: the last day of the demo history, default today;
//! - `BENCH_CRM`: the `crm` binary, default the one next to this one.

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{Datelike, Months, NaiveDate};
use crm::demo::DemoSpec;
use crm_domain::platform::money::Currency;
use crm_domain::Violation;
use crm_store::{DatabaseUrl, DbConnection};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde_json::{json, Value};

mod common;

use common::{
    crm_binary, env_or, machine, migrated_with_admin, percentile, postgres_settings, secs, Result,
    Scratch, Server, Targets, ADMIN_EMAIL,
};
use crm_tests::report::{ms, thousands};

const DATABASE: &str = "crm_bench_analytics";
const SERIES_REQUESTS: usize = 200;
const RANKING_REQUESTS: usize = 30;
const TIER_RUNS: usize = 3;
const RAW_RUNS: usize = 3;
const SEGMENT_COUNTS: usize = 20;

/// The segment the bench counts, and the raw SQL over the rollups that counts the same
/// companies: gross profit is revenue less cost, returns and concessions, as in the rollups.
/// Spanish companies all buy in euros, the base currency, so no conversion is left out.
const SEGMENT_FILTER: &str =
    "and(tier.eq.A,profit_last_12_months.amount_minor.gte.100000,billing_address.country.eq.ES)";
const RAW_SEGMENT_COUNT: &str = "SELECT COUNT(*) AS n FROM companies c \
     WHERE c.archived_at IS NULL AND c.tier = 'A' AND c.billing_country = 'ES' \
       AND (SELECT COALESCE(SUM(r.revenue_minor - r.cost_minor - r.returns_minor - r.concessions_minor), 0) \
            FROM customer_rollups r WHERE r.company_id = c.id AND r.month >= $1 AND r.month <= $2) >= 100000";

#[derive(QueryableByName)]
struct Counted {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The raw count, timed.
fn raw_segment_count(conn: &mut DbConnection, from: &str, to: &str) -> Result<(Duration, i64)> {
    let started = Instant::now();
    let row: Counted = diesel::sql_query(RAW_SEGMENT_COUNT)
        .bind::<Text, _>(from)
        .bind::<Text, _>(to)
        .get_result(conn)?;
    Ok((started.elapsed(), row.n))
}

/// What counting a segment costs, beside raw SQL.
struct SegmentRun {
    facts_refresh: Duration,
    facts_rows: usize,
    counts: Vec<Duration>,
    count: i64,
    raw: Vec<Duration>,
    raw_count: i64,
}

impl Scratch {
    fn label(&self) -> &'static str {
        match self {
            Scratch::Postgres { .. } => "PostgreSQL",
            Scratch::Sqlite { .. } => "SQLite",
        }
    }
}

fn median(samples: &[Duration]) -> Duration {
    percentile(samples, 50)
}

/// A row of the raw query. Its revenue and cost are selected, as the ranking returns them, but
/// only the ids are compared.
#[derive(QueryableByName)]
struct RawRow {
    #[diesel(sql_type = Text)]
    company_id: String,
}

/// What the ranking computes, straight from the order lines: each company's net sales and cost
/// of goods over the year, top 100 by their difference. Simpler than the ranking (no exchange
/// rates, returns or concessions, no names or tiers), so the comparison flatters it.
fn raw_group_by(conn: &mut DbConnection, year: i32) -> Result<(Duration, Vec<RawRow>)> {
    let sql = "SELECT o.company_id AS company_id, \
                      CAST(SUM(l.net_minor) AS BIGINT) AS revenue, \
                      CAST(SUM((l.quantity_milli * COALESCE(l.unit_cost_minor, 0) + 500) / 1000) AS BIGINT) AS cost \
               FROM order_lines l JOIN orders o ON o.id = l.order_id \
               WHERE o.status <> 'cancelled' AND o.company_id IS NOT NULL \
                 AND o.ordered_at >= $1 AND o.ordered_at < $2 \
               GROUP BY o.company_id \
               ORDER BY SUM(l.net_minor) - SUM((l.quantity_milli * COALESCE(l.unit_cost_minor, 0) + 500) / 1000) DESC \
               LIMIT 100";
    let from = NaiveDate::from_ymd_opt(year, 1, 1).ok_or("year")?;
    let to = NaiveDate::from_ymd_opt(year + 1, 1, 1).ok_or("year")?;
    let started = Instant::now();
    let rows: Vec<RawRow> = diesel::sql_query(sql)
        .bind::<diesel::sql_types::Timestamp, _>(from.and_time(chrono::NaiveTime::MIN))
        .bind::<diesel::sql_types::Timestamp, _>(to.and_time(chrono::NaiveTime::MIN))
        .load(conn)?;
    Ok((started.elapsed(), rows))
}

/// The ranking handler's store calls, timed one by one on a plain connection.
struct Profile {
    rollup_rows: usize,
    companies: usize,
    range: Duration,
    by_company: Duration,
    names: Duration,
}

fn profile_ranking(conn: &mut DbConnection, year: i32) -> Result<Profile> {
    let (from, to) = (format!("{year}-01"), format!("{year}-12"));
    let base: Currency = "EUR".parse().map_err(|e: Violation| e.message)?;
    let (mut range, mut by_company, mut names) = (Vec::new(), Vec::new(), Vec::new());
    let (mut rollup_rows, mut companies) = (0, 0);
    for _ in 0..3 {
        let started = Instant::now();
        rollup_rows = crm_store::analytics::rollups::range(conn, None, &from, &to)?.len();
        range.push(started.elapsed());
        let started = Instant::now();
        let totals = crm_store::analytics::profit::by_company(conn, &from, &to, base)?;
        by_company.push(started.elapsed());
        let ids: Vec<String> = totals.keys().cloned().collect();
        companies = ids.len();
        let started = Instant::now();
        crm_store::parties::companies::names(conn, &ids)?;
        names.push(started.elapsed());
    }
    Ok(Profile {
        rollup_rows,
        companies,
        range: median(&range),
        by_company: median(&by_company),
        names: median(&names),
    })
}

struct Run {
    label: &'static str,
    companies: usize,
    orders: usize,
    lines: usize,
    database_bytes: u64,
    load: Duration,
    rebuild: Duration,
    rollup_rows: usize,
    from_scratch: Duration,
    analyze: Option<Duration>,
    series: Vec<Duration>,
    ranking: Vec<Duration>,
    tiers: Vec<Duration>,
    raw: Vec<Duration>,
    overlap: usize,
    profile: Profile,
    segment: SegmentRun,
}

async fn timed_get(client: &reqwest::Client, url: &str, token: &str) -> Result<(Duration, Value)> {
    let started = Instant::now();
    let response = client.get(url).bearer_auth(token).send().await?;
    let status = response.status();
    let body = response.bytes().await?;
    let elapsed = started.elapsed();
    if status != 200 {
        return Err(format!("GET {url}: {status} {}", String::from_utf8_lossy(&body)).into());
    }
    Ok((elapsed, serde_json::from_slice(&body)?))
}

/// Saves the bench's segment and counts it `SEGMENT_COUNTS` times over HTTP, after a warm-up.
async fn segment_over_http(base: &str, password: &str) -> Result<(Vec<Duration>, i64)> {
    let client = reqwest::Client::new();
    let login: Value = client
        .post(format!("{base}/v1/auth/token"))
        .json(&json!({"email": ADMIN_EMAIL, "password": password}))
        .send()
        .await?
        .json()
        .await?;
    let token = login["access_token"].as_str().ok_or("no access token")?;
    let saved: Value = client
        .post(format!("{base}/v1/segments"))
        .bearer_auth(token)
        .json(&json!({"name": "Spanish A customers", "subject": "companies", "filter": SEGMENT_FILTER}))
        .send()
        .await?
        .json()
        .await?;
    let id = saved["id"].as_str().ok_or("the segment was not saved")?;
    let url = format!("{base}/v1/segments/{id}/count");
    timed_get(&client, &url, token).await?;
    let mut times = Vec::with_capacity(SEGMENT_COUNTS);
    let mut count = 0;
    for _ in 0..SEGMENT_COUNTS {
        let (elapsed, body) = timed_get(&client, &url, token).await?;
        count = body["count"].as_i64().ok_or("no count")?;
        times.push(elapsed);
    }
    Ok((times, count))
}

/// The HTTP part: log in, then the series, the ranking and the tier recompute.
async fn over_http(
    base: &str,
    password: &str,
    customers: &[String],
    window: (&str, &str),
    year: i32,
) -> Result<(Vec<Duration>, Vec<Duration>, Vec<Duration>, Vec<String>)> {
    let client = reqwest::Client::new();
    let login = client
        .post(format!("{base}/v1/auth/token"))
        .json(&json!({"email": ADMIN_EMAIL, "password": password}))
        .send()
        .await?;
    if login.status() != 200 {
        return Err(format!("login: {}", login.status()).into());
    }
    let body: Value = login.json().await?;
    let token = body["access_token"].as_str().ok_or("no access token")?;
    let series_url = |id: &str| {
        format!(
            "{base}/v1/analytics/customers/{id}/profit?from={}&to={}",
            window.0, window.1
        )
    };
    let ranking_url = format!("{base}/v1/analytics/customers?period={year}&limit=100");
    // Warm-up, not counted: the first requests open pool connections.
    for id in customers.iter().take(5) {
        timed_get(&client, &series_url(id), token).await?;
    }
    timed_get(&client, &ranking_url, token).await?;
    let mut series = Vec::with_capacity(customers.len());
    for id in customers {
        let (elapsed, body) = timed_get(&client, &series_url(id), token).await?;
        if body["periods"].as_array().map(Vec::len) != Some(24) {
            return Err(format!("series of {id}: not 24 periods").into());
        }
        series.push(elapsed);
    }
    let mut ranking = Vec::with_capacity(RANKING_REQUESTS);
    let mut top = Vec::new();
    for _ in 0..RANKING_REQUESTS {
        let (elapsed, body) = timed_get(&client, &ranking_url, token).await?;
        top = body["data"]
            .as_array()
            .ok_or("ranking without data")?
            .iter()
            .filter_map(|r| r["company_id"].as_str().map(str::to_owned))
            .collect();
        ranking.push(elapsed);
    }
    let mut tiers = Vec::with_capacity(TIER_RUNS);
    for _ in 0..TIER_RUNS {
        let started = Instant::now();
        let response = client
            .post(format!(
                "{base}/v1/analytics/tiers/recompute?basis_year={year}"
            ))
            .bearer_auth(token)
            .send()
            .await?;
        let status = response.status();
        let text = response.text().await?;
        if status != 200 {
            return Err(format!("tier recompute: {status} {text}").into());
        }
        tiers.push(started.elapsed());
    }
    Ok((series, ranking, tiers, top))
}

fn database_bytes(conn: &mut DbConnection, scratch: &Scratch) -> Result<u64> {
    #[derive(QueryableByName)]
    struct Size {
        #[diesel(sql_type = BigInt)]
        bytes: i64,
    }
    Ok(match scratch {
        Scratch::Postgres { .. } => {
            let size: Size =
                diesel::sql_query(format!("SELECT pg_database_size('{DATABASE}') AS bytes"))
                    .get_result(conn)?;
            u64::try_from(size.bytes)?
        }
        Scratch::Sqlite { dir, .. } => std::fs::metadata(dir.join("crm.db"))?.len(),
    })
}

fn bench(
    crm: &Path,
    scratch: &Scratch,
    companies: usize,
    orders: usize,
    until: NaiveDate,
) -> Result<Run> {
    let label = scratch.label();
    eprintln!("== {label}: loading {companies} companies, {orders} orders");
    let url = DatabaseUrl::parse(scratch.url())?;
    let password = format!("bench {}", uuid::Uuid::now_v7().simple());
    let (pool, _) = migrated_with_admin(&url, &password)?;
    let spec = DemoSpec {
        companies,
        orders,
        seed: 1,
        until: until.and_time(chrono::NaiveTime::MIN) + chrono::Duration::days(1),
    };
    let step = (orders / 10).max(1);
    let mut next = step;
    let loaded = crm::app::load_demo_data(&pool, &spec, &mut |counts| {
        if counts.orders >= next {
            eprintln!("   {} orders, {} lines", counts.orders, counts.order_lines);
            next = counts.orders / step * step + step;
        }
    })?;
    eprintln!(
        "   loaded in {}, rollups rebuilt in {}",
        secs(loaded.load),
        secs(loaded.rebuild)
    );
    let mut conn = url.connect()?;
    // Fresh tables have no planner statistics yet; autovacuum would gather them within
    // minutes on a live server, so measure the steady state.
    let analyze = match scratch {
        Scratch::Postgres { .. } => {
            let started = Instant::now();
            diesel::sql_query("VACUUM ANALYZE").execute(&mut conn)?;
            Some(started.elapsed())
        }
        Scratch::Sqlite { .. } => None,
    };
    let database_bytes = database_bytes(&mut conn, scratch)?;
    // The rebuild's first half, alone: the rest of its time is writing the rows.
    let started = Instant::now();
    crm_store::analytics::rollups::from_scratch(&mut conn)?;
    let from_scratch = started.elapsed();
    let mut customers: Vec<String> = crm_store::platform::schema::customer_rollups::table
        .select(crm_store::platform::schema::customer_rollups::company_id)
        .distinct()
        .load(&mut conn)?;
    customers.sort();
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let customers: Vec<String> = customers
        .choose_multiple(&mut rng, SERIES_REQUESTS)
        .cloned()
        .collect();
    let last = until.with_day(1).ok_or("until")?;
    let first = last - Months::new(23);
    let window = (
        first.format("%Y-%m").to_string(),
        last.format("%Y-%m").to_string(),
    );
    let year = until.year() - 1;

    let server = Server::start(crm, scratch, &[])?;
    eprintln!("   server at {}; measuring", server.base);
    let (series, ranking, tiers, top) = actix_rt::System::new().block_on(over_http(
        &server.base,
        &password,
        &customers,
        (&window.0, &window.1),
        year,
    ))?;
    eprintln!("   customer facts, then the segment count");
    let started = Instant::now();
    let facts_rows = crm_store::analytics::facts::refresh_today(
        &mut conn,
        Currency::EUR,
        crm_store::platform::clock::Clock::Real,
    )?
    .ok_or("another process was refreshing the facts")?;
    let facts_refresh = started.elapsed();
    let (counts, count) =
        actix_rt::System::new().block_on(segment_over_http(&server.base, &password))?;
    drop(server);
    let this_month = until.with_day(1).ok_or("until")?;
    let twelve = (
        (this_month - Months::new(11)).format("%Y-%m").to_string(),
        this_month.format("%Y-%m").to_string(),
    );
    let mut segment_raw = Vec::with_capacity(SEGMENT_COUNTS);
    let mut raw_count = 0;
    for _ in 0..SEGMENT_COUNTS {
        let (elapsed, n) = raw_segment_count(&mut conn, &twelve.0, &twelve.1)?;
        segment_raw.push(elapsed);
        raw_count = n;
    }

    eprintln!("   raw GROUP BY and the ranking's store calls");
    let mut raw = Vec::with_capacity(RAW_RUNS);
    let mut raw_top = Vec::new();
    for _ in 0..RAW_RUNS {
        let (elapsed, rows) = raw_group_by(&mut conn, year)?;
        raw.push(elapsed);
        raw_top = rows;
    }
    let top: HashSet<&str> = top.iter().map(String::as_str).collect();
    let overlap = raw_top
        .iter()
        .filter(|r| top.contains(r.company_id.as_str()))
        .count();
    let profile = profile_ranking(&mut conn, year)?;
    Ok(Run {
        label,
        companies: loaded.counts.companies,
        orders: loaded.counts.orders,
        lines: loaded.counts.order_lines,
        database_bytes,
        load: loaded.load,
        rebuild: loaded.rebuild,
        rollup_rows: loaded.rollup_rows,
        from_scratch,
        analyze,
        series,
        ranking,
        tiers,
        raw,
        overlap,
        profile,
        segment: SegmentRun {
            facts_refresh,
            facts_rows,
            counts,
            count,
            raw: segment_raw,
            raw_count,
        },
    })
}

fn table(runs: &[Run]) -> String {
    let mut out = String::new();
    let header: Vec<&str> = runs.iter().map(|r| r.label).collect();
    out += &format!(
        "| | {} | target |\n|---|{}---|\n",
        header.join(" | "),
        "---|".repeat(runs.len())
    );
    let mut row = |name: &str, cell: &dyn Fn(&Run) -> String, target: &str| {
        let cells: Vec<String> = runs.iter().map(cell).collect();
        out += &format!("| {name} | {} | {target} |\n", cells.join(" | "));
    };
    row(
        "data: companies / orders / order lines",
        &|r| {
            format!(
                "{} / {} / {}",
                thousands(r.companies),
                thousands(r.orders),
                thousands(r.lines)
            )
        },
        "",
    );
    row(
        "database size",
        &|r| format!("{:.1} GB", r.database_bytes as f64 / 1e9),
        "",
    );
    row(
        "load (`crm demo-data`, without the rebuild)",
        &|r| secs(r.load),
        "",
    );
    row(
        "rollup rebuild (`crm_store::analytics::rollups::rebuild`): rows written, time",
        &|r| format!("{}, {}", thousands(r.rollup_rows), secs(r.rebuild)),
        "",
    );
    row(
        "… of which recomputing them (`rollups::from_scratch`, timed alone)",
        &|r| secs(r.from_scratch),
        "",
    );
    row(
        "`VACUUM ANALYZE` after the load",
        &|r| r.analyze.map_or_else(|| "-".into(), secs),
        "",
    );
    row(
        "profit series, 24 months: p50 / p95 (n customers)",
        &|r| {
            format!(
                "{} / {} (n={})",
                ms(percentile(&r.series, 50)),
                ms(percentile(&r.series, 95)),
                r.series.len()
            )
        },
        "p95 < 20 ms",
    );
    row(
        &format!("ranking, top 100 of the year: p50 / p95 ({RANKING_REQUESTS} requests)"),
        &|r| {
            format!(
                "{} / {}",
                ms(percentile(&r.ranking, 50)),
                ms(percentile(&r.ranking, 95))
            )
        },
        "< 100 ms",
    );
    row(
        &format!("tier recompute of the year ({TIER_RUNS} runs)"),
        &|r| {
            r.tiers
                .iter()
                .map(|d| ms(*d))
                .collect::<Vec<_>>()
                .join(", ")
        },
        "",
    );
    row(
        &format!("raw GROUP BY over order lines, top 100 (median of {RAW_RUNS})"),
        &|r| ms(median(&r.raw)),
        "",
    );
    row(
        "raw GROUP BY time / ranking p50",
        &|r| {
            format!(
                "{:.2}×",
                median(&r.raw).as_secs_f64() / percentile(&r.ranking, 50).as_secs_f64()
            )
        },
        "≥ 10×",
    );
    row(
        "same companies in both top 100s",
        &|r| format!("{}/100", r.overlap),
        "",
    );
    row(
        "ranking's store calls, in process: rollup rows read / companies",
        &|r| {
            format!(
                "{} / {}",
                thousands(r.profile.rollup_rows),
                thousands(r.profile.companies)
            )
        },
        "",
    );
    row(
        "… read the year's rollups (`rollups::range`)",
        &|r| ms(r.profile.range),
        "",
    );
    row(
        "… and convert and sum them (`analytics::by_company`, includes the read)",
        &|r| ms(r.profile.by_company),
        "",
    );
    row(
        "… names of all ranked companies (`companies::names`)",
        &|r| ms(r.profile.names),
        "",
    );
    row(
        "customer facts recomputed (`analytics::facts::refresh`): companies, time",
        &|r| {
            format!(
                "{}, {}",
                thousands(r.segment.facts_rows),
                secs(r.segment.facts_refresh)
            )
        },
        "",
    );
    row(
        &format!(
            "segment count (tier A, 12-month profit ≥ 1,000.00, ES) over HTTP: p50 / p95 ({SEGMENT_COUNTS} requests)"
        ),
        &|r| {
            format!(
                "{} / {}",
                ms(percentile(&r.segment.counts, 50)),
                ms(percentile(&r.segment.counts, 95))
            )
        },
        "",
    );
    row(
        &format!("the same count in raw SQL over the rollups (median of {SEGMENT_COUNTS})"),
        &|r| ms(median(&r.segment.raw)),
        "",
    );
    row(
        "segment count p50 / raw SQL median",
        &|r| {
            format!(
                "{:.2}×",
                percentile(&r.segment.counts, 50).as_secs_f64()
                    / median(&r.segment.raw).as_secs_f64()
            )
        },
        "",
    );
    row(
        "members counted: segment / raw SQL",
        &|r| format!("{} / {}", r.segment.count, r.segment.raw_count),
        "equal",
    );
    out
}

fn main() -> Result<()> {
    let Targets { backends, admin } = Targets::from_env()?;
    let until: NaiveDate = env_or("BENCH_UNTIL", chrono::Utc::now().date_naive())?;
    let crm = crm_binary()?;
    // The demo loader writes companies, whose events render as the API does.
    crm_http::events::render::install();
    let mut runs = Vec::new();
    let mut notes = vec![machine()];
    for backend in backends.split(',').map(str::trim) {
        match backend {
            "postgres" => {
                let scratch = Scratch::new("postgres", &admin, "analytics")?;
                notes.push(postgres_settings(&admin, "work_mem")?);
                let companies = env_or("BENCH_PG_COMPANIES", 100_000)?;
                let orders = env_or("BENCH_PG_ORDERS", 2_000_000)?;
                runs.push(bench(&crm, &scratch, companies, orders, until)?);
            }
            "sqlite" => {
                let scratch = Scratch::new("sqlite", &admin, "analytics")?;
                let companies = env_or("BENCH_SQLITE_COMPANIES", 10_000)?;
                let orders = env_or("BENCH_SQLITE_ORDERS", 200_000)?;
                runs.push(bench(&crm, &scratch, companies, orders, until)?);
            }
            other => return Err(format!("unknown backend `{other}`").into()),
        }
    }
    println!();
    println!("Machine: {}.", notes.join("; "));
    println!(
        "Demo data of seed 1 up to {until}; the server is the release `crm serve` with default \
         settings (2 workers, pool of 10) on the same machine as the client, requests one at a \
         time after a warm-up of 6; times are client-side, HTTP included."
    );
    println!();
    print!("{}", table(&runs));
    Ok(())
}
