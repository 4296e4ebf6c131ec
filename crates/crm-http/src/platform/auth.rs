//! Authentication: passwords (argon2id), access tokens (HS256 JWT with the algorithm pinned),
//! refresh tokens and API keys (random, stored as SHA-256 hashes); and the [`Principal`] that
//! handlers authorize against the permission matrix.

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use base64::Engine;
use crm_domain::access::actors;
use crm_domain::access::permissions::{authorize, Access, Reach, Resource, Scope};
use crm_domain::access::roles::Role;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::platform::error::ApiError;
use crate::platform::state::{AppState, HttpSettings, Standing, VerifiedToken};

pub const API_KEY_PREFIX: &str = "crm_";
/// How far a token's times may be off the clock of the node checking it.
const LEEWAY_SECONDS: i64 = 30;

pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| {
            tracing::error!(error = %e, "password hashing failed");
            ApiError::Internal
        })
}

/// Checks a password against a stored hash. With no hash (unknown user) it still does the
/// work of one check, so that response times do not reveal which emails exist.
pub fn verify_password(password: &str, stored_hash: Option<&str>) -> bool {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash_password("not a real password").unwrap_or_default());
    let hash = stored_hash.unwrap_or(dummy);
    let verified = PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false);
    verified && stored_hash.is_some()
}

/// A random secret with 256 bits of entropy, URL-safe.
pub fn random_token() -> String {
    let mut bytes = [0_u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// How high-entropy secrets (refresh tokens, API keys) are stored: a fast hash suffices
/// because they cannot be guessed, and it lets a key be found by its hash.
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
}

pub fn issue_access_token(
    settings: &HttpSettings,
    user_id: &str,
    role: Role,
) -> Result<String, ApiError> {
    let now = chrono::Utc::now().timestamp();
    let ttl = i64::try_from(settings.access_token_ttl.as_secs()).unwrap_or(900);
    let claims = Claims {
        sub: user_id.to_owned(),
        role,
        iat: now,
        nbf: now,
        exp: now + ttl,
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(settings.jwt_secret.expose_secret().as_bytes()),
    )
    .map_err(|e| {
        tracing::error!(error = %e, "token signing failed");
        ApiError::Internal
    })
}

/// Verifies signature, algorithm (HS256 only: `none` and RS/HS confusion are refused),
/// `exp`, `nbf` and `iat`.
fn decode_access_token(settings: &HttpSettings, token: &str) -> Result<Claims, ApiError> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = LEEWAY_SECONDS.unsigned_abs();
    validation.validate_nbf = true;
    validation.set_required_spec_claims(&["exp", "nbf", "sub"]);
    let data = jsonwebtoken::decode::<Claims>(
        token,
        &DecodingKey::from_secret(settings.jwt_secret.expose_secret().as_bytes()),
        &validation,
    )
    .map_err(|_| ApiError::Unauthenticated("the access token is invalid or expired".into()))?;
    if data.claims.iat > chrono::Utc::now().timestamp() + LEEWAY_SECONDS {
        return Err(ApiError::Unauthenticated(
            "the access token is issued in the future".into(),
        ));
    }
    Ok(data.claims)
}

/// The claims of `token`, verified now or, within `auth_cache_ttl`, by an earlier request: a
/// signature check costs more than the rest of authentication. A token expires in the cache
/// as it does when decoded.
fn verified_claims(state: &AppState, token: &str) -> Result<VerifiedToken, ApiError> {
    if let Some(verified) = state.verified_tokens.get(token) {
        if chrono::Utc::now().timestamp() <= verified.expires_at + LEEWAY_SECONDS {
            return Ok(verified);
        }
        state.verified_tokens.invalidate(token);
    }
    let claims = decode_access_token(&state.settings, token)?;
    let verified = VerifiedToken {
        user_id: claims.sub,
        role: claims.role,
        expires_at: claims.exp,
    };
    if !state.settings.auth_cache_ttl.is_zero() {
        state
            .verified_tokens
            .insert(token.to_owned(), verified.clone());
    }
    Ok(verified)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    User(String),
    ApiKey(String),
}

/// Who is calling, as established from the `Authorization` header.
#[derive(Debug, Clone)]
pub struct Principal {
    pub subject: Subject,
    pub role: Role,
    /// For customer users: the one company they belong to.
    pub company_id: Option<String>,
    /// For API keys: what the key may do.
    pub scopes: Option<Vec<Scope>>,
    /// For API keys with a budget of their own: requests per minute.
    pub rate_limit_per_minute: Option<u64>,
}

impl Principal {
    /// A stable key for per-principal records such as idempotency keys.
    pub fn key(&self) -> String {
        match &self.subject {
            Subject::User(id) => actors::user_key(id),
            Subject::ApiKey(id) => actors::api_key_key(id),
        }
    }

    pub fn user_id(&self) -> Option<&str> {
        match &self.subject {
            Subject::User(id) => Some(id),
            Subject::ApiKey(_) => None,
        }
    }

    /// Checks the permission matrix and, for API keys, the key's scopes.
    pub fn authorize(&self, resource: Resource, access: Access) -> Result<Reach, ApiError> {
        let reach = authorize(self.role, resource, access)
            .map_err(|denied| ApiError::Forbidden(denied.to_string()))?;
        if let Some(scopes) = &self.scopes {
            if !scopes.iter().any(|s| s.covers(resource, access)) {
                return Err(ApiError::Forbidden(format!(
                    "this API key lacks the scope {}",
                    Scope { resource, access }
                )));
            }
        }
        Ok(reach)
    }
}

/// The cached outcome of authenticating one request, so that middleware and handlers share it.
#[derive(Clone)]
struct Authenticated(Result<Principal, String>);

/// Establishes the principal of a request once and caches it on the request.
pub async fn authenticate(req: &HttpRequest) -> Result<Principal, ApiError> {
    if let Some(Authenticated(cached)) = req.extensions().get::<Authenticated>().cloned() {
        return cached.map_err(ApiError::Unauthenticated);
    }
    let result = resolve(req).await;
    let cached = match &result {
        Ok(p) => Ok(p.clone()),
        Err(ApiError::Unauthenticated(m)) => Err(m.clone()),
        Err(_) => return result,
    };
    req.extensions_mut().insert(Authenticated(cached));
    result
}

async fn resolve(req: &HttpRequest) -> Result<Principal, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or(ApiError::Internal)?
        .clone();
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::Unauthenticated("send Authorization: Bearer <access token or API key>".into())
        })?
        .to_owned();

    if token.starts_with(API_KEY_PREFIX) {
        let hash = secret_hash(&token);
        let key = state
            .db
            .read(move |conn| {
                let key = crm_store::access::api_keys::find_live_by_hash(conn, &hash)?;
                if let Some(key) = &key {
                    crm_store::access::api_keys::touch(conn, key)?;
                }
                Ok(key)
            })
            .await?
            .ok_or_else(|| ApiError::Unauthenticated("the API key is invalid or revoked".into()))?;
        return Ok(Principal {
            subject: Subject::ApiKey(key.id),
            role: Role::Integration,
            company_id: None,
            rate_limit_per_minute: key
                .rate_limit_per_minute
                .and_then(|limit| u64::try_from(limit).ok()),
            scopes: Some(key.scopes),
        });
    }

    let token = verified_claims(&state, &token)?;
    let standing = match state.standing.get(&token.user_id) {
        Some(standing) => Some(standing),
        None => {
            let user_id = token.user_id.clone();
            let found = state
                .db
                .read_one(
                    move |conn| match crm_store::access::users::get(conn, &user_id) {
                        Ok(user) => Ok(Some(Standing {
                            can_log_in: user.can_log_in(),
                            role: user.role,
                            company_id: user.company_id,
                        })),
                        Err(crm_store::StoreError::NotFound) => Ok(None),
                        Err(e) => Err(e),
                    },
                )
                .await?;
            if let (Some(standing), false) = (&found, state.settings.auth_cache_ttl.is_zero()) {
                state
                    .standing
                    .insert(token.user_id.clone(), standing.clone());
            }
            found
        }
    };
    match standing {
        Some(user) if user.can_log_in && user.role == token.role => Ok(Principal {
            subject: Subject::User(token.user_id),
            role: user.role,
            company_id: user.company_id,
            scopes: None,
            rate_limit_per_minute: None,
        }),
        _ => Err(ApiError::Unauthenticated(
            "the token's user is unknown, disabled, or has another role now".into(),
        )),
    }
}

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authenticate(&req).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_round_trip() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", Some(&hash)));
        assert!(!verify_password("wrong", Some(&hash)));
        assert!(!verify_password("anything", None));
    }

    #[test]
    fn tokens_are_random_and_hashes_stable() {
        let a = random_token();
        assert_ne!(a, random_token());
        assert_eq!(a.len(), 43);
        assert_eq!(secret_hash("x"), secret_hash("x"));
        assert_eq!(secret_hash("x").len(), 64);
    }
}
