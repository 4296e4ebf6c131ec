//! Named counters for document numbers and rate limits, incremented inside the caller's
//! transaction. The row lock (PostgreSQL) or the write lock (SQLite) serialises concurrent
//! increments, so numbers are unique across requests and API nodes; a rolled-back transaction
//! gives its number back.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::platform::db::DbConnection;
use crate::platform::schema::counters;
use crate::{now, StoreError};

/// Adds one to the counter `name` (creating it at 1) and returns the new value.
pub fn next(conn: &mut DbConnection, name: &str) -> Result<i64, StoreError> {
    let at = now();
    for _ in 0..2 {
        let updated = diesel::update(counters::table.find(name))
            .set((
                counters::value.eq(counters::value + 1),
                counters::updated_at.eq(at),
            ))
            .execute(conn)?;
        if updated == 1 {
            return Ok(counters::table
                .find(name)
                .select(counters::value)
                .first(conn)?);
        }
        // A savepoint, so that losing the race to create the row does not abort the
        // caller's transaction on PostgreSQL.
        let created = conn.transaction(|c| {
            diesel::insert_into(counters::table)
                .values((
                    counters::name.eq(name),
                    counters::value.eq(1_i64),
                    counters::updated_at.eq(at),
                ))
                .execute(c)
        });
        match created {
            Ok(_) => return Ok(1),
            Err(e) if StoreError::is_unique_violation(&e) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::Conflict {
        message: format!("counter {name} is contended; retry"),
        existing_id: None,
    })
}

/// Takes `count` (at least one) consecutive values of the counter `name` at once; returns the
/// first. For bulk loads that number many documents in one transaction.
pub fn reserve(conn: &mut DbConnection, name: &str, count: i64) -> Result<i64, StoreError> {
    let first = next(conn, name)?;
    if count > 1 {
        diesel::update(counters::table.find(name))
            .set(counters::value.eq(counters::value + (count - 1)))
            .execute(conn)?;
    }
    Ok(first)
}

/// Deletes counters whose names start with `prefix` and that last moved before `before`.
pub fn purge(
    conn: &mut DbConnection,
    prefix: &str,
    before: NaiveDateTime,
) -> Result<usize, StoreError> {
    Ok(diesel::delete(
        counters::table
            .filter(
                counters::name
                    .like(crm_domain::platform::text::like_prefix(prefix))
                    .escape('\\'),
            )
            .filter(counters::updated_at.lt(before)),
    )
    .execute(conn)?)
}
