//! Cross-cutting request handling: request ids and security headers on every response, rate
//! limits on every `/v1` request, `Idempotency-Key` on every POST, and the request metrics.

use actix_web::body::{self, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage, HttpResponse, ResponseError};
use std::time::Instant;

use chrono::Duration;
use crm_store::platform::idempotency::{self, Claim, StoredResponse};
use sha2::{Digest, Sha256};
use tracing::Instrument;

use crate::platform::auth::authenticate;
use crate::platform::error::ApiError;
use crate::platform::extract::read_body;
use crate::platform::rate_limit::Quota;
use crate::platform::replicas::ReadRoute;
use crate::platform::routing::ServedDocument;
use crate::platform::state::AppState;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// The rate-limit headers of draft-ietf-httpapi-ratelimit-headers, up to its revision 06.
pub const RATE_LIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
pub const RATE_LIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
pub const RATE_LIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");
const IDEMPOTENCY_KEY: &str = "idempotency-key";
const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

fn sane_request_id(value: &HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?;
    let ok = !text.is_empty()
        && text.len() <= 64
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    ok.then(|| text.to_owned())
}

/// Gives every request an id, logs it in a span, and sets the id and security headers on every
/// response.
pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(sane_request_id)
        .unwrap_or_else(crm_store::new_id);
    let is_docs = req.path().starts_with("/docs");
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.path());
    // No record's id holds a NUL, and PostgreSQL refuses one in any text: answer here.
    let nul_in_path = req.path().to_ascii_lowercase().contains("%00");
    let mut response = if nul_in_path {
        req.error_response(ApiError::NotFound).map_into_boxed_body()
    } else {
        next.call(req)
            .instrument(span.clone())
            .await?
            .map_into_boxed_body()
    };
    let status = response.status();
    span.in_scope(|| {
        if status.is_server_error() {
            tracing::error!(status = status.as_u16(), "request failed");
        } else {
            tracing::debug!(status = status.as_u16(), "request done");
        }
    });
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&id) {
        headers.insert(REQUEST_ID, value);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !is_docs {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(response)
}

/// Counts every `/v1` request against its caller's budget for the minute and says where the
/// caller stands in the `RateLimit-*` headers; over the budget the answer is `429` with
/// `Retry-After`, and the request does not run. The caller is the user or API key (the
/// principal that authentication establishes here, once, for the handler too), or the client
/// address when the request carries no valid credential. With `rate_limit_per_minute` at 0
/// nothing is counted and no header is sent.
pub async fn rate_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .filter(|state| state.settings.rate_limit_per_minute > 0)
        .filter(|_| req.path().starts_with("/v1/"))
        .cloned();
    let Some(state) = state else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let (caller, limit) = rate_limited_caller(&req, &state).await;
    let quota = state.rate_limits.hit(&caller, limit, Instant::now());
    let mut response = if quota.allowed {
        next.call(req).await?.map_into_boxed_body()
    } else {
        let refused = ApiError::TooManyRequests {
            detail: format!(
                "this caller has made its {limit} requests of this minute; retry after {} seconds",
                quota.reset_seconds
            ),
            retry_after: quota.reset_seconds,
        };
        req.into_response(refused.error_response())
    };
    set_rate_limit_headers(response.headers_mut(), &quota);
    Ok(response)
}

/// Tells the database layer who asks and whether the request's reads may lag, when the node
/// has read replicas: writes record the caller's WAL position, and reads of lists, analytics,
/// search and the portal may go to a replica that holds it.
pub async fn route_reads(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let has_replicas = req
        .app_data::<web::Data<AppState>>()
        .is_some_and(|state| state.db.has_replicas());
    if !has_replicas {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    }
    let caller = match req.headers().contains_key(header::AUTHORIZATION) {
        true => authenticate(req.request()).await.ok().map(|p| p.key()),
        false => None,
    };
    // Before routing, so the route's template comes from the documented paths: actix's
    // `match_pattern` cannot see into the guarded scopes of the segments yet.
    let may_lag = match req.app_data::<web::Data<ServedDocument>>() {
        Some(document) => ServedDocument::get(document.clone())
            .await
            .is_ok_and(|built| {
                built
                    .known
                    .template(req.method().as_str(), req.path())
                    .is_some_and(|template| ReadRoute::may_lag(req.method(), template))
            }),
        None => false,
    };
    ReadRoute { caller, may_lag }
        .scope(next.call(req))
        .await
        .map(ServiceResponse::map_into_boxed_body)
}

/// Whom a request counts against, and that caller's budget: its API key's own, else the
/// server's.
async fn rate_limited_caller(req: &ServiceRequest, state: &AppState) -> (String, u64) {
    let budget = state.settings.rate_limit_per_minute;
    if req.headers().contains_key(header::AUTHORIZATION) {
        if let Ok(principal) = authenticate(req.request()).await {
            let limit = principal.rate_limit_per_minute.unwrap_or(budget);
            return (principal.key(), limit);
        }
    }
    let address = req
        .peer_addr()
        .map_or_else(|| "unknown".to_owned(), |a| a.ip().to_string());
    (format!("address:{address}"), budget)
}

fn set_rate_limit_headers(headers: &mut header::HeaderMap, quota: &Quota) {
    for (name, value) in [
        (RATE_LIMIT_LIMIT, quota.limit),
        (RATE_LIMIT_REMAINING, quota.remaining),
        (RATE_LIMIT_RESET, quota.reset_seconds),
    ] {
        headers.insert(name, HeaderValue::from(value));
    }
}

/// A claimed key, to be completed with the response.
struct ClaimedKey {
    principal: String,
    key: String,
    state: web::Data<AppState>,
}

enum Admission {
    /// Answer without running the handler: a replay or a problem.
    Answer(HttpResponse),
    Run(ClaimedKey),
}

/// Makes a POST with `Idempotency-Key` run at most once per principal and key: a retry with the
/// same body gets the first response again (with `Idempotent-Replayed: true`), another body
/// gets `422`, and a retry while the first is still running gets `409`.
pub async fn idempotency(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let applies = req.method() == Method::POST
        && req.path().starts_with("/v1/")
        && !req.path().starts_with("/v1/auth/");
    let key = req.headers().get(IDEMPOTENCY_KEY).cloned();
    let (true, Some(key)) = (applies, key) else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let claimed = match admit(&mut req, key).await {
        Ok(Admission::Run(claimed)) => claimed,
        Ok(Admission::Answer(response)) => return Ok(req.into_response(response)),
        Err(error) => return Ok(req.into_response(error.error_response())),
    };
    match next.call(req).await {
        Ok(response) => Ok(record(claimed, response.map_into_boxed_body()).await),
        Err(error) => {
            release(&claimed).await;
            Err(error)
        }
    }
}

async fn admit(req: &mut ServiceRequest, key: HeaderValue) -> Result<Admission, ApiError> {
    let key = key
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= 255)
        .ok_or_else(|| {
            ApiError::validation(
                "Idempotency-Key",
                "must be 1 to 255 visible ASCII characters",
            )
        })?
        .to_owned();
    let principal = authenticate(req.request()).await?.key();
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or(ApiError::Internal)?
        .clone();
    let body = read_body(req.take_payload(), state.settings.body_limit_bytes).await?;
    let mut hasher = Sha256::new();
    hasher.update(req.method().as_str());
    hasher.update(b" ");
    hasher.update(req.uri().to_string());
    hasher.update(b"\n");
    hasher.update(&body);
    let request_hash = hex::encode(hasher.finalize());
    req.set_payload(actix_web::dev::Payload::from(body));
    let ttl = Duration::from_std(state.settings.idempotency_ttl).unwrap_or(Duration::hours(24));
    let claim = {
        let (principal, key) = (principal.clone(), key.clone());
        state
            .db
            .read(move |conn| idempotency::claim(conn, &principal, &key, &request_hash, ttl))
            .await?
    };
    match claim {
        Claim::Mismatch => Err(ApiError::IdempotencyMismatch),
        Claim::InProgress => Err(ApiError::IdempotencyInProgress),
        Claim::Replay(stored) => Ok(Admission::Answer(replay(stored))),
        Claim::Claimed => Ok(Admission::Run(ClaimedKey {
            principal,
            key,
            state,
        })),
    }
}

/// Stores the response for replays (server errors release the key instead, so that a retry
/// runs again) and passes it on.
async fn record(
    claimed: ClaimedKey,
    response: ServiceResponse<BoxBody>,
) -> ServiceResponse<BoxBody> {
    let (http_request, response) = response.into_parts();
    let (head, body) = response.into_parts();
    let bytes = match body::to_bytes(body).await {
        Ok(bytes) => bytes,
        Err(_) => {
            release(&claimed).await;
            return ServiceResponse::new(http_request, ApiError::Internal.error_response());
        }
    };
    if head.status().is_server_error() {
        release(&claimed).await;
    } else {
        let stored = StoredResponse {
            status: head.status().as_u16(),
            headers: [header::CONTENT_TYPE, header::LOCATION, header::ETAG]
                .iter()
                .filter_map(|name| {
                    head.headers()
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(|v| (name.as_str().to_owned(), v.to_owned()))
                })
                .collect(),
            body: bytes.to_vec(),
        };
        let ClaimedKey {
            principal,
            key,
            state,
        } = claimed;
        let saved = state
            .db
            .read(move |conn| idempotency::complete(conn, &principal, &key, &stored))
            .await;
        if let Err(error) = saved {
            tracing::error!(%error, "could not store the idempotent response");
        }
    }
    ServiceResponse::new(http_request, head.set_body(bytes).map_into_boxed_body())
}

async fn release(claimed: &ClaimedKey) {
    let (principal, key) = (claimed.principal.clone(), claimed.key.clone());
    let released = claimed
        .state
        .db
        .read(move |conn| idempotency::release(conn, &principal, &key))
        .await;
    if let Err(error) = released {
        tracing::error!(%error, "could not release an idempotency key");
    }
}

fn replay(stored: StoredResponse) -> HttpResponse {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut response = HttpResponse::build(status);
    for (name, value) in stored.headers {
        response.insert_header((name, value));
    }
    response.insert_header((IDEMPOTENT_REPLAYED, "true"));
    response.body(stored.body)
}

/// A route pattern as the API documents it: `/v1/contacts/{id}`, not the
/// `{id:[0-9a-fA-F-]+}` the router matches with.
fn without_regexes(pattern: &str) -> String {
    pattern
        .split('/')
        .map(
            |segment| match (segment.strip_prefix('{'), segment.split_once(':')) {
                (Some(_), Some((name, _))) => format!("{name}}}"),
                _ => segment.to_owned(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

/// Counts each request under its route pattern (`/v1/contacts/{id}`), never its raw path, so
/// that ids do not explode the label set.
pub async fn record_metrics(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let method = req.method().to_string();
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.metrics.clone());
    let response = next.call(req).await?;
    if let Some(metrics) = metrics {
        let route = response
            .request()
            .match_pattern()
            .map_or_else(|| "unmatched".to_owned(), |p| without_regexes(&p));
        metrics.observe(
            &method,
            &route,
            response.status().as_u16(),
            started.elapsed().as_secs_f64(),
        );
    }
    Ok(response)
}
