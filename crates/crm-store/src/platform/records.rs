//! The one way a stored record changes: lock its row, read it, ask the domain, write.
//!
//! PostgreSQL runs READ COMMITTED, so a read followed by a check and a write can lose to a
//! concurrent writer of the same row on another node. Every write path of an aggregate first
//! calls [`lock`], which holds the row until the transaction ends: a concurrent writer waits,
//! then reads what the first one committed and gets its own `409` or `412` from the domain.
//! On SQLite every write transaction starts with `BEGIN IMMEDIATE` and so already holds the
//! database's only write lock. `tests/architecture.rs` fails the build when a store function
//! updates or deletes a row of an aggregate without taking this lock.

use diesel::dsl::{Find, Limit, Select};
use diesel::query_dsl::methods::{FindDsl, LimitDsl, SelectDsl};
use diesel::query_dsl::LoadQuery;
use diesel::sql_types::{Array, BigInt, Text, Timestamp};
use diesel::{RunQueryDsl, Selectable, SelectableHelper};

use crate::platform::db::{DbConnection, MultiBackend};
use crate::StoreError;

/// A table whose rows are records that callers change by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Record {
    ApiKey,
    Agreement,
    Article,
    BusinessCalendar,
    Campaign,
    CampaignMember,
    Case,
    Company,
    CompanySettings,
    Contact,
    FollowUpRule,
    GreetingRule,
    IntegrationConnection,
    Interaction,
    Invoice,
    InvoiceSeries,
    Lead,
    Opportunity,
    Order,
    Pipeline,
    Product,
    Quote,
    Return,
    Setting,
    Segment,
    SlaPolicy,
    Task,
    Team,
    User,
    View,
    VisitPlan,
    WebhookEndpoint,
}

impl Record {
    /// The table and its key column; both are fixed names, never input.
    fn table(self) -> (&'static str, &'static str) {
        match self {
            Record::ApiKey => ("api_keys", "id"),
            Record::Agreement => ("self_billing_agreements", "id"),
            Record::Article => ("kb_articles", "id"),
            Record::BusinessCalendar => ("business_calendars", "id"),
            Record::Campaign => ("campaigns", "id"),
            Record::CampaignMember => ("campaign_members", "id"),
            Record::Case => ("cases", "id"),
            Record::Company => ("companies", "id"),
            Record::CompanySettings => ("company_settings", "id"),
            Record::Contact => ("contacts", "id"),
            Record::FollowUpRule => ("follow_up_rules", "id"),
            Record::GreetingRule => ("greeting_rules", "id"),
            Record::IntegrationConnection => ("integration_connections", "id"),
            Record::Interaction => ("interactions", "id"),
            Record::Invoice => ("invoices", "id"),
            Record::InvoiceSeries => ("invoice_series", "id"),
            Record::Lead => ("leads", "id"),
            Record::Opportunity => ("opportunities", "id"),
            Record::Order => ("orders", "id"),
            Record::Pipeline => ("pipelines", "id"),
            Record::Product => ("products", "id"),
            Record::Quote => ("quotes", "id"),
            Record::Return => ("returns", "id"),
            Record::Setting => ("settings", "name"),
            Record::Segment => ("segments", "id"),
            Record::SlaPolicy => ("sla_policies", "id"),
            Record::Task => ("tasks", "id"),
            Record::Team => ("teams", "id"),
            Record::User => ("users", "id"),
            Record::View => ("saved_views", "id"),
            Record::VisitPlan => ("visit_plans", "id"),
            Record::WebhookEndpoint => ("webhook_endpoints", "id"),
        }
    }
}

/// Locks the row of `record` keyed `id` until the transaction ends, or fails with
/// [`StoreError::NotFound`] when there is none. `FOR NO KEY UPDATE` because no write path
/// changes a key, so inserting a row that references this one (a payment, a credit note)
/// does not wait for it.
pub(crate) fn lock(conn: &mut DbConnection, record: Record, id: &str) -> Result<(), StoreError> {
    if let DbConnection::Postgres(_) = conn {
        let (table, key) = record.table();
        let locked = diesel::sql_query(format!(
            "SELECT 1 FROM {table} WHERE {key} = $1 FOR NO KEY UPDATE"
        ))
        .bind::<Text, _>(id)
        .execute(conn)?;
        if locked == 0 {
            return Err(StoreError::NotFound);
        }
    }
    Ok(())
}

/// Locks the rows of `record` keyed by `ids` that exist, in one statement and in key order (byte
/// order, as `sort` puts them), so that two transactions locking overlapping sets take turns
/// instead of deadlocking. A missing id is skipped: the caller reads what it locked.
pub(crate) fn lock_present(
    conn: &mut DbConnection,
    record: Record,
    ids: &[&str],
) -> Result<(), StoreError> {
    if let DbConnection::Postgres(pg) = conn {
        let (table, key) = record.table();
        diesel::sql_query(format!(
            "SELECT 1 FROM {table} WHERE {key} = ANY($1) \
             ORDER BY {key} COLLATE \"C\" FOR NO KEY UPDATE"
        ))
        .bind::<Array<Text>, _>(ids)
        .execute(pg)?;
    }
    Ok(())
}

/// Locks the row, reads it with `read` and checks the caller's `If-Match` against its
/// `version`: the start of every write path of a versioned record.
pub(crate) fn checkout<R>(
    conn: &mut DbConnection,
    record: Record,
    id: &str,
    expected_version: Option<i64>,
    read: impl FnOnce(&mut DbConnection, &str) -> Result<R, StoreError>,
    version: impl FnOnce(&R) -> i64,
) -> Result<R, StoreError> {
    lock(conn, record, id)?;
    let row = read(conn, id)?;
    expect_version(expected_version, version(&row))?;
    Ok(row)
}

/// The caller's `If-Match` against the version read: a `412` naming the current one.
pub(crate) fn expect_version(expected: Option<i64>, current: i64) -> Result<(), StoreError> {
    match expected {
        Some(expected) if expected != current => Err(StoreError::VersionMismatch { current }),
        _ => Ok(()),
    }
}

/// Writes `changes` to the record keyed `id` of `table` if it is still at `read_version`, and
/// fails as [`written`] does when it is not.
macro_rules! update_versioned {
    ($conn:expr, $table:ident, $id:expr, $read_version:expr, $changes:expr) => {
        $crate::platform::records::written(
            diesel::update(
                $table::table
                    .filter($table::id.eq($id))
                    .filter($table::version.eq($read_version)),
            )
            .set($changes)
            .execute($conn)?,
            $read_version,
        )
    };
}
pub(crate) use update_versioned;

/// Writes `row`, a record read at its `version`, one version up and stamped now, if the stored
/// record is still at the version read; fails as [`written`] does when it is not.
macro_rules! write_next_version {
    ($conn:expr, $table:ident, $id:expr, $row:expr) => {{
        let read_version = $row.version;
        $row.version += 1;
        $row.updated_at = $crate::now();
        $crate::platform::records::update_versioned!($conn, $table, $id, read_version, &$row)
    }};
}
pub(crate) use write_next_version;

/// [`update_versioned`] for a record with custom fields: writes `row` and its `custom_fields`
/// (JSON on both backends), mapping a refused write with `map_error`.
macro_rules! update_with_custom_fields {
    ($conn:expr, $table:ident, $id:expr, $read_version:expr, $row:expr, $map_error:expr) => {{
        let custom_fields = $crate::platform::query::json_text(
            $crate::platform::query::Dialect::of($conn),
            $row.custom_fields.clone(),
        );
        $crate::platform::records::written(
            diesel::update(
                $table::table
                    .filter($table::id.eq($id))
                    .filter($table::version.eq($read_version)),
            )
            .set(($row, $table::custom_fields.eq(custom_fields)))
            .execute($conn)
            .map_err($map_error)?,
            $read_version,
        )
    }};
}
pub(crate) use update_with_custom_fields;

/// Deletes the record keyed `id` of `table` if it is still at `read_version`, and fails as
/// [`written`] does when it is not.
macro_rules! delete_versioned {
    ($conn:expr, $table:ident, $id:expr, $read_version:expr) => {
        $crate::platform::records::written(
            diesel::delete(
                $table::table
                    .filter($table::id.eq($id))
                    .filter($table::version.eq($read_version)),
            )
            .execute($conn)?,
            $read_version,
        )
    };
}
pub(crate) use delete_versioned;

/// Stamps `archived_at` on a record read, locked, at `read_version`, one version up.
pub(crate) fn archive(
    conn: &mut DbConnection,
    record: Record,
    id: &str,
    read_version: i64,
) -> Result<(), StoreError> {
    let (table, key) = record.table();
    let rows = diesel::sql_query(format!(
        "UPDATE {table} SET archived_at = $1, updated_at = $1, version = $2 + 1 \
         WHERE {key} = $3 AND version = $2"
    ))
    .bind::<Timestamp, _>(crate::now())
    .bind::<BigInt, _>(read_version)
    .bind::<Text, _>(id)
    .execute(conn)?;
    written(rows, read_version)
}

type RowOf<'a, T, R> = Select<Find<T, &'a str>, diesel::dsl::AsSelect<R, MultiBackend>>;

/// The row of `table` whose key is `id`, read as `R`; `NotFound` when there is none.
pub(crate) fn load_row<'a, T, R>(
    conn: &mut DbConnection,
    table: T,
    id: &'a str,
) -> Result<R, StoreError>
where
    T: FindDsl<&'a str>,
    Find<T, &'a str>: SelectDsl<diesel::dsl::AsSelect<R, MultiBackend>>,
    RowOf<'a, T, R>: LimitDsl,
    Limit<RowOf<'a, T, R>>: LoadQuery<'a, DbConnection, R>,
    RowOf<'a, T, R>: RunQueryDsl<DbConnection>,
    R: Selectable<MultiBackend>,
    R::SelectExpression: diesel::query_builder::QueryId,
{
    Ok(table.find(id).select(R::as_select()).first(conn)?)
}

/// A merged record takes no more writes: the error names the record it went into.
pub(crate) fn refuse_merged(merged_into_id: Option<&str>) -> Result<(), StoreError> {
    match merged_into_id {
        Some(into) => Err(StoreError::Merged {
            merged_into: into.to_owned(),
        }),
        None => Ok(()),
    }
}

/// Fails with the version the row moved to when a conditional write (`WHERE version = ?`)
/// touched no row: a second line of defence behind [`lock`].
pub(crate) fn written(rows: usize, read_version: i64) -> Result<(), StoreError> {
    if rows == 0 {
        return Err(StoreError::VersionMismatch {
            current: read_version + 1,
        });
    }
    Ok(())
}
