//! `/v1/auth`: log in for tokens, refresh them, revoke them.

use actix_web::{post, web, HttpResponse};
use crm_store::{access::login_failures, access::refresh_tokens, access::users, now};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::platform::auth::{issue_access_token, random_token, secret_hash, verify_password};
use crate::platform::error::ApiError;
use crate::platform::extract::ApiJson;
use crate::platform::state::AppState;

/// Credentials.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "admin@example.com", "password": "the printed password"}))]
pub struct TokenRequest {
    /// Login email.
    pub email: String,
    /// Password.
    #[schema(format = Password, write_only)]
    pub password: String,
}

/// A refresh token to use or revoke.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"refresh_token": "..."}))]
pub struct RefreshRequest {
    /// The refresh token from the last token response.
    pub refresh_token: String,
}

/// Tokens for a session.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// Send as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Single use: exchange it at `/v1/auth/refresh` for new tokens.
    pub refresh_token: String,
}

enum Login {
    Granted(Box<users::User>, String),
    Refused,
    Locked { retry_after: u64 },
}

/// Issues an access token and stores a new refresh token for the user.
fn tokens_for(
    state: &AppState,
    user: &users::User,
    refresh_token: String,
) -> Result<TokenResponse, ApiError> {
    Ok(TokenResponse {
        access_token: issue_access_token(&state.settings, &user.id, user.role)?,
        token_type: "Bearer".to_owned(),
        expires_in: state.settings.access_token_ttl.as_secs(),
        refresh_token,
    })
}

fn refresh_expiry(state: &AppState) -> chrono::NaiveDateTime {
    now()
        + chrono::Duration::from_std(state.settings.refresh_token_ttl)
            .unwrap_or(chrono::Duration::days(30))
}

#[utoipa::path(
    tag = "auth",
    operation_id = "createToken",
    summary = "Log in",
    description = "Exchanges email and password for an access token and a refresh token. After repeated failures for one email, further attempts get `429` for a while.",
    request_body = TokenRequest,
    responses((status = 200, description = "Logged in", body = TokenResponse))
)]
#[post("/auth/token")]
pub async fn create_token(
    state: web::Data<AppState>,
    ApiJson(body): ApiJson<TokenRequest>,
) -> Result<HttpResponse, ApiError> {
    let email = body.email.trim().to_lowercase();
    let window = chrono::Duration::from_std(state.settings.login_window)
        .unwrap_or(chrono::Duration::minutes(15));
    let max_failures = state.settings.login_max_failures;
    let refresh_token = random_token();
    let refresh_hash = secret_hash(&refresh_token);
    let expires_at = refresh_expiry(&state);
    let outcome = state
        .db
        .read(move |conn| {
            let since = now() - window;
            let (failures, first) = login_failures::since(conn, &email, since)?;
            if failures >= max_failures {
                let unlock = first.map_or(now() + window, |f| f + window);
                let retry_after = u64::try_from((unlock - now()).num_seconds().max(1)).unwrap_or(1);
                return Ok(Login::Locked { retry_after });
            }
            let found = users::find_for_login(conn, &email)?;
            let verified = verify_password(
                &body.password,
                found.as_ref().map(|(_, hash)| hash.as_str()),
            );
            match found {
                Some((user, _)) if verified && user.can_log_in() => {
                    login_failures::clear(conn, &email)?;
                    refresh_tokens::create(conn, &user.id, &refresh_hash, expires_at)?;
                    Ok(Login::Granted(Box::new(user), refresh_token))
                }
                _ => {
                    login_failures::record(conn, &email)?;
                    Ok(Login::Refused)
                }
            }
        })
        .await?;
    match outcome {
        Login::Granted(user, token) => {
            Ok(HttpResponse::Ok().json(tokens_for(&state, &user, token)?))
        }
        Login::Refused => Err(ApiError::Unauthenticated("wrong email or password".into())),
        Login::Locked { retry_after } => Err(ApiError::TooManyRequests {
            detail: "too many failed logins for this email; try again later".into(),
            retry_after,
        }),
    }
}

#[utoipa::path(
    tag = "auth",
    operation_id = "refreshToken",
    summary = "Refresh tokens",
    description = "Spends a refresh token for a new access token and a new refresh token. A refresh token works once; presenting a spent one ends all of the user's sessions.",
    request_body = RefreshRequest,
    responses((status = 200, description = "New tokens", body = TokenResponse))
)]
#[post("/auth/refresh")]
pub async fn refresh(
    state: web::Data<AppState>,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let presented = secret_hash(body.refresh_token.trim());
    let new_token = random_token();
    let new_hash = secret_hash(&new_token);
    let expires_at = refresh_expiry(&state);
    let user = state
        .db
        .write(move |conn| {
            let Some(user_id) = refresh_tokens::consume(conn, &presented)? else {
                return Ok(None);
            };
            let user = users::get(conn, &user_id)?;
            if !user.can_log_in() {
                return Ok(None);
            }
            refresh_tokens::create(conn, &user.id, &new_hash, expires_at)?;
            Ok(Some(user))
        })
        .await?
        .ok_or_else(|| {
            ApiError::Unauthenticated(
                "the refresh token is invalid, spent, expired or revoked".into(),
            )
        })?;
    Ok(HttpResponse::Ok().json(tokens_for(&state, &user, new_token)?))
}

#[utoipa::path(
    tag = "auth",
    operation_id = "revokeToken",
    summary = "Log out",
    description = "Revokes a refresh token. Unknown tokens are accepted silently.",
    request_body = RefreshRequest,
    responses((status = 204, description = "Revoked"))
)]
#[post("/auth/revoke")]
pub async fn revoke(
    state: web::Data<AppState>,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let hash = secret_hash(body.refresh_token.trim());
    state
        .db
        .write(move |conn| refresh_tokens::revoke(conn, &hash))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
