//! `/v1/integrations/connections`: which shops may push orders, and what their webhooks did.

use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use crm_domain::access::permissions::{Access, Resource};
use crm_domain::integrations::{check_secret, IngestionStatus, Platform};
use crm_store::integrations::connections::{self as store, ConnectionFields};
use crm_store::integrations::ingestions;
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
use crate::platform::respond::{created, utc, versioned};
use crate::platform::state::AppState;

/// A shop connected by its webhooks.
#[derive(Debug, Serialize, ToSchema)]
pub struct Connection {
    /// Server-assigned id (UUIDv7).
    pub id: String,
    /// `shopify` or `woocommerce`.
    pub platform: Platform,
    /// What the connection is called.
    pub name: String,
    /// The channel of the orders it stores: orders are upserted by this channel and the shop's
    /// order id. Unique; fixed once created.
    pub channel: String,
    /// Shopify: the `*.myshopify.com` domain that `X-Shopify-Shop-Domain` must name.
    pub shop_domain: Option<String>,
    /// WooCommerce: the site that `X-WC-Webhook-Source` must name.
    pub site_url: Option<String>,
    /// Whether prices include tax when a payload does not say.
    pub prices_include_tax: bool,
    /// The tax rate of a tax line whose rate is neither stated nor exactly inferable.
    pub default_tax_rate_bp: i64,
    /// Whether the shop's test orders are stored; by default they are logged `ignored`.
    pub accept_test_orders: bool,
    /// Whether its webhooks are applied; a disabled connection logs them `ignored`.
    pub enabled: bool,
    /// The address to register in the shop's webhook settings.
    pub webhook_url: String,
    /// Incremented on every change; the ETag.
    pub version: i64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// This server's address as the caller reached it, to which the webhook paths are added.
fn base_url(request: &HttpRequest) -> String {
    let info = request.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}

fn dto(base: &str, c: store::Connection) -> Connection {
    Connection {
        webhook_url: format!(
            "{base}/v1/integrations/{}/{}/webhooks",
            c.platform.as_str(),
            c.id
        ),
        id: c.id,
        platform: c.platform,
        name: c.fields.name,
        channel: c.channel,
        shop_domain: c.fields.shop_domain,
        site_url: c.fields.site_url,
        prices_include_tax: c.fields.prices_include_tax,
        default_tax_rate_bp: c.fields.default_tax_rate_bp,
        accept_test_orders: c.fields.accept_test_orders,
        enabled: c.fields.enabled,
        version: c.version,
        created_at: utc(c.created_at),
        updated_at: utc(c.updated_at),
    }
}

/// A new connection.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"platform": "shopify", "name": "Spanish store", "channel": "shopify-es",
    "secret": "the app's API secret key", "shop_domain": "tienda.myshopify.com", "prices_include_tax": true, "default_tax_rate_bp": 2100}))]
pub struct ConnectionCreate {
    /// `shopify` or `woocommerce`.
    pub platform: Platform,
    /// What the connection is called.
    pub name: String,
    /// The channel of its orders; unique.
    pub channel: String,
    /// The key the shop signs its webhooks with (Shopify: the app's API secret key;
    /// WooCommerce: the webhook's secret). Write-only.
    pub secret: String,
    /// Shopify, required: the `*.myshopify.com` domain.
    pub shop_domain: Option<String>,
    /// WooCommerce, required: the site's URL.
    pub site_url: Option<String>,
    /// Default false.
    pub prices_include_tax: Option<bool>,
    /// Default 0.
    pub default_tax_rate_bp: Option<i64>,
    /// Default false.
    pub accept_test_orders: Option<bool>,
    /// Default true.
    pub enabled: Option<bool>,
}

/// Changes to a connection, as a JSON Merge Patch.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionUpdate {
    /// What the connection is called.
    #[serde(default, deserialize_with = "patch")]
    pub name: Option<Option<String>>,
    /// A new signing key; write-only.
    #[serde(default, deserialize_with = "patch")]
    pub secret: Option<Option<String>>,
    /// Shopify: the `*.myshopify.com` domain.
    #[serde(default, deserialize_with = "patch")]
    pub shop_domain: Option<Option<String>>,
    /// WooCommerce: the site's URL.
    #[serde(default, deserialize_with = "patch")]
    pub site_url: Option<Option<String>>,
    /// Whether prices include tax when a payload does not say.
    #[serde(default, deserialize_with = "patch")]
    pub prices_include_tax: Option<Option<bool>>,
    /// The rate of a tax line whose rate is not known.
    #[serde(default, deserialize_with = "patch")]
    pub default_tax_rate_bp: Option<Option<i64>>,
    /// Whether test orders are stored.
    #[serde(default, deserialize_with = "patch")]
    pub accept_test_orders: Option<Option<bool>>,
    /// Whether its webhooks are applied.
    #[serde(default, deserialize_with = "patch")]
    pub enabled: Option<Option<bool>>,
}

fn checked_secret(c: &mut Checker, secret: &str) -> Option<String> {
    c.violations
        .check(check_secret(secret))
        .map(|()| secret.to_owned())
}

impl ConnectionUpdate {
    fn apply(
        self,
        platform: Platform,
        f: &mut ConnectionFields,
    ) -> Result<(), crm_domain::Violations> {
        let mut c = Checker::default();
        match self.name {
            Some(Some(name)) => f.name = c.required("name", &name, SHORT),
            Some(None) => c.not_null("name"),
            None => {}
        }
        if let Some(domain) = self.shop_domain {
            f.shop_domain = c
                .optional("shop_domain", domain.as_deref(), SHORT)
                .map(|d| d.to_ascii_lowercase());
        }
        if let Some(site) = self.site_url {
            f.site_url = c.optional("site_url", site.as_deref(), SHORT);
        }
        let flag =
            |c: &mut Checker, name: &str, value: Option<Option<bool>>, into: &mut bool| match value
            {
                Some(Some(v)) => *into = v,
                Some(None) => c.not_null(name),
                None => {}
            };
        flag(
            &mut c,
            "prices_include_tax",
            self.prices_include_tax,
            &mut f.prices_include_tax,
        );
        flag(
            &mut c,
            "accept_test_orders",
            self.accept_test_orders,
            &mut f.accept_test_orders,
        );
        flag(&mut c, "enabled", self.enabled, &mut f.enabled);
        match self.default_tax_rate_bp {
            Some(Some(bp)) => {
                if let Some(bp) = c.tax_rate_bp("default_tax_rate_bp", bp) {
                    f.default_tax_rate_bp = bp;
                }
            }
            Some(None) => c.not_null("default_tax_rate_bp"),
            None => {}
        }
        match platform {
            Platform::Shopify if f.shop_domain.is_none() => c.violations.push(
                crm_domain::Violation::new("shop_domain", "is required for a Shopify store"),
            ),
            Platform::WooCommerce if f.site_url.is_none() => c.violations.push(
                crm_domain::Violation::new("site_url", "is required for a WooCommerce store"),
            ),
            _ => {}
        }
        c.finish()
    }
}

#[utoipa::path(tag = "integrations", operation_id = "createConnection", summary = "Connect a shop",
    description = "Admins only. Answers the connection with its `webhook_url`, to register in the shop for the order topics (Shopify: `orders/create`, `orders/updated`, `orders/cancelled`, `refunds/create`; WooCommerce: `order.created`, `order.updated`). The `secret` is never shown again.",
    request_body = ConnectionCreate,
    responses((status = 201, description = "Created", body = Connection, headers(("Location" = String, description = "URL of the connection"), ("ETag" = String, description = "Its version")))))]
#[post("/integrations/connections")]
pub async fn create_connection(
    state: web::Data<AppState>,
    principal: Principal,
    request: HttpRequest,
    ApiJson(body): ApiJson<ConnectionCreate>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Integrations, Access::Write)?;
    let mut c = Checker::default();
    let channel = c.required("channel", &body.channel, 64);
    let secret = checked_secret(&mut c, &body.secret);
    let mut fields = ConnectionFields {
        name: String::new(),
        shop_domain: None,
        site_url: None,
        prices_include_tax: false,
        default_tax_rate_bp: 0,
        accept_test_orders: false,
        enabled: true,
    };
    let applied = ConnectionUpdate {
        name: Some(Some(body.name)),
        secret: None,
        shop_domain: Some(body.shop_domain),
        site_url: Some(body.site_url),
        prices_include_tax: body.prices_include_tax.map(Some),
        default_tax_rate_bp: body.default_tax_rate_bp.map(Some),
        accept_test_orders: body.accept_test_orders.map(Some),
        enabled: body.enabled.map(Some),
    }
    .apply(body.platform, &mut fields);
    if let Err(violations) = applied {
        c.violations.0.extend(violations.0);
    }
    c.finish()?;
    let platform = body.platform;
    let connection = state
        .db
        .write(move |conn| {
            store::create(conn, platform, channel, secret.unwrap_or_default(), fields)
        })
        .await?;
    let location = format!("/v1/integrations/connections/{}", connection.id);
    let version = connection.version;
    Ok(created(
        location,
        version,
        &dto(&base_url(&request), connection),
    ))
}

#[utoipa::path(tag = "integrations", operation_id = "listConnections", summary = "List shop connections",
    params(PageQuery),
    responses((status = 200, description = "A page of connections, oldest first", body = ListResponse<Connection>)))]
#[get("/integrations/connections")]
pub async fn list_connections(
    state: web::Data<AppState>,
    principal: Principal,
    request: HttpRequest,
    ApiQuery(paging): ApiQuery<PageQuery>,
) -> Result<web::Json<ListResponse<Connection>>, ApiError> {
    principal.authorize(Resource::Integrations, Access::Read)?;
    let base = base_url(&request);
    read_oldest_first(&state, store::list, (), paging, |c| dto(&base, c)).await
}

#[utoipa::path(tag = "integrations", operation_id = "getConnection", summary = "Get a shop connection",
    params(("id" = String, Path, description = "Connection id")),
    responses((status = 200, description = "The connection, without its secret", body = Connection, headers(("ETag" = String, description = "Its version")))))]
#[get("/integrations/connections/{id}")]
pub async fn get_connection(
    state: web::Data<AppState>,
    principal: Principal,
    request: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Integrations, Access::Read)?;
    let connection = state.db.read(move |conn| store::get(conn, &id)).await?;
    Ok(versioned(
        connection.version,
        &dto(&base_url(&request), connection),
    ))
}

#[utoipa::path(tag = "integrations", operation_id = "updateConnection", summary = "Update a shop connection",
    params(("id" = String, Path, description = "Connection id")),
    request_body(content = ConnectionUpdate, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The updated connection", body = Connection, headers(("ETag" = String, description = "Its new version")))))]
#[patch("/integrations/connections/{id}")]
pub async fn update_connection(
    target: ActionTarget,
    request: HttpRequest,
    ApiJson(body): ApiJson<ConnectionUpdate>,
) -> Result<HttpResponse, ApiError> {
    let mut c = Checker::default();
    let secret = match &body.secret {
        Some(Some(secret)) => checked_secret(&mut c, secret),
        Some(None) => {
            c.not_null("secret");
            None
        }
        None => None,
    };
    c.finish()?;
    let connection = target
        .write(Resource::Integrations, move |conn, id, version| {
            store::update(conn, id, version, secret, |platform, fields| {
                Ok(body.apply(*platform, fields)?)
            })
        })
        .await?;
    Ok(versioned(
        connection.version,
        &dto(&base_url(&request), connection),
    ))
}

#[utoipa::path(tag = "integrations", operation_id = "deleteConnection", summary = "Delete a shop connection",
    description = "Its webhooks are refused (`401`) from now on; the orders it stored stay.",
    params(("id" = String, Path, description = "Connection id")),
    responses((status = 204, description = "Deleted")))]
#[delete("/integrations/connections/{id}")]
pub async fn delete_connection(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    target
        .write_no_content(Resource::Integrations, store::delete)
        .await
}

/// What one webhook did.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ingestion {
    /// Server-assigned id (UUIDv7).
    pub id: String,
    /// The shop's id of the delivery (`X-Shopify-Webhook-Id`, `X-WC-Webhook-Delivery-ID`).
    pub webhook_id: String,
    /// The shop's topic, such as `orders/create` or `order.updated`.
    pub topic: String,
    /// `applied`, `unchanged`, `duplicate` (the id was taken before), `stale` (older than the
    /// stored order), `ignored` or `rejected`.
    pub status: IngestionStatus,
    /// The order it concerned.
    pub order_id: Option<String>,
    /// SKUs of lines that name no product; their lines are kept.
    pub unknown_skus: Vec<String>,
    /// Why it was rejected or ignored, or what was odd (`amount_mismatch`).
    pub problem: Option<String>,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
}

impl From<ingestions::Ingestion> for Ingestion {
    fn from(i: ingestions::Ingestion) -> Self {
        Ingestion {
            id: i.id,
            webhook_id: i.webhook_id,
            topic: i.topic,
            status: i.outcome.status,
            order_id: i.outcome.order_id,
            unknown_skus: i.outcome.unknown_skus,
            problem: i.outcome.problem,
            received_at: utc(i.received_at),
        }
    }
}

#[utoipa::path(tag = "integrations", operation_id = "listIngestions", summary = "List what a connection's webhooks did",
    params(("id" = String, Path, description = "Connection id"), PageQuery),
    responses((status = 200, description = "A page of webhooks, newest first", body = ListResponse<Ingestion>)))]
#[get("/integrations/connections/{id}/ingestions")]
pub async fn list_ingestions(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    ApiQuery(paging): ApiQuery<PageQuery>,
) -> Result<web::Json<ListResponse<Ingestion>>, ApiError> {
    principal.authorize(Resource::Integrations, Access::Read)?;
    let page = fixed_order("-received_at", &paging)?;
    read_page(
        &state,
        |conn, id: &String, page| ingestions::list(conn, id, page),
        id.into_inner(),
        page,
        "-received_at",
        Ingestion::from,
    )
    .await
}

/// The routes under `/integrations`.
pub fn routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(list_connections)
        .service(create_connection)
        .service(get_connection)
        .service(update_connection)
        .service(delete_connection)
        .service(list_ingestions);
}
