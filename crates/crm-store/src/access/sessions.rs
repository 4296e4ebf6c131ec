//! Sessions: logging in for a refresh token, and spending one for the next.

use chrono::{Duration, NaiveDateTime};
use crm_domain::access::logins::lockout;

use crate::access::{login_failures, refresh_tokens, users};
use crate::platform::db::DbConnection;
use crate::{now, StoreError};

/// The refresh token a session gets: only its hash is stored.
pub struct NewRefreshToken {
    pub hash: String,
    pub expires_at: NaiveDateTime,
}

/// How repeated failures lock an email out.
pub struct LoginLimit {
    pub max_failures: i64,
    pub window: Duration,
}

/// What a login attempt came to.
pub enum Login {
    Granted(Box<users::User>),
    Refused,
    Locked { retry_after: u64 },
}

/// Logs a user in by email unless the email is locked out. `verify` checks the password
/// against the stored hash, and is asked even when no user has the email, so that the answer
/// takes as long either way. Every attempt counts against the email before it is verified, and
/// is committed at once (this runs outside a transaction): attempts racing on several nodes
/// each see the others, so parallel guesses cannot all pass the limit. A success clears the
/// email's failures and stores the session's refresh token.
pub fn log_in(
    conn: &mut DbConnection,
    email: &str,
    limit: &LoginLimit,
    verify: impl FnOnce(Option<&str>) -> bool,
    token: NewRefreshToken,
) -> Result<Login, StoreError> {
    let at = now();
    let attempt = login_failures::record(conn, email)?;
    // Only the attempts before this one: were later ones counted too, parallel guesses that
    // all recorded before any counted would all be refused unverified, and forgotten, and
    // leave no lock behind them.
    let (earlier, first) = login_failures::since(conn, email, at - limit.window, &attempt)?;
    if let Some(retry_after) = lockout(earlier, first, limit.max_failures, limit.window, at) {
        // Refused unverified, so it is no failure: asking while locked does not prolong the lock.
        login_failures::forget(conn, &attempt)?;
        return Ok(Login::Locked { retry_after });
    }
    let found = users::find_for_login(conn, email)?;
    let verified = verify(found.as_ref().map(|(_, hash)| hash.as_str()));
    match found {
        Some((user, _)) if verified && user.can_log_in() => {
            login_failures::clear(conn, email)?;
            refresh_tokens::create(conn, &user.id, &token.hash, token.expires_at)?;
            Ok(Login::Granted(Box::new(user)))
        }
        _ => Ok(Login::Refused),
    }
}

/// Spends the refresh token whose hash is `presented` and stores `next` for the same user, who
/// must still be allowed to log in; `None` when the token or its user is no longer good.
pub fn refresh(
    conn: &mut DbConnection,
    presented: &str,
    next: NewRefreshToken,
) -> Result<Option<users::User>, StoreError> {
    let Some(user_id) = refresh_tokens::consume(conn, presented)? else {
        return Ok(None);
    };
    let user = users::get(conn, &user_id)?;
    if !user.can_log_in() {
        return Ok(None);
    }
    refresh_tokens::create(conn, &user.id, &next.hash, next.expires_at)?;
    Ok(Some(user))
}
