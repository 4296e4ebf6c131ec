//! Idempotency keys: the first response to a POST is stored per principal and key, and a
//! retry with the same key and body gets it again. Kept in the database so that a retry that
//! lands on another API node is recognised too.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::{Text, Timestamp};

use crate::platform::db::DbConnection;
use crate::platform::schema::idempotency_keys;
use crate::{now, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    /// Headers worth replaying (`Location`, `ETag`, `Content-Type`) as name/value pairs.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is new: the caller runs the request and then calls [`complete`] or [`release`].
    Claimed,
    /// The same request already finished: replay its response.
    Replay(StoredResponse),
    /// The key was used with another request.
    Mismatch,
    /// The first request with this key is still running.
    InProgress,
}

type Existing = (
    String,
    Option<i32>,
    Option<String>,
    Option<Vec<u8>>,
    NaiveDateTime,
);

/// Claims `key` for this request, or says what became of an earlier request with it.
pub fn claim(
    conn: &mut DbConnection,
    principal: &str,
    key: &str,
    request_hash: &str,
    ttl: Duration,
) -> Result<Claim, StoreError> {
    // Two attempts: the second follows the removal of an expired claim.
    for _ in 0..2 {
        let at = now();
        // DO NOTHING rather than catching the unique violation: every retry would otherwise
        // be an ERROR in the PostgreSQL log. Written as SQL because diesel's upsert DSL does
        // not reach the two-backend connection; SQLite reads `$n` as positional parameters.
        let inserted = diesel::sql_query(
            "INSERT INTO idempotency_keys (principal, idempotency_key, request_hash, created_at, \
             expires_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind::<Text, _>(principal)
        .bind::<Text, _>(key)
        .bind::<Text, _>(request_hash)
        .bind::<Timestamp, _>(at)
        .bind::<Timestamp, _>(at + ttl)
        .execute(conn)?;
        if inserted == 1 {
            return Ok(Claim::Claimed);
        }
        let existing: Option<Existing> = idempotency_keys::table
            .find((principal, key))
            .select((
                idempotency_keys::request_hash,
                idempotency_keys::response_status,
                idempotency_keys::response_headers,
                idempotency_keys::response_body,
                idempotency_keys::expires_at,
            ))
            .first(conn)
            .optional()?;
        let Some((hash, status, headers, body, expires_at)) = existing else {
            continue;
        };
        if expires_at <= at {
            diesel::delete(
                idempotency_keys::table
                    .filter(idempotency_keys::principal.eq(principal))
                    .filter(idempotency_keys::idempotency_key.eq(key))
                    .filter(idempotency_keys::expires_at.le(at)),
            )
            .execute(conn)?;
            continue;
        }
        if hash != request_hash {
            return Ok(Claim::Mismatch);
        }
        return Ok(match status {
            Some(status) => Claim::Replay(StoredResponse {
                status: u16::try_from(status).unwrap_or(500),
                headers: headers
                    .and_then(|h| serde_json::from_str(&h).ok())
                    .unwrap_or_default(),
                body: body.unwrap_or_default(),
            }),
            None => Claim::InProgress,
        });
    }
    Ok(Claim::InProgress)
}

/// Stores the response of a claimed request.
pub fn complete(
    conn: &mut DbConnection,
    principal: &str,
    key: &str,
    response: &StoredResponse,
) -> Result<(), StoreError> {
    let headers = serde_json::to_string(&response.headers).map_err(|e| {
        StoreError::Invalid(crm_domain::Violation::new("headers", e.to_string()).into())
    })?;
    diesel::update(
        idempotency_keys::table
            .filter(idempotency_keys::principal.eq(principal))
            .filter(idempotency_keys::idempotency_key.eq(key)),
    )
    .set((
        idempotency_keys::response_status.eq(Some(i32::from(response.status))),
        idempotency_keys::response_headers.eq(Some(headers)),
        idempotency_keys::response_body.eq(Some(&response.body)),
    ))
    .execute(conn)?;
    Ok(())
}

/// Gives a claim up (the request failed on our side), so that a retry runs afresh.
pub fn release(conn: &mut DbConnection, principal: &str, key: &str) -> Result<(), StoreError> {
    diesel::delete(
        idempotency_keys::table
            .filter(idempotency_keys::principal.eq(principal))
            .filter(idempotency_keys::idempotency_key.eq(key)),
    )
    .execute(conn)?;
    Ok(())
}

/// Deletes expired keys; returns how many.
pub fn purge_expired(conn: &mut DbConnection) -> Result<usize, StoreError> {
    Ok(
        diesel::delete(idempotency_keys::table.filter(idempotency_keys::expires_at.le(now())))
            .execute(conn)?,
    )
}
