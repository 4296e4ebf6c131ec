//! `/v1/webhook-endpoints`: receivers of events, signed with Standard Webhooks.

use actix_web::{delete, get, patch, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use crm_domain::access::permissions::{Access, Resource};
use crm_domain::events::addresses::{check_address, check_url, TargetPolicy};
use crm_domain::events::catalogue::EventPattern;
use crm_domain::events::delivery::{DeliveryStatus, DisabledReason};
use crm_domain::events::signing::WebhookSecret;
use crm_store::events::deliveries as deliveries_store;
use crm_store::events::endpoints::{self as store, EndpointFields};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::platform::actions::ActionTarget;
use crate::platform::auth::Principal;
use crate::platform::error::ApiError;
use crate::platform::extract::{ApiJson, ApiQuery};
use crate::platform::fields::{patch, Checker, SHORT};
use crate::platform::pagination::{
    fixed_order, read_oldest_first, read_page, ListResponse, PageQuery,
};
use crate::platform::respond::{created, utc, utc_opt, versioned};
use crate::platform::state::AppState;

/// A receiver of events.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEndpoint {
    /// Server-assigned id (UUIDv7).
    pub id: String,
    /// Where events are POSTed.
    pub url: String,
    /// What the endpoint is for.
    pub description: Option<String>,
    /// The types it receives: exact types, `<resource>.*` or `*`.
    pub event_types: Vec<String>,
    /// Whether it receives events now.
    pub enabled: bool,
    /// `enabled` or `disabled`.
    #[schema(example = "enabled")]
    pub status: String,
    /// Why it is disabled; null while enabled.
    pub disabled_reason: Option<DisabledReason>,
    /// Incremented on every change; the ETag.
    pub version: i64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<store::Endpoint> for WebhookEndpoint {
    fn from(e: store::Endpoint) -> Self {
        WebhookEndpoint {
            id: e.id,
            url: e.fields.url,
            description: e.fields.description,
            event_types: e.fields.event_types.iter().map(|p| p.to_text()).collect(),
            enabled: e.enabled,
            status: if e.enabled { "enabled" } else { "disabled" }.to_owned(),
            disabled_reason: e.disabled_reason,
            version: e.version,
            created_at: utc(e.created_at),
            updated_at: utc(e.updated_at),
        }
    }
}

/// An endpoint with its signing secret, shown only when it is created or rotated.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEndpointWithSecret {
    #[serde(flatten)]
    pub endpoint: WebhookEndpoint,
    /// `whsec_` and the base64 of 32 random bytes: the Standard Webhooks signing key. Keep it;
    /// it is not shown again.
    pub secret: String,
}

/// A new receiver.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"url": "https://erp.example.com/crm-events", "event_types": ["order.*", "invoice.paid"], "description": "ERP sync"}))]
pub struct WebhookEndpointCreate {
    /// `https` URL of the receiver; public addresses only, unless the operator allows more.
    pub url: String,
    /// Exact types, `<resource>.*` or `*`; at least one.
    pub event_types: Vec<String>,
    /// What the endpoint is for.
    pub description: Option<String>,
    /// Default true.
    pub enabled: Option<bool>,
}

/// Changes to an endpoint, as a JSON Merge Patch.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookEndpointUpdate {
    /// `https` URL of the receiver.
    #[serde(default, deserialize_with = "patch")]
    pub url: Option<Option<String>>,
    /// Exact types, `<resource>.*` or `*`; at least one.
    #[serde(default, deserialize_with = "patch")]
    pub event_types: Option<Option<Vec<String>>>,
    /// What the endpoint is for.
    #[serde(default, deserialize_with = "patch")]
    pub description: Option<Option<String>>,
}

fn patterns(c: &mut Checker, types: &[String]) -> Vec<EventPattern> {
    if types.is_empty() {
        c.violations.push(crm_domain::Violation::new(
            "event_types",
            "needs at least one type",
        ));
    }
    types
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            c.violations
                .check(EventPattern::parse(t, &format!("event_types[{i}]")))
        })
        .collect()
}

/// Checks the URL against the policy, and every address its name resolves to now; the address
/// dialled is checked again at each delivery.
async fn checked_url(url: &str, policy: &TargetPolicy) -> Result<String, ApiError> {
    let target = check_url(url, policy)?;
    let port = target.url.port_or_known_default().unwrap_or(443);
    if let Ok(addresses) = tokio::net::lookup_host((target.host.as_str(), port)).await {
        for address in addresses {
            check_address(&target.host, address.ip(), policy)
                .map_err(|refusal| ApiError::validation("url", refusal.reason()))?;
        }
    }
    Ok(target.url.to_string())
}

impl WebhookEndpointUpdate {
    fn apply(
        self,
        f: &mut EndpointFields,
        checked_url: Option<String>,
    ) -> Result<(), crm_domain::Violations> {
        let mut c = Checker::default();
        if let Some(url) = checked_url {
            f.url = url;
        } else if matches!(self.url, Some(None)) {
            c.not_null("url");
        }
        match self.event_types {
            Some(Some(types)) => f.event_types = patterns(&mut c, &types),
            Some(None) => c.not_null("event_types"),
            None => {}
        }
        if let Some(v) = self.description {
            f.description = c.optional("description", v.as_deref(), SHORT);
        }
        c.finish()
    }
}

fn new_secret() -> String {
    let mut bytes = [0_u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    WebhookSecret::from_bytes(bytes).to_text()
}

#[utoipa::path(tag = "webhooks", operation_id = "createWebhookEndpoint", summary = "Subscribe a webhook endpoint",
    description = "Answers the endpoint with its signing `secret`, which is not shown again. Loopback, private, link-local and metadata addresses are refused (`422`), and so is `http`, unless the operator allows them.",
    request_body = WebhookEndpointCreate,
    responses((status = 201, description = "Created", body = WebhookEndpointWithSecret, headers(("Location" = String, description = "URL of the endpoint"), ("ETag" = String, description = "Its version")))))]
#[post("/webhook-endpoints")]
pub async fn create_webhook_endpoint(
    state: web::Data<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<WebhookEndpointCreate>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Webhooks, Access::Write)?;
    let url = checked_url(&body.url, &state.settings.webhooks.policy).await?;
    let mut fields = EndpointFields {
        url,
        description: None,
        event_types: vec![],
    };
    WebhookEndpointUpdate {
        event_types: Some(Some(body.event_types)),
        description: Some(body.description),
        url: None,
    }
    .apply(&mut fields, None)?;
    let (enabled, secret) = (body.enabled.unwrap_or(true), new_secret());
    let shown = secret.clone();
    let endpoint = state
        .db
        .write(move |conn| store::create(conn, fields, enabled, &secret))
        .await?;
    let location = format!("/v1/webhook-endpoints/{}", endpoint.id);
    let version = endpoint.version;
    Ok(created(
        location,
        version,
        &WebhookEndpointWithSecret {
            endpoint: endpoint.into(),
            secret: shown,
        },
    ))
}

#[utoipa::path(tag = "webhooks", operation_id = "listWebhookEndpoints", summary = "List webhook endpoints",
    params(PageQuery),
    responses((status = 200, description = "A page of endpoints, oldest first", body = ListResponse<WebhookEndpoint>)))]
#[get("/webhook-endpoints")]
pub async fn list_webhook_endpoints(
    state: web::Data<AppState>,
    principal: Principal,
    ApiQuery(paging): ApiQuery<PageQuery>,
) -> Result<web::Json<ListResponse<WebhookEndpoint>>, ApiError> {
    principal.authorize(Resource::Webhooks, Access::Read)?;
    read_oldest_first(&state, store::list, (), paging, WebhookEndpoint::from).await
}

#[utoipa::path(tag = "webhooks", operation_id = "getWebhookEndpoint", summary = "Get a webhook endpoint",
    params(("id" = String, Path, description = "Endpoint id")),
    responses((status = 200, description = "The endpoint, without its secret", body = WebhookEndpoint, headers(("ETag" = String, description = "Its version")))))]
#[get("/webhook-endpoints/{id}")]
pub async fn get_webhook_endpoint(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    target
        .respond(
            Resource::Webhooks,
            store::get,
            |r| r.version,
            WebhookEndpoint::from,
        )
        .await
}

#[utoipa::path(tag = "webhooks", operation_id = "updateWebhookEndpoint", summary = "Update a webhook endpoint",
    params(("id" = String, Path, description = "Endpoint id")),
    request_body(content = WebhookEndpointUpdate, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The updated endpoint", body = WebhookEndpoint, headers(("ETag" = String, description = "Its new version")))))]
#[patch("/webhook-endpoints/{id}")]
pub async fn update_webhook_endpoint(
    target: ActionTarget,
    ApiJson(body): ApiJson<WebhookEndpointUpdate>,
) -> Result<HttpResponse, ApiError> {
    let url = match body.url.as_ref() {
        Some(Some(url)) => Some(checked_url(url, &target.state.settings.webhooks.policy).await?),
        _ => None,
    };
    let endpoint = target
        .write(Resource::Webhooks, move |conn, id, version| {
            store::update(conn, id, version, |fields| Ok(body.apply(fields, url)?))
        })
        .await?;
    Ok(versioned(
        endpoint.version,
        &WebhookEndpoint::from(endpoint),
    ))
}

#[utoipa::path(tag = "webhooks", operation_id = "deleteWebhookEndpoint", summary = "Delete a webhook endpoint",
    description = "Deletes the endpoint with its deliveries; nothing more is sent to it.",
    params(("id" = String, Path, description = "Endpoint id")),
    responses((status = 204, description = "Deleted")))]
#[delete("/webhook-endpoints/{id}")]
pub async fn delete_webhook_endpoint(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    target
        .write_no_content(Resource::Webhooks, store::delete)
        .await
}

/// How long the old secret keeps signing.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateSecret {
    /// Seconds during which deliveries carry a signature by each secret; default 86400, at
    /// most 604800 (a week).
    #[schema(minimum = 0, maximum = 604800)]
    pub overlap_seconds: Option<i64>,
}

#[utoipa::path(tag = "webhooks", operation_id = "rotateWebhookSecret", summary = "Rotate a webhook endpoint's secret",
    params(("id" = String, Path, description = "Endpoint id")),
    request_body = RotateSecret,
    responses((status = 200, description = "The endpoint with its new secret, shown once", body = WebhookEndpointWithSecret)))]
#[post("/webhook-endpoints/{id}/rotate-secret")]
pub async fn rotate_webhook_secret(
    target: ActionTarget,
    ApiJson(body): ApiJson<RotateSecret>,
) -> Result<HttpResponse, ApiError> {
    let overlap = body.overlap_seconds.unwrap_or(86_400);
    if !(0..=604_800).contains(&overlap) {
        return Err(ApiError::validation(
            "overlap_seconds",
            "must be from 0 to 604800",
        ));
    }
    let secret = new_secret();
    let shown = secret.clone();
    let endpoint = target
        .write(Resource::Webhooks, move |conn, id, version| {
            store::rotate_secret(
                conn,
                id,
                version,
                &secret,
                chrono::Duration::seconds(overlap),
            )
        })
        .await?;
    Ok(versioned(
        endpoint.version,
        &WebhookEndpointWithSecret {
            endpoint: endpoint.into(),
            secret: shown,
        },
    ))
}

#[utoipa::path(tag = "webhooks", operation_id = "enableWebhookEndpoint", summary = "Enable a webhook endpoint",
    description = "The endpoint receives the events committed from now on.",
    params(("id" = String, Path, description = "Endpoint id")),
    responses((status = 200, description = "The endpoint", body = WebhookEndpoint)))]
#[post("/webhook-endpoints/{id}/enable")]
pub async fn enable_webhook_endpoint(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    let endpoint = target
        .write(Resource::Webhooks, |conn, id, version| {
            store::set_enabled(conn, id, version, true, DisabledReason::ByUser)
        })
        .await?;
    Ok(versioned(
        endpoint.version,
        &WebhookEndpoint::from(endpoint),
    ))
}

#[utoipa::path(tag = "webhooks", operation_id = "disableWebhookEndpoint", summary = "Disable a webhook endpoint",
    params(("id" = String, Path, description = "Endpoint id")),
    responses((status = 200, description = "The endpoint", body = WebhookEndpoint)))]
#[post("/webhook-endpoints/{id}/disable")]
pub async fn disable_webhook_endpoint(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    let endpoint = target
        .write(Resource::Webhooks, |conn, id, version| {
            store::set_enabled(conn, id, version, false, DisabledReason::ByUser)
        })
        .await?;
    Ok(versioned(
        endpoint.version,
        &WebhookEndpoint::from(endpoint),
    ))
}

/// The event a test sends.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestSent {
    /// The `webhook_endpoint.test` event, delivered to this endpoint only.
    pub event_id: String,
}

#[utoipa::path(tag = "webhooks", operation_id = "testWebhookEndpoint", summary = "Send a test event",
    params(("id" = String, Path, description = "Endpoint id")),
    responses((status = 202, description = "Queued", body = TestSent)))]
#[post("/webhook-endpoints/{id}/test")]
pub async fn test_webhook_endpoint(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    let event_id = target
        .write(Resource::Webhooks, |conn, id, _| {
            deliveries_store::send_test(conn, id)
        })
        .await?;
    Ok(HttpResponse::Accepted().json(TestSent { event_id }))
}

/// One try at the receiver.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookAttempt {
    /// When it was made.
    pub attempted_at: DateTime<Utc>,
    /// The receiver's status; null when none came (refused address, timeout, connection error).
    pub status_code: Option<i32>,
    /// How long the receiver took.
    pub latency_ms: i64,
    /// What went wrong, when no status came or it was not 2xx.
    pub error: Option<String>,
    /// The start of the receiver's answer, at most 1 KiB.
    pub response_snippet: Option<String>,
}

/// One event's delivery to the endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookDelivery {
    /// Delivery id.
    pub id: String,
    /// The event; its id is the `webhook-id` header of every attempt.
    pub event_id: String,
    /// The event's type; null once retention removed the event.
    #[schema(schema_with = crate::events::events::optional_event_type_schema)]
    pub event_type: Option<crm_domain::events::catalogue::EventType>,
    /// `pending`, `succeeded` or `failed`.
    pub status: DeliveryStatus,
    /// When the next attempt is due; null unless pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Every attempt, oldest first.
    pub attempts: Vec<WebhookAttempt>,
    /// When the delivery was queued.
    pub created_at: DateTime<Utc>,
}

impl From<deliveries_store::Delivery> for WebhookDelivery {
    fn from(d: deliveries_store::Delivery) -> Self {
        WebhookDelivery {
            id: d.id,
            event_id: d.event_id,
            event_type: d.event_type,
            status: d.status,
            next_attempt_at: utc_opt(d.next_attempt_at),
            attempts: d
                .attempts
                .into_iter()
                .map(|a| WebhookAttempt {
                    attempted_at: utc(a.attempted_at),
                    status_code: a.status_code,
                    latency_ms: a.latency_ms,
                    error: a.error,
                    response_snippet: a.response_snippet,
                })
                .collect(),
            created_at: utc(d.created_at),
        }
    }
}

#[utoipa::path(tag = "webhooks", operation_id = "listWebhookDeliveries", summary = "List an endpoint's deliveries",
    params(("id" = String, Path, description = "Endpoint id"), PageQuery),
    responses((status = 200, description = "A page of deliveries, newest first", body = ListResponse<WebhookDelivery>)))]
#[get("/webhook-endpoints/{id}/deliveries")]
pub async fn list_webhook_deliveries(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    ApiQuery(paging): ApiQuery<PageQuery>,
) -> Result<web::Json<ListResponse<WebhookDelivery>>, ApiError> {
    principal.authorize(Resource::Webhooks, Access::Read)?;
    let page = fixed_order("-created_at", &paging)?;
    let list = |conn: &mut _, id: &String, page: &_| deliveries_store::list(conn, id, page);
    read_page(
        &state,
        list,
        id.into_inner(),
        page,
        "-created_at",
        WebhookDelivery::from,
    )
    .await
}

/// Paths of one delivery; the endpoint's `id` is the action's target.
#[derive(Debug, Deserialize)]
pub struct DeliveryPath {
    delivery_id: String,
}

#[utoipa::path(tag = "webhooks", operation_id = "replayWebhookDelivery", summary = "Send one delivery again",
    params(("id" = String, Path, description = "Endpoint id"), ("delivery_id" = String, Path, description = "Delivery id")),
    responses((status = 202, description = "Queued with a fresh set of retries")))]
#[post("/webhook-endpoints/{id}/deliveries/{delivery_id}/replay")]
pub async fn replay_webhook_delivery(
    target: ActionTarget,
    path: web::Path<DeliveryPath>,
) -> Result<HttpResponse, ApiError> {
    let delivery_id = path.into_inner().delivery_id;
    target
        .write(Resource::Webhooks, move |conn, id, version| {
            deliveries_store::replay(conn, id, version, &delivery_id)
        })
        .await?;
    Ok(HttpResponse::Accepted().finish())
}

/// A time range of events to send again.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayRange {
    /// From this time.
    pub since: DateTime<Utc>,
    /// Up to this time; default now.
    pub until: Option<DateTime<Utc>>,
}

/// How many events a range replay queued.
#[derive(Debug, Serialize, ToSchema)]
pub struct Replayed {
    /// Deliveries queued, at most 10,000 per request.
    pub replayed: usize,
}

#[utoipa::path(tag = "webhooks", operation_id = "replayWebhookEvents", summary = "Send a range of events again",
    params(("id" = String, Path, description = "Endpoint id")),
    request_body = ReplayRange,
    responses((status = 202, description = "Queued", body = Replayed)))]
#[post("/webhook-endpoints/{id}/replay")]
pub async fn replay_webhook_events(
    target: ActionTarget,
    ApiJson(body): ApiJson<ReplayRange>,
) -> Result<HttpResponse, ApiError> {
    let until = body.until.map_or_else(crm_store::now, |u| u.naive_utc());
    let since = body.since.naive_utc();
    if until < since {
        return Err(ApiError::validation("until", "must not be before since"));
    }
    let replayed = target
        .write(Resource::Webhooks, move |conn, id, version| {
            deliveries_store::replay_range(conn, id, version, since, until)
        })
        .await?;
    Ok(HttpResponse::Accepted().json(Replayed { replayed }))
}

/// The routes under `/webhook-endpoints`.
pub fn routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(list_webhook_endpoints)
        .service(create_webhook_endpoint)
        .service(get_webhook_endpoint)
        .service(update_webhook_endpoint)
        .service(delete_webhook_endpoint)
        .service(rotate_webhook_secret)
        .service(enable_webhook_endpoint)
        .service(disable_webhook_endpoint)
        .service(test_webhook_endpoint)
        .service(list_webhook_deliveries)
        .service(replay_webhook_delivery)
        .service(replay_webhook_events);
}
