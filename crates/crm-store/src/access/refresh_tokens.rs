//! Refresh tokens: stored as SHA-256 hashes, single use (each refresh rotates), revocable.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::platform::db::DbConnection;
use crate::platform::schema::refresh_tokens;
use crate::{new_id, now, StoreError};

pub fn create(
    conn: &mut DbConnection,
    user_id: &str,
    token_hash: &str,
    expires_at: NaiveDateTime,
) -> Result<(), StoreError> {
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::id.eq(new_id()),
            refresh_tokens::user_id.eq(user_id),
            refresh_tokens::token_hash.eq(token_hash),
            refresh_tokens::expires_at.eq(expires_at),
            refresh_tokens::created_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Spends a refresh token and returns its user. A token presented after it was spent or
/// revoked may have been stolen, so every session of its user ends.
pub fn consume(conn: &mut DbConnection, token_hash: &str) -> Result<Option<String>, StoreError> {
    let found: Option<(String, String, NaiveDateTime, Option<NaiveDateTime>)> =
        refresh_tokens::table
            .filter(refresh_tokens::token_hash.eq(token_hash))
            .select((
                refresh_tokens::id,
                refresh_tokens::user_id,
                refresh_tokens::expires_at,
                refresh_tokens::revoked_at,
            ))
            .first(conn)
            .optional()?;
    let Some((id, user_id, expires_at, revoked_at)) = found else {
        return Ok(None);
    };
    if revoked_at.is_some() {
        revoke_all_of_user(conn, &user_id)?;
        return Ok(None);
    }
    let at = now();
    if expires_at <= at {
        return Ok(None);
    }
    let spent = diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::id.eq(&id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(Some(at)))
    .execute(conn)?;
    Ok((spent == 1).then_some(user_id))
}

/// Revokes one token; unknown tokens are ignored so that revocation reveals nothing.
pub fn revoke(conn: &mut DbConnection, token_hash: &str) -> Result<(), StoreError> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::token_hash.eq(token_hash))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(Some(now())))
    .execute(conn)?;
    Ok(())
}

pub fn revoke_all_of_user(conn: &mut DbConnection, user_id: &str) -> Result<(), StoreError> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::user_id.eq(user_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(Some(now())))
    .execute(conn)?;
    Ok(())
}
