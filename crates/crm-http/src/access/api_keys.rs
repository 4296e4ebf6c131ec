//! `/v1/api-keys`: keys for integrations, managed by admins.

use actix_web::{delete, get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use crm_domain::access::permissions::{Access, Resource, Scope};
use crm_domain::Violation;
use crm_store::access::api_keys::{self as store, NewApiKey};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::platform::actions::ActionTarget;
use crate::platform::auth::{random_token, secret_hash, Principal, API_KEY_PREFIX};
use crate::platform::error::ApiError;
use crate::platform::extract::{ApiJson, PagedQuery};
use crate::platform::fields::{Checker, SHORT};
use crate::platform::pagination::{fixed_order, respond, ListResponse, PageQuery};
use crate::platform::respond::{created, utc, utc_opt};
use crate::platform::state::AppState;

const SORT: &str = "created_at";

/// An API key, without its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKey {
    /// Server-assigned id (UUIDv7).
    pub id: String,
    /// What the key is for.
    pub name: String,
    /// The first characters of the key, to tell keys apart.
    pub prefix: String,
    /// What the key may do, such as `contacts:read`; `write` includes `read`.
    pub scopes: Vec<String>,
    /// The admin who created it.
    pub created_by: Option<String>,
    /// Last use, to the minute.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked; revoked keys no longer authenticate.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Requests per minute the key may make; `null` takes the server's budget
    /// (`CRM_RATE_LIMIT_PER_MINUTE`). Over it, `429` with `Retry-After`.
    pub rate_limit_per_minute: Option<i64>,
    /// Incremented on every change; the ETag.
    pub version: i64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

impl From<store::ApiKey> for ApiKey {
    fn from(k: store::ApiKey) -> Self {
        ApiKey {
            id: k.id,
            name: k.name,
            prefix: k.prefix,
            scopes: k.scopes.iter().map(ToString::to_string).collect(),
            created_by: k.created_by,
            last_used_at: utc_opt(k.last_used_at),
            revoked_at: utc_opt(k.revoked_at),
            rate_limit_per_minute: k.rate_limit_per_minute,
            version: k.version,
            created_at: utc(k.created_at),
        }
    }
}

/// A new API key, with its secret. The secret is shown only here, once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    /// The key itself: send it as `Authorization: Bearer <key>`. It cannot be shown again.
    pub key: String,
    /// The key's record.
    #[serde(flatten)]
    pub api_key: ApiKey,
}

/// A new API key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Shop sync", "scopes": ["contacts:write", "companies:read"], "rate_limit_per_minute": 600}))]
pub struct ApiKeyCreate {
    /// What the key is for.
    pub name: String,
    /// Scopes such as `contacts:read`, `contacts:write`, `companies:read`, `interactions:write`.
    pub scopes: Vec<String>,
    /// Requests per minute the key may make, counted on each API node; absent or `null` takes
    /// the server's budget (`CRM_RATE_LIMIT_PER_MINUTE`).
    #[schema(minimum = 1)]
    pub rate_limit_per_minute: Option<i64>,
}

/// A key and what is stored of it.
pub struct MintedKey {
    pub key: String,
    pub prefix: String,
    pub hash: String,
    pub scopes: Vec<String>,
}

impl ApiKeyCreate {
    fn checked_name(&self) -> Result<String, ApiError> {
        let mut c = Checker::default();
        let name = c.required("name", &self.name, SHORT);
        if self.rate_limit_per_minute.is_some_and(|limit| limit < 1) {
            c.violations.push(Violation::new(
                "rate_limit_per_minute",
                "must be at least 1; leave it out or send null for the server's budget",
            ));
        }
        c.finish()?;
        Ok(name)
    }
}

impl MintedKey {
    /// What the store keeps of the key: never the key itself.
    fn record<'a>(
        &'a self,
        name: &'a str,
        created_by: Option<&'a str>,
        rate_limit_per_minute: Option<i64>,
    ) -> NewApiKey<'a> {
        NewApiKey {
            name,
            prefix: &self.prefix,
            key_hash: &self.hash,
            scopes: &self.scopes,
            created_by,
            rate_limit_per_minute,
        }
    }
}

/// Makes a new key for the given scopes, checking each. Also used by `crm api-key create`.
pub fn mint(scopes: &[String]) -> Result<MintedKey, ApiError> {
    let mut c = Checker::default();
    let mut parsed: Vec<String> = Vec::new();
    for (i, raw) in scopes.iter().enumerate() {
        match raw.trim().parse::<Scope>() {
            Ok(scope) => {
                let text = scope.to_string();
                if !parsed.contains(&text) {
                    parsed.push(text);
                }
            }
            Err(_) => {
                let allowed: Vec<String> = Scope::all().iter().map(Scope::to_string).collect();
                c.violations.push(Violation::new(
                    format!("scopes[{i}]"),
                    format!("unknown scope; expected one of {}", allowed.join(", ")),
                ));
            }
        }
    }
    if scopes.is_empty() {
        c.violations
            .push(Violation::new("scopes", "give at least one scope"));
    }
    c.finish()?;
    let key = format!("{API_KEY_PREFIX}{}", random_token());
    Ok(MintedKey {
        prefix: key.chars().take(12).collect(),
        hash: secret_hash(&key),
        scopes: parsed,
        key,
    })
}

/// Paging for the API key list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ApiKeyListQuery {
    /// Include revoked keys.
    pub include_revoked: Option<bool>,
}

#[utoipa::path(
    tag = "api-keys",
    operation_id = "listApiKeys",
    summary = "List API keys",
    params(ApiKeyListQuery, PageQuery),
    responses((status = 200, description = "A page of keys, oldest first", body = ListResponse<ApiKey>))
)]
#[get("/api-keys")]
pub async fn list_api_keys(
    state: web::Data<AppState>,
    principal: Principal,
    PagedQuery(query, paging): PagedQuery<ApiKeyListQuery>,
) -> Result<web::Json<ListResponse<ApiKey>>, ApiError> {
    principal.authorize(Resource::ApiKeys, Access::Read)?;
    let page = fixed_order(SORT, &paging)?;
    let include_revoked = query.include_revoked.unwrap_or(false);
    let result = state
        .db
        .read(move |conn| store::list(conn, include_revoked, &page))
        .await?;
    Ok(web::Json(respond(result, SORT, ApiKey::from)))
}

#[utoipa::path(
    tag = "api-keys",
    operation_id = "createApiKey",
    summary = "Create an API key",
    description = "Returns the key once; only its hash is stored.",
    request_body = ApiKeyCreate,
    responses((status = 201, description = "Created; the body holds the key", body = CreatedApiKey,
        headers(("Location" = String, description = "URL of the new key's record"))))
)]
#[post("/api-keys")]
pub async fn create_api_key(
    state: web::Data<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<ApiKeyCreate>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::ApiKeys, Access::Write)?;
    let name = body.checked_name()?;
    let minted = mint(&body.scopes)?;
    let created_by = principal.user_id().map(str::to_owned);
    let rate_limit = body.rate_limit_per_minute;
    let body = state
        .db
        .write(move |conn| {
            let record = store::create(
                conn,
                minted.record(&name, created_by.as_deref(), rate_limit),
            )?;
            Ok(CreatedApiKey {
                key: minted.key,
                api_key: record.into(),
            })
        })
        .await?;
    Ok(created(
        format!("/v1/api-keys/{}", body.api_key.id),
        body.api_key.version,
        &body,
    ))
}

#[utoipa::path(
    tag = "api-keys",
    operation_id = "getApiKey",
    summary = "Get an API key's record",
    params(("id" = String, Path, description = "API key id")),
    responses((status = 200, description = "The key's record, without the key", body = ApiKey,
        headers(("ETag" = String, description = "Its version"))))
)]
#[get("/api-keys/{id}")]
pub async fn get_api_key(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    target
        .respond(Resource::ApiKeys, store::get, |r| r.version, ApiKey::from)
        .await
}

#[utoipa::path(
    tag = "api-keys",
    operation_id = "deleteApiKey",
    summary = "Revoke an API key",
    description = "The key stops authenticating at once; its record stays, with `revoked_at`.",
    params(("id" = String, Path, description = "API key id")),
    responses((status = 204, description = "Revoked"))
)]
#[delete("/api-keys/{id}")]
pub async fn delete_api_key(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    target
        .write_no_content(Resource::ApiKeys, store::revoke)
        .await
}

/// The routes under `/api-keys`.
pub fn routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(list_api_keys)
        .service(create_api_key)
        .service(get_api_key)
        .service(delete_api_key);
}
