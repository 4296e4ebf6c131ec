//! The shops' webhooks: `POST /v1/integrations/{shopify,woocommerce}/{connection_id}/webhooks`.
//! The signature is the credential: it is checked on the raw body before anything is read, and
//! a webhook that fails it stores nothing.

use actix_web::{post, web, HttpRequest, HttpResponse};
use crm_domain::integrations::signature::verify_hmac_sha256_base64;
use crm_domain::integrations::{
    same_origin, shopify, woocommerce, IgnoredReason, Mapped, MappingError, Platform,
};
use crm_domain::Violation;
use crm_store::integrations::connections::{self, Connection};
use crm_store::integrations::ingest::{self, Work};
use crm_store::integrations::ingestions::{Outcome, Received};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::platform::error::ApiError;
use crate::platform::state::AppState;

/// What the webhook did; the same is in the connection's ingestion log.
#[derive(Debug, Serialize, ToSchema)]
pub struct IngestionResult {
    /// `applied`, `unchanged`, `duplicate`, `stale` or `ignored`; a `ping` is answered and not
    /// logged.
    #[schema(example = "applied")]
    pub status: String,
    /// The order it concerned.
    pub order_id: Option<String>,
    /// SKUs of lines that name no product; their lines are kept.
    pub unknown_skus: Vec<String>,
    /// Why it was ignored, or what was odd about it.
    pub problem: Option<String>,
}

impl From<Outcome> for IngestionResult {
    fn from(o: Outcome) -> Self {
        IngestionResult {
            status: o.status.as_str().to_owned(),
            order_id: o.order_id,
            unknown_skus: o.unknown_skus,
            problem: o.problem,
        }
    }
}

/// The headers one platform signs and names its deliveries with.
struct Headers {
    platform: Platform,
    signature: &'static str,
    topic: &'static str,
    webhook_id: &'static str,
    origin: &'static str,
}

const SHOPIFY: Headers = Headers {
    platform: Platform::Shopify,
    signature: "X-Shopify-Hmac-Sha256",
    topic: "X-Shopify-Topic",
    webhook_id: "X-Shopify-Webhook-Id",
    origin: "X-Shopify-Shop-Domain",
};

const WOOCOMMERCE: Headers = Headers {
    platform: Platform::WooCommerce,
    signature: "X-WC-Webhook-Signature",
    topic: "X-WC-Webhook-Topic",
    webhook_id: "X-WC-Webhook-Delivery-ID",
    origin: "X-WC-Webhook-Source",
};

fn header<'a>(request: &'a HttpRequest, name: &str) -> Option<&'a str> {
    request
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The one answer to every credential failure, so that it tells nothing about which part
/// failed or whether the connection exists.
fn refused() -> ApiError {
    ApiError::Unauthenticated(
        "the webhook's signature does not verify with this connection's secret".into(),
    )
}

/// The connection, when the body is signed with its secret and comes from its shop.
async fn authenticate(
    state: &AppState,
    headers: &Headers,
    connection_id: String,
    request: &HttpRequest,
    body: &web::Bytes,
) -> Result<Connection, ApiError> {
    let found = state
        .db
        .read(move |conn| connections::with_secret(conn, &connection_id))
        .await;
    let (connection, secret) = match found {
        Ok(found) => found,
        Err(ApiError::NotFound) => return Err(refused()),
        Err(error) => return Err(error),
    };
    let signed = header(request, headers.signature)
        .is_some_and(|signature| verify_hmac_sha256_base64(secret.as_bytes(), body, signature));
    let expected_origin = match connection.platform {
        Platform::Shopify => connection.fields.shop_domain.as_deref(),
        Platform::WooCommerce => connection.fields.site_url.as_deref(),
    };
    let from_its_shop = match (header(request, headers.origin), expected_origin) {
        (Some(stated), Some(expected)) => same_origin(stated, expected),
        _ => false,
    };
    if connection.platform != headers.platform || !signed || !from_its_shop {
        return Err(refused());
    }
    Ok(connection)
}

/// Reads the body as the topic says; a malformed one is the `Err` to log as rejected.
fn work_of(connection: &Connection, topic: &str, body: &[u8]) -> Result<Work, MappingError> {
    let order_topic = match connection.platform {
        Platform::Shopify => matches!(
            topic,
            "orders/create" | "orders/updated" | "orders/cancelled"
        ),
        Platform::WooCommerce => matches!(topic, "order.created" | "order.updated"),
    };
    let refund_topic = connection.platform == Platform::Shopify && topic == "refunds/create";
    if !order_topic && !refund_topic {
        return Ok(Work::Ignored(IgnoredReason::UnknownTopic));
    }
    let payload: Value = serde_json::from_slice(body)
        .map_err(|error| MappingError::new("body", format!("is not JSON: {error}")))?;
    if refund_topic {
        return Ok(Work::ShopifyRefund(payload));
    }
    let mapped = match connection.platform {
        Platform::Shopify => shopify::map_order(&payload, &connection.settings())?,
        Platform::WooCommerce => woocommerce::map_order(&payload, &connection.settings())?,
    };
    Ok(match mapped {
        Mapped::Order(order) => Work::Order(order),
        Mapped::Ignored(reason) => Work::Ignored(reason),
    })
}

async fn reject(
    state: &AppState,
    received: Received,
    error: ApiError,
) -> Result<HttpResponse, ApiError> {
    let problem = error.to_string();
    state
        .db
        .write(move |conn| ingest::reject(conn, &received, problem))
        .await?;
    Err(error)
}

async fn receive(
    state: web::Data<AppState>,
    headers: &Headers,
    connection_id: String,
    request: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let connection = authenticate(&state, headers, connection_id, &request, &body).await?;
    let (Some(webhook_id), Some(topic)) = (
        header(&request, headers.webhook_id),
        header(&request, headers.topic),
    ) else {
        return Err(ApiError::validation(
            headers.webhook_id,
            format!(
                "the {} and {} headers are required",
                headers.webhook_id, headers.topic
            ),
        ));
    };
    let received = Received {
        connection_id: connection.id.clone(),
        webhook_id: webhook_id.chars().take(200).collect(),
        topic: topic.chars().take(100).collect(),
    };
    let work = match work_of(&connection, topic, &body) {
        Ok(work) => work,
        Err(error) => {
            return reject(
                &state,
                received,
                ApiError::Validation(Violation::from(error).into()),
            )
            .await
        }
    };
    let logged = received.clone();
    match state
        .db
        .write(move |conn| ingest::ingest(conn, &connection, &logged, work))
        .await
    {
        Ok(outcome) => Ok(HttpResponse::Ok().json(IngestionResult::from(outcome))),
        Err(
            error @ (ApiError::Validation(_)
            | ApiError::Conflict { .. }
            | ApiError::IllegalTransition(_)),
        ) => reject(&state, received, error).await,
        Err(error) => Err(error),
    }
}

#[utoipa::path(tag = "integrations", operation_id = "receiveShopifyWebhook", summary = "Receive a Shopify webhook",
    description = "Called by Shopify, not by API clients: authenticated by `X-Shopify-Hmac-Sha256` (base64 HMAC-SHA256 of the raw body with the connection's secret) and `X-Shopify-Shop-Domain`. Topics `orders/create`, `orders/updated`, `orders/cancelled` upsert the order; `refunds/create` records a return; others are `ignored`. A webhook id is applied once. `401` when the signature or shop does not match; `422`, logged `rejected`, when a signed payload is malformed or its figures do not add up.",
    params(("connection_id" = String, Path, description = "Connection id"),
        ("X-Shopify-Hmac-Sha256" = String, Header, description = "Signature of the raw body"),
        ("X-Shopify-Topic" = String, Header, description = "The topic"),
        ("X-Shopify-Webhook-Id" = String, Header, description = "The delivery's id, the same on Shopify's retries"),
        ("X-Shopify-Shop-Domain" = String, Header, description = "The shop")),
    request_body(content = Object, description = "Shopify's payload for the topic, as sent"),
    security(()),
    responses((status = 200, description = "Applied, or answered without change", body = IngestionResult)))]
#[post("/integrations/shopify/{connection_id}/webhooks")]
pub async fn receive_shopify_webhook(
    state: web::Data<AppState>,
    connection_id: web::Path<String>,
    request: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    receive(state, &SHOPIFY, connection_id.into_inner(), request, body).await
}

#[utoipa::path(tag = "integrations", operation_id = "receiveWooCommerceWebhook", summary = "Receive a WooCommerce webhook",
    description = "Called by WooCommerce, not by API clients: authenticated by `X-WC-Webhook-Signature` (base64 HMAC-SHA256 of the raw body with the webhook's secret) and `X-WC-Webhook-Source`. Topics `order.created` and `order.updated` upsert the order (refunds in it become returns); others are `ignored`. The unsigned ping a new webhook sends (`webhook_id=<n>`) is answered `ping` and stores nothing.",
    params(("connection_id" = String, Path, description = "Connection id"),
        ("X-WC-Webhook-Signature" = String, Header, description = "Signature of the raw body"),
        ("X-WC-Webhook-Topic" = String, Header, description = "The topic"),
        ("X-WC-Webhook-Delivery-ID" = String, Header, description = "The delivery's id"),
        ("X-WC-Webhook-Source" = String, Header, description = "The site")),
    request_body(content = Object, description = "WooCommerce's payload for the topic, as sent"),
    security(()),
    responses((status = 200, description = "Applied, or answered without change", body = IngestionResult)))]
#[post("/integrations/woocommerce/{connection_id}/webhooks")]
pub async fn receive_woocommerce_webhook(
    state: web::Data<AppState>,
    connection_id: web::Path<String>,
    request: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    if header(&request, WOOCOMMERCE.signature).is_none() && woocommerce::is_ping(&body) {
        return Ok(HttpResponse::Ok().json(IngestionResult {
            status: "ping".into(),
            order_id: None,
            unknown_skus: Vec::new(),
            problem: None,
        }));
    }
    receive(
        state,
        &WOOCOMMERCE,
        connection_id.into_inner(),
        request,
        body,
    )
    .await
}

/// The routes under `/integrations`.
pub fn routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(receive_shopify_webhook)
        .service(receive_woocommerce_webhook);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crm_domain::integrations::IngestionStatus;

    #[test]
    fn statuses_of_the_answer_are_the_logs() {
        let outcome = Outcome::of(IngestionStatus::Stale);
        assert_eq!(IngestionResult::from(outcome).status, "stale");
    }
}
