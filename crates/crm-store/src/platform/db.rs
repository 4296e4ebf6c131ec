//! Connections: one diesel `MultiConnection` over SQLite and PostgreSQL, an r2d2 pool whose
//! manager picks the backend from the URL, embedded migrations per backend, and the write
//! transaction.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, CacheSize, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::r2d2;
use diesel::sql_types::{Array, Text};
use diesel::sqlite::SqliteConnection;
use diesel::Connection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use scheduled_thread_pool::ScheduledThreadPool;

use crate::StoreError;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// What stands between the nodes and PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Pooler {
    /// Nothing, or a pooler that gives each client a server connection for its whole session.
    #[default]
    Session,
    /// A pooler in transaction mode (PgBouncer's `pool_mode = transaction`): consecutive
    /// transactions of one connection may run on different server connections, so nothing may
    /// outlive a transaction, not even a prepared statement.
    Transaction,
}

/// A database URL whose scheme has been read: `postgres://` or `postgresql://` for
/// PostgreSQL; `sqlite://PATH` or a plain path for SQLite.
#[derive(Clone)]
pub struct DatabaseUrl {
    backend: Backend,
    target: String,
    pooler: Pooler,
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self {
                backend: Backend::Postgres,
                target: url.to_owned(),
                pooler: Pooler::Session,
            });
        }
        let path = url.strip_prefix("sqlite://").unwrap_or(url);
        if path.is_empty() || path.contains("://") {
            return Err(StoreError::Config(format!(
                "database URL must start with postgres:// or sqlite://, or be a file path; got `{}`",
                redact(url)
            )));
        }
        Ok(Self {
            backend: Backend::Sqlite,
            target: path.to_owned(),
            pooler: Pooler::Session,
        })
    }

    /// The same database, reached through `pooler`.
    pub fn through(self, pooler: Pooler) -> Self {
        Self { pooler, ..self }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// For SQLite, the file the database lives in.
    pub fn sqlite_path(&self) -> Option<&str> {
        (self.backend == Backend::Sqlite).then_some(self.target.as_str())
    }

    pub fn connect(&self) -> Result<DbConnection, diesel::ConnectionError> {
        match self.backend {
            Backend::Postgres => {
                let mut conn = PgConnection::establish(&self.target)?;
                if self.pooler == Pooler::Transaction {
                    // A named statement lives on one server connection, which the pooler hands
                    // to another client after the transaction; unnamed ones go in one round
                    // trip with their parameters.
                    conn.set_prepared_statement_cache_size(CacheSize::Disabled);
                }
                Ok(DbConnection::Postgres(conn))
            }
            Backend::Sqlite => {
                let mut conn = SqliteConnection::establish(&self.target)?;
                conn.batch_execute(
                    "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; \
                     PRAGMA busy_timeout = 10000; PRAGMA synchronous = NORMAL;",
                )
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

/// The URL with any password replaced, safe to log.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme_end + 3],
                    &credentials[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}({})", self.backend, redact(&self.target))
    }
}

/// Connects the variant that the URL names, so that a wrong password or a refused port
/// surfaces as itself rather than as a generic multi-connection error.
pub struct ConnectionManager {
    url: DatabaseUrl,
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = diesel::ConnectionError;

    fn connect(&self) -> Result<DbConnection, Self::Error> {
        self.url.connect()
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), Self::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(diesel::ConnectionError::CouldntSetupConfiguration)
    }

    fn has_broken(&self, _conn: &mut DbConnection) -> bool {
        false
    }
}

pub type Pool = r2d2::Pool<ConnectionManager>;
pub type PooledConnection = r2d2::PooledConnection<ConnectionManager>;

/// A pool of at most `max_size` connections; a caller that waits `checkout_timeout` for one gets
/// [`StoreError::Unavailable`] (a 503 with `Retry-After`).
pub fn build_pool(
    url: &DatabaseUrl,
    max_size: u32,
    checkout_timeout: Duration,
) -> Result<Pool, StoreError> {
    // Unchecked: the server starts (and /readyz reports 503) while the database is down.
    Ok(r2d2::Pool::builder()
        .max_size(max_size)
        // One thread opens and reaps the connections, not r2d2's three: each thread is a stack
        // and a malloc arena held for life, for work that happens while the pool grows.
        .thread_pool(Arc::new(
            ScheduledThreadPool::builder()
                .num_threads(1)
                .thread_name_pattern("pool-upkeep-{}")
                .build(),
        ))
        .min_idle(Some(0))
        .connection_timeout(checkout_timeout)
        // A PostgreSQL connection can die with its server and is tested before use; a SQLite
        // one is a file handle, and the test would cost a statement parse per request.
        .test_on_check_out(url.backend() == Backend::Postgres)
        .build_unchecked(ConnectionManager { url: url.clone() }))
}

/// Rows per multi-row INSERT: 1,000 rows of at most 32 columns stay under SQLite's limit of
/// 32,766 bind parameters, and so under PostgreSQL's 65,535.
pub const BATCH_ROWS: usize = 1_000;

/// Inserts a slice of rows with multi-row INSERTs of [`BATCH_ROWS`] rows; evaluates to how
/// many were inserted. diesel's multi-connection has no batch insert, so each backend gets its
/// own statement. Row types must insert NULL for `None` (`treat_none_as_default_value =
/// false`): SQLite has no DEFAULT in VALUES, and diesel would otherwise write one row per
/// statement. One row goes as a single-row INSERT, whose text is fixed, so diesel keeps it
/// prepared; diesel writes a multi-row one anew for its count of rows, and PostgreSQL parses and
/// plans it each time.
macro_rules! insert_batch {
    ($conn:expr, $table:expr, $rows:expr) => {{
        let mut inserted = 0_usize;
        for part in $rows.chunks($crate::platform::db::BATCH_ROWS) {
            inserted += match part {
                [row] => $crate::platform::db::natively!($conn, |c| diesel::insert_into($table)
                    .values(row)
                    .execute(c))?,
                _ => $crate::platform::db::natively!($conn, |c| diesel::insert_into($table)
                    .values(part)
                    .execute(c))?,
            };
        }
        inserted
    }};
}
pub(crate) use insert_batch;

/// Runs a diesel query on the connection's own backend, not through the multi-connection:
/// for statements the multi-connection cannot run (multi-row inserts, upserts), and for the
/// reads that every request makes, since its wrapper writes the query's SQL again at every
/// pass over it, two or three times per execution even when the statement is cached
/// (docs/benchmarks.md). The query must build for both backends.
macro_rules! natively {
    ($conn:expr, |$native:ident| $query:expr) => {
        match &mut *$conn {
            $crate::platform::db::DbConnection::Postgres($native) => $query,
            $crate::platform::db::DbConnection::Sqlite($native) => $query,
        }
    };
}
pub(crate) use natively;

/// Applies the pending embedded migrations of the connection's backend; returns the versions
/// that ran, digits only (`20261206000032`).
pub fn run_migrations(conn: &mut DbConnection) -> Result<Vec<String>, StoreError> {
    let applied = match conn {
        DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS),
        DbConnection::Postgres(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS),
    }
    .map_err(|e| StoreError::Migration(e.to_string()))?;
    Ok(applied
        .iter()
        .map(|version| version.to_string().replace('-', ""))
        .collect())
}

/// Refreshes the planner's statistics of every table. After a bulk load the tables have none
/// until autovacuum gets to them (never, where it is off), and without them PostgreSQL guesses
/// `archived_at IS NULL` matches 0.5% of rows and prefers a scan and sort over the index.
pub fn analyze(conn: &mut DbConnection) -> Result<(), StoreError> {
    conn.batch_execute("ANALYZE")?;
    Ok(())
}

/// Fails unless the database answers a trivial query.
pub fn ping(conn: &mut DbConnection) -> Result<(), StoreError> {
    conn.batch_execute("SELECT 1")
        .map_err(|e| StoreError::Unavailable(e.to_string()))
}

/// Runs reads in one deferred transaction, so that they see one snapshot.
pub fn read_transaction<T, F>(conn: &mut DbConnection, f: F) -> Result<T, StoreError>
where
    F: FnOnce(&mut DbConnection) -> Result<T, StoreError>,
{
    conn.transaction(f)
}

/// Runs `f` in a transaction that takes the write lock up front. On SQLite a deferred
/// transaction that reads and then writes can fail at once with "database is locked" when
/// another writer got there first; `BEGIN IMMEDIATE` waits its turn instead.
pub fn write_transaction<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    match conn {
        DbConnection::Postgres(_) => conn.transaction(f),
        DbConnection::Sqlite(inner) => {
            AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?;
            match f(conn) {
                Ok(value) => match DbConnection::commit_transaction(conn) {
                    Ok(()) => Ok(value),
                    Err(commit_error) => {
                        if let Err(rollback_error) = DbConnection::rollback_transaction(conn) {
                            tracing::error!(%rollback_error, "rollback after failed commit failed");
                        }
                        Err(commit_error.into())
                    }
                },
                Err(error) => {
                    if let Err(rollback_error) = DbConnection::rollback_transaction(conn) {
                        tracing::error!(%rollback_error, "rollback failed");
                    }
                    Err(error)
                }
            }
        }
    }
}

/// A statement of fixed text around one bound value. `diesel::sql_query` is never cached, so
/// PostgreSQL parses and plans it on every call; diesel keeps this one prepared on each
/// connection, keyed by its text.
pub struct Prepared<ST, T> {
    before: &'static str,
    value: T,
    after: &'static str,
    sql_type: PhantomData<ST>,
}

impl<ST, T> Prepared<ST, T> {
    pub const fn new(before: &'static str, value: T, after: &'static str) -> Self {
        Prepared {
            before,
            value,
            after,
            sql_type: PhantomData,
        }
    }
}

impl<ST, T> diesel::query_builder::QueryId for Prepared<ST, T> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<ST, T, DB> diesel::query_builder::QueryFragment<DB> for Prepared<ST, T>
where
    DB: diesel::backend::Backend + diesel::sql_types::HasSqlType<ST>,
    T: diesel::serialize::ToSql<ST, DB>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> diesel::QueryResult<()> {
        out.push_sql(self.before);
        out.push_bind_param::<ST, T>(&self.value)?;
        out.push_sql(self.after);
        Ok(())
    }
}

impl<ST, T, Conn> diesel::RunQueryDsl<Conn> for Prepared<ST, T> {}

/// Holds a lock on `key` until the transaction ends, so that concurrent writers of the same
/// business key (an order's external id, a customer's email) take turns. On SQLite every write
/// transaction already holds the database's write lock.
pub fn lock_key(conn: &mut DbConnection, key: &str) -> Result<(), StoreError> {
    if let DbConnection::Postgres(c) = conn {
        diesel::RunQueryDsl::execute(
            Prepared::<Text, _>::new(
                "SELECT pg_advisory_xact_lock(hashtextextended(",
                key,
                ", 0))",
            ),
            c,
        )?;
    }
    Ok(())
}

/// Holds the locks of several keys until the transaction ends, as [`lock_key`] does, in one
/// statement. They are taken in sorted order, so that two writers of overlapping sets of keys
/// never wait for each other in a cycle.
pub fn lock_keys(conn: &mut DbConnection, keys: &[String]) -> Result<(), StoreError> {
    if let DbConnection::Postgres(c) = conn {
        let mut sorted = keys.to_vec();
        sorted.sort();
        sorted.dedup();
        // A function scan returns the array's elements in order, and locks them in that order.
        diesel::RunQueryDsl::execute(
            Prepared::<Array<Text>, _>::new(
                "SELECT pg_advisory_xact_lock(hashtextextended(key, 0)) FROM unnest(",
                &sorted,
                ") AS key",
            ),
            c,
        )?;
    }
    Ok(())
}

/// Takes the lock on `key` until the transaction ends if no other transaction holds it, and
/// says whether it did: work that one node of a cluster does at a time, and that another node
/// may skip. Transaction-scoped, so safe behind PgBouncer in transaction mode.
pub fn try_lock_key(conn: &mut DbConnection, key: &str) -> Result<bool, StoreError> {
    #[derive(diesel::QueryableByName)]
    struct Taken {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        taken: bool,
    }
    match conn {
        DbConnection::Postgres(_) => {
            let row: Taken = diesel::RunQueryDsl::get_result(
                diesel::sql_query(
                    "SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0)) AS taken",
                )
                .bind::<diesel::sql_types::Text, _>(key),
                conn,
            )?;
            Ok(row.taken)
        }
        DbConnection::Sqlite(_) => Ok(true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_picks_backend() {
        assert_eq!(
            DatabaseUrl::parse("postgres://u@h/db").unwrap().backend(),
            Backend::Postgres
        );
        let sqlite = DatabaseUrl::parse("sqlite://data/crm.db").unwrap();
        assert_eq!(sqlite.sqlite_path(), Some("data/crm.db"));
        assert_eq!(
            DatabaseUrl::parse("/tmp/x.db").unwrap().backend(),
            Backend::Sqlite
        );
    }

    #[test]
    fn mistyped_scheme_fails_loudly() {
        assert!(DatabaseUrl::parse("postgress://u@h/db").is_err());
        assert!(DatabaseUrl::parse("mysql://u@h/db").is_err());
    }

    #[test]
    fn passwords_are_redacted() {
        let url = DatabaseUrl::parse("postgres://app:s3cret@db:5432/crm").unwrap();
        assert!(!format!("{url:?}").contains("s3cret"));
    }
}

#[derive(diesel::QueryableByName)]
struct DatabaseClock {
    #[diesel(sql_type = diesel::sql_types::Text)]
    now: String,
}

/// The database's clock in UTC, to the microsecond: one clock for every node, so that no node's
/// drift dates or orders a ledger entry. On PostgreSQL it is the start of this statement, not
/// of the transaction, so that a caller who first takes a lock reads the time after it.
pub fn database_now(conn: &mut DbConnection) -> Result<chrono::NaiveDateTime, StoreError> {
    let clock: DatabaseClock = match conn {
        DbConnection::Postgres(pg) => diesel::RunQueryDsl::get_result(
            diesel::sql_query(
                "SELECT to_char(statement_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS now",
            ),
            pg,
        )?,
        DbConnection::Sqlite(sqlite) => diesel::RunQueryDsl::get_result(
            diesel::sql_query("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now') AS now"),
            sqlite,
        )?,
    };
    chrono::NaiveDateTime::parse_from_str(&clock.now, "%Y-%m-%d %H:%M:%S%.f")
        .map_err(|e| StoreError::Config(format!("the database's clock said {:?}: {e}", clock.now)))
}
