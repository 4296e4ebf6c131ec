//! `make bench-service`: the service desk's lists and knowledge-base search, each as a ratio to
//! the same SQL run raw in the same run. Not a test, not in CI.
//!
//! For each backend, on a fresh database:
//!
//! 1. Loads `BENCH_ARTICLES` published articles in `es` through the store (`articles::create`,
//!    then `act(publish)`, 1,000 per write transaction), so that the search index holds what the
//!    server writes: titles of 4–6 words, bodies of about 80 words drawn from 2,000 generated
//!    pseudo-words (log-uniform, so a few are in most articles and most in few), Spanish stop
//!    words, and real words at a few percent of articles ("pedido", "devolución", "reembolso",
//!    "factura", "envío").
//! 2. Loads `BENCH_CASES` cases and their SLA rows with raw multi-row INSERTs, 1,000 per
//!    transaction, under one 24/7 calendar and one policy: new, open, pending and resolved,
//!    assigned round-robin to 20 support users (10% unassigned), created over the last 30 days,
//!    with instants such that about 10% are at risk, 10% breached (recorded, so the server's
//!    sweep has nothing to do) and the rest on track or met. Then `ANALYZE`.
//! 3. Starts the release `crm serve` and measures over HTTP with a real JWT, one request at a
//!    time after 20 of warm-up, `BENCH_REQUESTS` each:
//!    `GET /v1/cases?sla_status=at_risk&assignee_id=me&limit=50` as an assignee,
//!    `GET /v1/cases?sla_status=breached&assignee_id=<another>&limit=50` as an admin, and
//!    `GET /v1/kb/search?q=<word>&locale=es&limit=10` cycling over 10 words of differing
//!    frequency (five pseudo-words picked by how many articles hold them, and "reembolso",
//!    "devolucion" without its accent, "pedido", "factura", "envio").
//! 4. Stops the server and runs the same SQL the store builds for each (the join, the SLA
//!    conditions with `now` bound, the keyset order, `LIMIT 51`, every column; the FTS5 or
//!    tsvector query with its ranking), on one connection of this process, timed the same way.
//!
//! Prints a markdown table per backend: API p50 and p95, raw p50 and their ratio raw / API
//! (1.0 would be an API as fast as its query; the goals are 0.3 for the lists and 0.5 for the
//! search), and whether the raw queries found the rows the API answered.
//!
//! Environment (all optional):
//! - `BENCH_BACKENDS`: `postgres,sqlite` (default), or one of them;
//! - `BENCH_POSTGRES_URL`: a server where databases may be created, default
//!   `postgres://postgres@127.0.0.1:5432/postgres`; the bench creates `crm_bench_service` and
//!   drops it at the end;
//! - `BENCH_CASES` / `BENCH_ARTICLES`: default 100,000 / 50,000;
//! - `BENCH_REQUESTS`: timed requests (and raw queries) per measurement, default 300;
//! - `BENCH_CRM`: the `crm` binary, default the one next to this one.

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use crm_domain::access::roles::Role;
use crm_domain::service::articles::{query_words, ArticleAction, QueryWord};
use crm_domain::service::calendar::{OpeningPeriod, WeekdayName};
use crm_domain::service::cases::{CaseCategory, CaseChannel, CasePriority, Locale};
use crm_domain::service::sla::SlaRule;
use crm_store::parties::companies::{self, CompanyFields};
use crm_store::platform::db::write_transaction;
use crm_store::platform::schema::{case_slas, cases};
use crm_store::service::articles::{self, ArticleFields};
use crm_store::service::calendars::{self, CalendarFields};
use crm_store::service::policies::{self, PolicyFields};
use crm_store::{DatabaseUrl, DbConnection, StoreError};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Double, Text, Timestamp};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

mod common;

use common::{
    crm_binary, env_or, machine, migrated_with_admin, percentile, postgres_settings, secs, Result,
    Scratch, Server, Targets, ADMIN_EMAIL,
};
use crm_tests::report::{ms, short, sql_literal, thousands, Count};

const ASSIGNEES: usize = 20;
const WARMUP: usize = 20;
const CHUNK: usize = 1_000;
const PAGE: usize = 50;
const HITS: usize = 10;
const VOCABULARY: usize = 2_000;
const HOUR: i64 = 3_600;
const DAY: i64 = 24 * HOUR;
/// Real words and their chance at each word of a body (ten times that in titles).
const REAL_WORDS: [(&str, f64); 5] = [
    ("pedido", 0.004),
    ("devolución", 0.0012),
    ("reembolso", 0.0006),
    ("factura", 0.0003),
    ("envío", 0.000_15),
];
/// The same words as searched, without accents.
const REAL_QUERIES: [&str; 5] = ["pedido", "devolucion", "reembolso", "factura", "envio"];
/// Shares of articles whose pseudo-word is searched: the nearest found is taken.
const SHARES: [f64; 5] = [0.5, 0.2, 0.05, 0.01, 0.002];
const STOP_WORDS: [&str; 10] = [
    "de", "la", "el", "en", "que", "y", "por", "para", "con", "una",
];
/// What `cases::list` selects: every column of both tables.
const CASE_COLUMNS: &str = "id, number, subject, description, company_id, contact_id, locale, \
    tags, order_id, return_id, invoice_id, channel, priority, category, status, assignee_id, \
    team_id, root_cause_category, root_cause_notes, preventive_action, escalation_level, \
    escalated_to_id, escalated_at, csat_flagged, opened_by, closed_at, search_text, version, \
    created_at, updated_at";
const SLA_COLUMNS: &str = "case_id, sla_policy_id, calendar_id, first_response_target_seconds, \
    resolution_target_seconds, breach_priority, paused_seconds, paused_at, first_response_due_at, \
    first_response_at_risk_at, first_responded_at, first_response_breached_at, resolution_due_at, \
    resolution_at_risk_at, resolved_at, resolution_breached_at";
const CASE_INSERT: &str = "id, number, subject, company_id, locale, tags, channel, priority, \
    category, status, assignee_id, escalation_level, escalated_at, csat_flagged, opened_by, \
    search_text, version, created_at, updated_at";
/// `articles::find` on PostgreSQL for one word, in `es`, every state.
const PG_SEARCH: &str = "WITH q AS (SELECT (websearch_to_tsquery($1::regconfig, $2) \
      || websearch_to_tsquery($1::regconfig, unaccent($2))) AS query) \
    SELECT a.id, a.title, a.body, ts_rank_cd(a.search, q.query)::float8 AS score, \
      (ts_filter(a.search, '{a}') @@ q.query) AS title_hit \
    FROM kb_articles a, q WHERE a.search @@ q.query AND a.locale = $3 \
    ORDER BY title_hit DESC, score DESC, a.id LIMIT $4";
/// `articles::find` on SQLite, likewise.
const SQLITE_SEARCH: &str = "SELECT a.id AS id, a.title AS title, a.body AS body, \
      -bm25(kb_search_rows, 10.0, 1.0) AS score, \
      (kb_search_rows.rowid IN (SELECT rowid FROM kb_search_rows WHERE kb_search_rows MATCH ?)) \
        AS title_hit \
    FROM kb_search_rows JOIN kb_search_keys k ON k.search_key = kb_search_rows.rowid \
    JOIN kb_articles a ON a.id = k.article_id \
    WHERE kb_search_rows MATCH ? AND a.locale = ? ORDER BY title_hit DESC, score DESC, a.id LIMIT ?";

impl Scratch {
    fn label(&self) -> &'static str {
        match self {
            Scratch::Postgres { .. } => "PostgreSQL",
            Scratch::Sqlite { .. } => "SQLite",
        }
    }
}

/// A row of the raw list, decoded whole as the store decodes it (the SQL types are the
/// schema's).
#[derive(QueryableByName)]
struct RawCase {
    #[diesel(embed)]
    case: CaseColumns,
    #[diesel(embed)]
    #[allow(dead_code)]
    sla: SlaColumns,
}

#[derive(QueryableByName)]
#[diesel(table_name = cases)]
#[allow(dead_code)]
struct CaseColumns {
    id: String,
    number: String,
    subject: String,
    description: Option<String>,
    company_id: String,
    contact_id: Option<String>,
    locale: String,
    tags: String,
    order_id: Option<String>,
    return_id: Option<String>,
    invoice_id: Option<String>,
    channel: String,
    priority: String,
    category: String,
    status: String,
    assignee_id: Option<String>,
    team_id: Option<String>,
    root_cause_category: Option<String>,
    root_cause_notes: Option<String>,
    preventive_action: Option<String>,
    escalation_level: i64,
    escalated_to_id: Option<String>,
    escalated_at: Option<NaiveDateTime>,
    csat_flagged: bool,
    opened_by: Option<String>,
    closed_at: Option<NaiveDateTime>,
    search_text: String,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

#[derive(QueryableByName)]
#[diesel(table_name = case_slas)]
#[allow(dead_code)]
struct SlaColumns {
    case_id: String,
    sla_policy_id: Option<String>,
    calendar_id: Option<String>,
    first_response_target_seconds: Option<i64>,
    resolution_target_seconds: Option<i64>,
    breach_priority: Option<String>,
    paused_seconds: i64,
    paused_at: Option<NaiveDateTime>,
    first_response_due_at: Option<NaiveDateTime>,
    first_response_at_risk_at: Option<NaiveDateTime>,
    first_responded_at: Option<NaiveDateTime>,
    first_response_breached_at: Option<NaiveDateTime>,
    resolution_due_at: Option<NaiveDateTime>,
    resolution_at_risk_at: Option<NaiveDateTime>,
    resolved_at: Option<NaiveDateTime>,
    resolution_breached_at: Option<NaiveDateTime>,
}

/// A row of the raw search, as `articles::find` reads it.
#[derive(QueryableByName)]
#[allow(dead_code)]
struct RawHit {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    title: String,
    #[diesel(sql_type = Text)]
    body: String,
    #[diesel(sql_type = Double)]
    score: f64,
    #[diesel(sql_type = Bool)]
    title_hit: bool,
}

fn opt_text(s: Option<&str>) -> String {
    s.map_or_else(|| "NULL".to_owned(), sql_literal)
}

/// As diesel writes a timestamp on SQLite, and PostgreSQL reads it.
fn ts(t: NaiveDateTime) -> String {
    format!("'{}'", t.format("%Y-%m-%d %H:%M:%S%.f"))
}

fn opt_ts(t: Option<NaiveDateTime>) -> String {
    t.map_or_else(|| "NULL".to_owned(), ts)
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
}

/// A rank in `0..n`, log-uniform: rank 0 is at about 9% of words, rank 1,000 at 0.01%.
fn zipf(rng: &mut StdRng, n: usize) -> usize {
    let x = ((n as f64 + 1.0).powf(rng.gen::<f64>()) - 1.0) as usize;
    x.min(n - 1)
}

/// The pseudo-words, and how many articles hold each (and each real word).
struct Corpus {
    words: Vec<String>,
    df: Vec<usize>,
    real_df: [usize; REAL_WORDS.len()],
}

impl Corpus {
    /// Spanish-looking words, each one search term that is no stop word nor a real word's.
    fn new(rng: &mut StdRng) -> Corpus {
        const ONSETS: [&str; 18] = [
            "b", "c", "d", "f", "g", "l", "m", "n", "p", "r", "s", "t", "v", "z", "ch", "ll", "tr",
            "ñ",
        ];
        const VOWELS: [&str; 5] = ["a", "e", "i", "o", "u"];
        const ENDINGS: [&str; 10] = ["", "", "", "n", "s", "r", "l", "ción", "ía", "ón"];
        let taken: HashSet<String> = REAL_WORDS
            .iter()
            .flat_map(|(w, _)| query_words(Locale::Es, w))
            .flat_map(|w| w.terms)
            .collect();
        let mut seen = HashSet::new();
        let mut words = Vec::with_capacity(VOCABULARY);
        while words.len() < VOCABULARY {
            let mut word = String::new();
            for _ in 0..rng.gen_range(2..=4) {
                word += ONSETS[rng.gen_range(0..ONSETS.len())];
                word += VOWELS[rng.gen_range(0..VOWELS.len())];
            }
            word += ENDINGS[rng.gen_range(0..ENDINGS.len())];
            let terms = query_words(Locale::Es, &word);
            if terms.len() == 1
                && !terms[0].terms.iter().any(|t| taken.contains(t))
                && seen.insert(word.clone())
            {
                words.push(word);
            }
        }
        Corpus {
            df: vec![0; words.len()],
            words,
            real_df: [0; REAL_WORDS.len()],
        }
    }

    /// `count` words; `stop` the share of stop words, `boost` multiplies the real words' chances.
    fn pick(
        &self,
        rng: &mut StdRng,
        count: usize,
        stop: f64,
        boost: f64,
        seen: &mut Seen,
    ) -> Vec<&str> {
        (0..count)
            .map(|_| {
                let u: f64 = rng.gen();
                if u < stop {
                    return STOP_WORDS[rng.gen_range(0..STOP_WORDS.len())];
                }
                let mut edge = stop;
                for (i, (word, p)) in REAL_WORDS.iter().enumerate() {
                    edge += p * boost;
                    if u < edge {
                        seen.real[i] = true;
                        return *word;
                    }
                }
                let rank = zipf(rng, self.words.len());
                seen.made.push(rank);
                self.words[rank].as_str()
            })
            .collect()
    }

    fn article(&mut self, rng: &mut StdRng) -> ArticleFields {
        let mut seen = Seen::default();
        let count = rng.gen_range(4..=6);
        let title = capitalize(&self.pick(rng, count, 0.0, 10.0, &mut seen).join(" "));
        let mut body = Vec::new();
        let mut total = rng.gen_range(70..=90);
        while total > 0 {
            let count = rng.gen_range(8..=14).min(total);
            total -= count;
            body.push(format!(
                "{}.",
                capitalize(&self.pick(rng, count, 0.25, 1.0, &mut seen).join(" "))
            ));
        }
        seen.made.sort_unstable();
        seen.made.dedup();
        for rank in seen.made {
            self.df[rank] += 1;
        }
        for (i, found) in seen.real.iter().enumerate() {
            self.real_df[i] += usize::from(*found);
        }
        ArticleFields {
            title,
            body: body.join(" "),
            locale: Locale::Es,
            tags: Vec::new(),
        }
    }

    /// The searched words, with how many articles hold each as written.
    fn queries(&self, articles: usize) -> Vec<(String, usize)> {
        let mut chosen: Vec<usize> = Vec::new();
        for share in SHARES {
            let target = share * articles as f64;
            let best = (0..self.words.len())
                .filter(|i| self.df[*i] > 0 && !chosen.contains(i))
                .min_by(|a, b| {
                    (self.df[*a] as f64 - target)
                        .abs()
                        .total_cmp(&(self.df[*b] as f64 - target).abs())
                });
            chosen.extend(best);
        }
        let made = chosen.iter().map(|i| (self.words[*i].clone(), self.df[*i]));
        let real = REAL_QUERIES
            .iter()
            .zip(self.real_df)
            .map(|(w, n)| ((*w).to_owned(), n));
        made.chain(real).collect()
    }
}

#[derive(Default)]
struct Seen {
    made: Vec<usize>,
    real: [bool; REAL_WORDS.len()],
}

/// What the cases hang on.
struct Desk {
    admin_id: String,
    assignees: Vec<(String, String)>,
    company_id: String,
    calendar_id: String,
    policy_id: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Breached,
    AtRisk,
    OnTrack,
    Pending,
    Resolved,
}

/// One target of a case's SLA: due and at risk (at 75%) from the creation and a span.
struct Target {
    seconds: i64,
    due: NaiveDateTime,
    at_risk: NaiveDateTime,
    done: Option<NaiveDateTime>,
    breached: Option<NaiveDateTime>,
}

impl Target {
    fn new(created: NaiveDateTime, seconds: i64, done: Option<NaiveDateTime>) -> Target {
        Target {
            seconds,
            due: created + chrono::Duration::seconds(seconds),
            at_risk: created + chrono::Duration::seconds(seconds * 3 / 4),
            done,
            breached: None,
        }
    }
}

/// The `i`th case and its SLA row as SQL values, as they stand at `now`. Margins of an hour or
/// more keep every case in its class for the length of the run.
fn case_values(
    i: usize,
    rng: &mut StdRng,
    now: NaiveDateTime,
    desk: &Desk,
    words: &[String],
) -> (String, String) {
    let s = chrono::Duration::seconds;
    let age = |c: NaiveDateTime| (now - c).num_seconds();
    let mut created = now - s(rng.gen_range(60..30 * DAY));
    let class = match rng.gen::<f64>() {
        u if u < 0.10 => Class::Breached,
        u if u < 0.20 => Class::AtRisk,
        u if u < 0.65 => Class::OnTrack,
        u if u < 0.80 => Class::Pending,
        _ => Class::Resolved,
    };
    let resolved_at = (class == Class::Resolved).then(|| {
        let at = created + s((age(created) as f64 * rng.gen_range(0.3..1.0)) as i64);
        // Inside the reopen window (7 days), so that the sweep closes none.
        at.max(now - s(6 * DAY))
    });
    let span = match class {
        Class::Breached => ((age(created) as f64 * rng.gen_range(0.2..0.9)) as i64).max(60),
        Class::AtRisk => {
            let margin = rng.gen_range(2 * HOUR..24 * HOUR);
            if age(created) < 3 * margin + HOUR {
                created = now - s(3 * margin + HOUR);
            }
            age(created) + margin
        }
        Class::OnTrack | Class::Pending => {
            (age(created) as f64 * rng.gen_range(1.4..3.0)) as i64
                + rng.gen_range(3 * HOUR..48 * HOUR)
        }
        Class::Resolved => {
            resolved_at.map_or(DAY, |at| (at - created).num_seconds())
                + rng.gen_range(HOUR..2 * DAY)
        }
    };
    let status = match class {
        Class::Pending => "pending",
        Class::Resolved => "resolved",
        _ if rng.gen_bool(0.25) => "new",
        _ => "open",
    };
    let (mut first, mut resolution) = if status == "new" {
        (
            Target::new(created, span, None),
            Target::new(created, span * 2, None),
        )
    } else {
        let responded = created + s(rng.gen_range(300..HOUR).min(age(created) / 2));
        (
            Target::new(created, 2 * HOUR, Some(responded)),
            Target::new(created, span, resolved_at),
        )
    };
    let running = matches!(status, "new" | "open");
    let mut escalated_at = None;
    for target in [&mut first, &mut resolution] {
        if running && target.done.is_none() && target.due <= now {
            target.breached = Some(target.due);
            escalated_at = escalated_at.or(Some(target.due));
        }
    }
    let paused_at = (class == Class::Pending)
        .then(|| created + s((age(created) as f64 * rng.gen_range(0.5..1.0)) as i64));
    let updated = [
        Some(created),
        first.done,
        resolution.done,
        paused_at,
        escalated_at,
    ]
    .into_iter()
    .flatten()
    .max()
    .unwrap_or(created);
    let assignee =
        (!rng.gen_bool(0.1)).then(|| desk.assignees[i % desk.assignees.len()].0.as_str());
    let priority = match rng.gen_range(0..20) {
        0..=3 => CasePriority::Low,
        4..=13 => CasePriority::Normal,
        14..=18 => CasePriority::High,
        _ => CasePriority::Urgent,
    };
    let category = CaseCategory::ALL[rng.gen_range(0..CaseCategory::ALL.len())];
    let channel = CaseChannel::ALL[rng.gen_range(0..CaseChannel::ALL.len())];
    let subject = format!(
        "Caso {}: {} {} {}",
        i + 1,
        words[zipf(rng, words.len())],
        words[zipf(rng, words.len())],
        words[zipf(rng, words.len())]
    );
    let id = uuid::Uuid::now_v7().to_string();
    let case = format!(
        "({}, {}, {}, {}, 'es', '[]', '{channel}', '{priority}', '{category}', '{status}', {}, {}, {}, \
         FALSE, {}, {}, 1, {}, {})",
        sql_literal(&id),
        sql_literal(&format!("CS-{:07}", i + 1)),
        sql_literal(&subject),
        sql_literal(&desk.company_id),
        opt_text(assignee),
        i64::from(escalated_at.is_some()),
        opt_ts(escalated_at),
        sql_literal(&desk.admin_id),
        sql_literal(&subject.to_lowercase()),
        ts(created),
        ts(updated),
    );
    let sla = format!(
        "({}, {}, {}, {}, {}, NULL, 0, {}, {}, {}, {}, {}, {}, {}, {}, {})",
        sql_literal(&id),
        sql_literal(&desk.policy_id),
        sql_literal(&desk.calendar_id),
        first.seconds,
        resolution.seconds,
        opt_ts(paused_at),
        ts(first.due),
        ts(first.at_risk),
        opt_ts(first.done),
        opt_ts(first.breached),
        ts(resolution.due),
        ts(resolution.at_risk),
        opt_ts(resolution.done),
        opt_ts(resolution.breached),
    );
    (case, sla)
}

/// The WHERE of `cases::list` for `assignee_id` and `sla_status` (`breached`, else `at_risk`),
/// with the assignee as the first parameter and `now` as the second.
fn case_filter(postgres: bool, breached_only: bool) -> String {
    let (assignee, now) = if postgres { ("$1", "$2") } else { ("?1", "?2") };
    let running = "case_slas.paused_at IS NULL";
    let reached = |done: &str, at: &str| {
        format!(
            "(case_slas.{done} IS NULL AND case_slas.{at} IS NOT NULL AND case_slas.{at} <= {now})"
        )
    };
    let breached = format!(
        "(case_slas.first_response_breached_at IS NOT NULL \
         OR case_slas.resolution_breached_at IS NOT NULL OR ({running} AND ({} OR {})))",
        reached("first_responded_at", "first_response_due_at"),
        reached("resolved_at", "resolution_due_at"),
    );
    let sla = if breached_only {
        breached
    } else {
        format!(
            "NOT {breached} AND NOT (cases.status IN ('resolved', 'closed')) AND ({running} AND ({} OR {}))",
            reached("first_responded_at", "first_response_at_risk_at"),
            reached("resolved_at", "resolution_at_risk_at"),
        )
    };
    format!("cases.assignee_id = {assignee} AND case_slas.sla_policy_id IS NOT NULL AND {sla}")
}

const FROM_CASES: &str = "FROM cases INNER JOIN case_slas ON cases.id = case_slas.case_id";

fn case_list_sql(postgres: bool, breached_only: bool) -> String {
    let columns: Vec<String> = CASE_COLUMNS
        .split(", ")
        .map(|c| format!("cases.{c}"))
        .chain(SLA_COLUMNS.split(", ").map(|c| format!("case_slas.{c}")))
        .collect();
    format!(
        "SELECT {} {FROM_CASES} WHERE {} ORDER BY cases.created_at DESC, cases.id DESC LIMIT {}",
        columns.join(", "),
        case_filter(postgres, breached_only),
        PAGE + 1
    )
}

/// Runs the raw list; returns its time and the ids of the page.
fn raw_cases(
    conn: &mut DbConnection,
    sql: &str,
    assignee: &str,
) -> Result<(Duration, Vec<String>)> {
    let now = crm_store::now();
    let started = Instant::now();
    let rows: Vec<RawCase> = match conn {
        DbConnection::Postgres(pg) => diesel::sql_query(sql)
            .bind::<Text, _>(assignee)
            .bind::<Timestamp, _>(now)
            .load(pg)?,
        DbConnection::Sqlite(lite) => diesel::sql_query(sql)
            .bind::<Text, _>(assignee)
            .bind::<Timestamp, _>(now)
            .load(lite)?,
    };
    let elapsed = started.elapsed();
    Ok((
        elapsed,
        rows.into_iter().take(PAGE).map(|r| r.case.id).collect(),
    ))
}

/// How many cases the list's filter matches, all pages.
fn count_cases(conn: &mut DbConnection, breached_only: bool, assignee: &str) -> Result<i64> {
    let postgres = matches!(conn, DbConnection::Postgres(_));
    let sql = format!(
        "SELECT COUNT(*) AS n {FROM_CASES} WHERE {}",
        case_filter(postgres, breached_only)
    );
    let now = crm_store::now();
    let count: Count = match conn {
        DbConnection::Postgres(pg) => diesel::sql_query(sql)
            .bind::<Text, _>(assignee)
            .bind::<Timestamp, _>(now)
            .get_result(pg)?,
        DbConnection::Sqlite(lite) => diesel::sql_query(sql)
            .bind::<Text, _>(assignee)
            .bind::<Timestamp, _>(now)
            .get_result(lite)?,
    };
    Ok(count.n)
}

/// Runs the raw search for one word; returns its time and the ids found.
fn raw_search(conn: &mut DbConnection, word: &QueryWord) -> Result<(Duration, Vec<String>)> {
    // `fts5_query` of the store, for one word: any of its terms, each quoted.
    let terms: Vec<String> = word
        .terms
        .iter()
        .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
        .collect();
    let matched = format!("({})", terms.join(" OR "));
    let limit = HITS as i64;
    let started = Instant::now();
    let rows: Vec<RawHit> = match conn {
        DbConnection::Postgres(pg) => diesel::sql_query(PG_SEARCH)
            .bind::<Text, _>("spanish")
            .bind::<Text, _>(&word.word)
            .bind::<Text, _>("es")
            .bind::<BigInt, _>(limit)
            .load(pg)?,
        DbConnection::Sqlite(lite) => diesel::sql_query(SQLITE_SEARCH)
            .bind::<Text, _>(format!("title : ({matched})"))
            .bind::<Text, _>(&matched)
            .bind::<Text, _>("es")
            .bind::<BigInt, _>(limit)
            .load(lite)?,
    };
    let elapsed = started.elapsed();
    Ok((elapsed, rows.into_iter().map(|r| r.id).collect()))
}

/// Times of one measurement, and the ids of the first answer to each variant.
struct Measured {
    samples: Vec<Duration>,
    ids: Vec<Vec<String>>,
}

/// `WARMUP + requests` runs of `run` over `variants` in turn; the warm-up is not kept.
fn measure_raw(
    requests: usize,
    variants: usize,
    mut run: impl FnMut(usize) -> Result<(Duration, Vec<String>)>,
) -> Result<Measured> {
    let mut samples = Vec::with_capacity(requests);
    let mut ids = vec![None; variants];
    for i in 0..WARMUP + requests {
        let (elapsed, found) = run(i % variants)?;
        if i >= WARMUP {
            samples.push(elapsed);
        }
        ids[i % variants].get_or_insert(found);
    }
    Ok(Measured {
        samples,
        ids: ids.into_iter().map(Option::unwrap_or_default).collect(),
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

/// The API side of [`measure_raw`]: every answer must be a 200 with something found.
async fn measure_api(
    client: &reqwest::Client,
    token: &str,
    urls: &[reqwest::Url],
    requests: usize,
) -> Result<Measured> {
    let mut samples = Vec::with_capacity(requests);
    let mut ids = vec![None; urls.len()];
    for i in 0..WARMUP + requests {
        let url = &urls[i % urls.len()];
        let started = Instant::now();
        let response = client.get(url.clone()).bearer_auth(token).send().await?;
        let status = response.status();
        let body = response.bytes().await?;
        let elapsed = started.elapsed();
        if status != 200 {
            return Err(format!("GET {url}: {status} {}", String::from_utf8_lossy(&body)).into());
        }
        let body: Value = serde_json::from_slice(&body)?;
        let found: Vec<String> = body["data"]
            .as_array()
            .ok_or_else(|| format!("GET {url}: no data"))?
            .iter()
            .filter_map(|r| r["id"].as_str().map(str::to_owned))
            .collect();
        if found.is_empty() {
            return Err(format!("GET {url}: nothing found").into());
        }
        if i >= WARMUP {
            samples.push(elapsed);
        }
        ids[i % urls.len()].get_or_insert(found);
    }
    Ok(Measured {
        samples,
        ids: ids.into_iter().map(Option::unwrap_or_default).collect(),
    })
}

struct Row {
    name: String,
    api: Measured,
    raw: Measured,
    /// Whether the raw query found what the API answered: the same page in the same order for
    /// the lists, the same articles for the search.
    same: bool,
    goal: f64,
}

struct Run {
    label: &'static str,
    cases: usize,
    articles: usize,
    matching: (i64, i64),
    load_articles: Duration,
    load_cases: Duration,
    analyze: Duration,
    queries: Vec<(String, usize)>,
    rows: Vec<Row>,
}

fn setup(url: &DatabaseUrl, password: &str) -> Result<(DbConnection, Desk)> {
    let (pool, admin_id) = migrated_with_admin(url, password)?;
    let mut assignees = Vec::new();
    for i in 0..ASSIGNEES {
        let email = format!("bench-agent{i}@example.com");
        let (id, _) = crm::app::create_user(
            &pool,
            &email,
            Role::Support,
            None,
            Some(password.to_owned()),
        )?;
        assignees.push((id, email));
    }
    let mut conn = url.connect()?;
    let (company_id, calendar_id, policy_id) = write_transaction(&mut conn, |c| {
        let company = companies::create(c, CompanyFields::named("Bench Service SL".to_owned()))?;
        let hours = WeekdayName::ALL
            .iter()
            .map(|d| OpeningPeriod {
                weekday: *d,
                start: "00:00".to_owned(),
                end: "24:00".to_owned(),
            })
            .collect();
        let calendar = calendars::create(
            c,
            CalendarFields {
                name: "24/7".to_owned(),
                time_zone: "Europe/Madrid".to_owned(),
                hours,
                holidays: Vec::new(),
            },
        )?;
        let rules = CasePriority::ALL
            .iter()
            .map(|p| SlaRule {
                priority: *p,
                tier: None,
                first_response_minutes: 120,
                resolution_minutes: 48 * 60,
                breach_priority: None,
            })
            .collect();
        let policy = policies::create(
            c,
            PolicyFields {
                name: "Bench".to_owned(),
                calendar_id: calendar.id.clone(),
                position: 1,
                categories: Vec::new(),
                active: true,
                rules,
            },
        )?;
        Ok::<_, StoreError>((company.id, calendar.id, policy.id))
    })?;
    Ok((
        conn,
        Desk {
            admin_id,
            assignees,
            company_id,
            calendar_id,
            policy_id,
        },
    ))
}

fn bench(
    crm: &Path,
    scratch: &Scratch,
    cases: usize,
    articles: usize,
    requests: usize,
) -> Result<Run> {
    let label = scratch.label();
    eprintln!(
        "== {label}: {} articles, {} cases",
        thousands(articles),
        thousands(cases)
    );
    let url = DatabaseUrl::parse(scratch.url())?;
    let password = format!("bench {}", uuid::Uuid::now_v7().simple());
    let (mut conn, desk) = setup(&url, &password)?;
    let mut rng = StdRng::seed_from_u64(7);
    let mut corpus = Corpus::new(&mut rng);

    // Articles first: they take longest, and the cases' instants are relative to their load.
    let started = Instant::now();
    for first in (0..articles).step_by(CHUNK) {
        let batch: Vec<ArticleFields> = (first..(first + CHUNK).min(articles))
            .map(|_| corpus.article(&mut rng))
            .collect();
        let admin = desk.admin_id.as_str();
        write_transaction(&mut conn, |c| {
            for fields in batch {
                let article = articles::create(c, fields, Some(admin))?;
                articles::act(c, &article.id, None, ArticleAction::Publish)?;
            }
            Ok::<_, StoreError>(())
        })?;
        if (first / CHUNK + 1).is_multiple_of(10) {
            eprintln!(
                "   {} articles after {}",
                thousands(first + CHUNK),
                secs(started.elapsed())
            );
        }
    }
    let load_articles = started.elapsed();

    let started = Instant::now();
    let now = crm_store::now();
    for first in (0..cases).step_by(CHUNK) {
        let (case_rows, sla_rows): (Vec<String>, Vec<String>) = (first..(first + CHUNK).min(cases))
            .map(|i| case_values(i, &mut rng, now, &desk, &corpus.words))
            .unzip();
        let insert_cases = format!(
            "INSERT INTO cases ({CASE_INSERT}) VALUES {}",
            case_rows.join(", ")
        );
        let insert_slas = format!(
            "INSERT INTO case_slas ({SLA_COLUMNS}) VALUES {}",
            sla_rows.join(", ")
        );
        write_transaction(&mut conn, |c| {
            c.batch_execute(&insert_cases)?;
            c.batch_execute(&insert_slas)
        })?;
    }
    let load_cases = started.elapsed();
    eprintln!(
        "   loaded: articles in {}, cases in {}",
        secs(load_articles),
        secs(load_cases)
    );
    let started = Instant::now();
    crm_store::platform::db::analyze(&mut conn)?;
    let analyze = started.elapsed();

    let (me, me_email) = desk.assignees[0].clone();
    let other = desk.assignees[1].0.clone();
    let matching = (
        count_cases(&mut conn, false, &me)?,
        count_cases(&mut conn, true, &other)?,
    );
    let queries = corpus.queries(articles);
    let words: Vec<QueryWord> = queries
        .iter()
        .map(|(q, _)| {
            query_words(Locale::Es, q)
                .into_iter()
                .next()
                .ok_or_else(|| format!("`{q}` searches nothing"))
        })
        .collect::<std::result::Result<_, _>>()?;

    let server = Server::start(crm, scratch, &[])?;
    eprintln!("   server at {}; measuring", server.base);
    let base = server.base.clone();
    let list =
        |filter: &str| reqwest::Url::parse(&format!("{base}/v1/cases?{filter}&limit={PAGE}"));
    let at_risk_url = [list("sla_status=at_risk&assignee_id=me")?];
    let breached_url = [list(&format!("sla_status=breached&assignee_id={other}"))?];
    let hits = HITS.to_string();
    let search_urls = queries
        .iter()
        .map(|(q, _)| {
            reqwest::Url::parse_with_params(
                &format!("{base}/v1/kb/search"),
                &[
                    ("q", q.as_str()),
                    ("locale", "es"),
                    ("limit", hits.as_str()),
                ],
            )
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let (api_at_risk, api_breached, api_search) = actix_rt::System::new().block_on(async {
        let client = reqwest::Client::new();
        let agent = login(&client, &base, &me_email, &password).await?;
        let admin = login(&client, &base, ADMIN_EMAIL, &password).await?;
        let at_risk = measure_api(&client, &agent, &at_risk_url, requests).await?;
        let breached = measure_api(&client, &admin, &breached_url, requests).await?;
        let search = measure_api(&client, &admin, &search_urls, requests).await?;
        Ok::<_, Box<dyn std::error::Error>>((at_risk, breached, search))
    })?;
    drop(server);

    eprintln!("   raw SQL");
    let postgres = matches!(conn, DbConnection::Postgres(_));
    let at_risk_sql = case_list_sql(postgres, false);
    let breached_sql = case_list_sql(postgres, true);
    let raw_at_risk = measure_raw(requests, 1, |_| raw_cases(&mut conn, &at_risk_sql, &me))?;
    let raw_breached = measure_raw(requests, 1, |_| raw_cases(&mut conn, &breached_sql, &other))?;
    let raw_hits = measure_raw(requests, words.len(), |i| raw_search(&mut conn, &words[i]))?;

    let sorted = |ids: &[Vec<String>]| -> Vec<Vec<String>> {
        ids.iter()
            .map(|v| {
                let mut v = v.clone();
                v.sort();
                v
            })
            .collect()
    };
    let rows = vec![
        Row {
            name: format!(
                "cases by sla_status=at_risk & assignee_id=me ({})",
                short(cases)
            ),
            same: api_at_risk.ids == raw_at_risk.ids,
            api: api_at_risk,
            raw: raw_at_risk,
            goal: 0.3,
        },
        Row {
            name: format!(
                "cases by sla_status=breached & assignee_id ({})",
                short(cases)
            ),
            same: api_breached.ids == raw_breached.ids,
            api: api_breached,
            raw: raw_breached,
            goal: 0.3,
        },
        Row {
            name: format!("search ({} articles)", short(articles)),
            same: sorted(&api_search.ids) == sorted(&raw_hits.ids),
            api: api_search,
            raw: raw_hits,
            goal: 0.5,
        },
    ];
    Ok(Run {
        label,
        cases,
        articles,
        matching,
        load_articles,
        load_cases,
        analyze,
        queries,
        rows,
    })
}

fn table(run: &Run) -> String {
    let mut out = format!(
        "#### {}\n\n| measurement | API p50 | API p95 | raw SQL p50 | ratio (raw / API) | goal |\n\
         |---|---|---|---|---|---|\n",
        run.label
    );
    for row in &run.rows {
        let (api, raw) = (
            percentile(&row.api.samples, 50),
            percentile(&row.raw.samples, 50),
        );
        let ratio = raw.as_secs_f64() / api.as_secs_f64().max(1e-9);
        let flag = if row.same {
            ""
        } else {
            " (**raw rows differ from the API's**)"
        };
        out += &format!(
            "| {}{flag} | {} | {} | {} | **{ratio:.2}** | {} |\n",
            row.name,
            ms(api),
            ms(percentile(&row.api.samples, 95)),
            ms(raw),
            if ratio >= row.goal {
                format!("{} ✓", row.goal)
            } else {
                format!("{} ✗", row.goal)
            },
        );
    }
    let words: Vec<String> = run
        .queries
        .iter()
        .map(|(q, n)| format!("{q} ({})", thousands(*n)))
        .collect();
    out += &format!(
        "\nData: {} cases ({ASSIGNEES} assignees, 10% unassigned; the measured assignees have {} at \
         risk and {} breached), {} published articles in `es`. Loaded in {} (articles, through the \
         store) and {} (cases, raw INSERTs); `ANALYZE` {}. Search words (articles holding each as \
         written): {}.\n",
        thousands(run.cases),
        run.matching.0,
        run.matching.1,
        thousands(run.articles),
        secs(run.load_articles),
        secs(run.load_cases),
        secs(run.analyze),
        words.join(", "),
    );
    out
}

fn main() -> Result<()> {
    let Targets { backends, admin } = Targets::from_env()?;
    let cases: usize = env_or("BENCH_CASES", 100_000)?;
    let articles: usize = env_or("BENCH_ARTICLES", 50_000)?;
    let requests: usize = env_or("BENCH_REQUESTS", 300)?;
    // The set-up writes through the store, which records events as the server would.
    crm_http::events::render::install();
    if cases == 0 || articles == 0 || requests == 0 {
        return Err("BENCH_CASES, BENCH_ARTICLES and BENCH_REQUESTS must be at least 1".into());
    }
    let crm = crm_binary()?;
    let mut notes = vec![machine()];
    let mut runs = Vec::new();
    for backend in backends.split(',').map(str::trim) {
        let scratch = Scratch::new(backend, &admin, "service")?;
        if backend == "postgres" {
            notes.push(postgres_settings(&admin, "work_mem")?);
        }
        runs.push(bench(&crm, &scratch, cases, articles, requests)?);
    }
    println!();
    println!("Machine: {}.", notes.join("; "));
    println!(
        "The release `crm serve` with default settings on the same machine as the client; {requests} \
         requests one at a time after {WARMUP} of warm-up, times client-side, HTTP included. Raw SQL: \
         the query the store builds for the same request, on one connection of the bench process \
         after the server stopped, timed the same way with its rows decoded. Ratio: raw p50 / API \
         p50, higher is better."
    );
    for run in &runs {
        println!();
        print!("{}", table(run));
    }
    Ok(())
}
