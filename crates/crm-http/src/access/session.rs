//! `/v1/auth`: log in for tokens, refresh them, revoke them.

use actix_web::{post, web, HttpResponse};
use crm_store::access::sessions::{self, Login, LoginLimit, NewRefreshToken};
use crm_store::{access::refresh_tokens, access::users, now};
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

/// Issues an access token for the user and answers with it and the session's refresh token.
fn tokens_for(
    state: &AppState,
    user: &users::User,
    refresh_token: String,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(TokenResponse {
        access_token: issue_access_token(&state.settings, &user.id, user.role)?,
        token_type: "Bearer".to_owned(),
        expires_in: state.settings.access_token_ttl.as_secs(),
        refresh_token,
    }))
}

/// A new refresh token: the secret for the caller, and what the store keeps of it.
fn new_refresh_token(state: &AppState) -> (String, NewRefreshToken) {
    let token = random_token();
    let stored = NewRefreshToken {
        hash: secret_hash(&token),
        expires_at: now()
            + chrono::Duration::from_std(state.settings.refresh_token_ttl)
                .unwrap_or(chrono::Duration::days(30)),
    };
    (token, stored)
}

fn login_limit(state: &AppState) -> LoginLimit {
    LoginLimit {
        max_failures: state.settings.login_max_failures,
        window: chrono::Duration::from_std(state.settings.login_window)
            .unwrap_or(chrono::Duration::minutes(15)),
    }
}

/// The user a login let in, or why it did not.
fn granted(login: Login) -> Result<Box<users::User>, ApiError> {
    match login {
        Login::Granted(user) => Ok(user),
        Login::Refused => Err(ApiError::Unauthenticated("wrong email or password".into())),
        Login::Locked { retry_after } => Err(ApiError::TooManyRequests {
            detail: "too many failed logins for this email; try again later".into(),
            retry_after,
        }),
    }
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
    let limit = login_limit(&state);
    let (refresh_token, stored) = new_refresh_token(&state);
    let verify = move |hash: Option<&str>| verify_password(&body.password, hash);
    let login = state
        .db
        .read(move |conn| sessions::log_in(conn, &email, &limit, verify, stored))
        .await?;
    let user = granted(login)?;
    tokens_for(&state, &user, refresh_token)
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
    let (new_token, stored) = new_refresh_token(&state);
    let user = state
        .db
        .write(move |conn| sessions::refresh(conn, &presented, stored))
        .await?
        .ok_or_else(|| {
            ApiError::Unauthenticated(
                "the refresh token is invalid, spent, expired or revoked".into(),
            )
        })?;
    tokens_for(&state, &user, new_token)
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

/// The routes under `/auth`.
pub fn routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(create_token).service(refresh).service(revoke);
}
