//! Failed logins per email, kept in the database so that the limit holds across API nodes.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::platform::db::DbConnection;
use crate::platform::schema::login_failures;
use crate::{new_id, now, StoreError};

pub fn record(conn: &mut DbConnection, email: &str) -> Result<String, StoreError> {
    let id = new_id();
    diesel::insert_into(login_failures::table)
        .values((
            login_failures::id.eq(&id),
            login_failures::email.eq(email),
            login_failures::failed_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(id)
}

/// Takes back one recorded attempt.
pub fn forget(conn: &mut DbConnection, id: &str) -> Result<(), StoreError> {
    diesel::delete(login_failures::table.filter(login_failures::id.eq(id))).execute(conn)?;
    Ok(())
}

/// How many failures since `since` were recorded before the attempt `before` (ids are
/// UUIDv7, ordered by time), and the earliest of them.
pub fn since(
    conn: &mut DbConnection,
    email: &str,
    since: NaiveDateTime,
    before: &str,
) -> Result<(i64, Option<NaiveDateTime>), StoreError> {
    let times: Vec<NaiveDateTime> = login_failures::table
        .filter(login_failures::email.eq(email))
        .filter(login_failures::failed_at.ge(since))
        .filter(login_failures::id.lt(before))
        .order(login_failures::failed_at.asc())
        .select(login_failures::failed_at)
        .load(conn)?;
    Ok((
        i64::try_from(times.len()).unwrap_or(i64::MAX),
        times.first().copied(),
    ))
}

/// Forgets the failures of an email, after a successful login.
pub fn clear(conn: &mut DbConnection, email: &str) -> Result<(), StoreError> {
    diesel::delete(login_failures::table.filter(login_failures::email.eq(email))).execute(conn)?;
    Ok(())
}

/// Deletes failures older than `before`, which no longer count; returns how many.
pub fn purge_before(conn: &mut DbConnection, before: NaiveDateTime) -> Result<usize, StoreError> {
    Ok(
        diesel::delete(login_failures::table.filter(login_failures::failed_at.lt(before)))
            .execute(conn)?,
    )
}
