//! `/v1/orders`: orders pushed in by shops (idempotent upsert by channel and external id, and
//! bulk import), or converted from quotes.

use actix_web::{get, post, put, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use crm_domain::access::permissions::{Access, Resource};
use crm_domain::marketing::campaigns::Utm;
use crm_domain::platform::custom_fields::CustomObject;
use crm_domain::sales::orders::{OrderAction, OrderStatus};
use crm_domain::sales::totals::require_lines;
use crm_store::parties::customers::CustomerRef;
use crm_store::sales::documents::LineDraft;
use crm_store::sales::orders::{self as store, Imported, OrderFilter, OrderInput, Upserted};
use crm_store::sales::related as expanded;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};

use crate::parties::views::{listing, Asked, ListSearch};
use crate::platform::actions::{ActionResponses, ActionTarget, StateRecord};
use crate::platform::auth::Principal;
use crate::platform::error::{ApiError, Problem};
use crate::platform::extract::{parse_json, read_body, ApiJson, ApiQuery, IfMatch, PagedQuery};
use crate::platform::fields::{Checker, SHORT};
use crate::platform::money::Money;
use crate::platform::pagination::{ListResponse, PageQuery};
use crate::platform::respond::{utc, versioned};
use crate::platform::shape::{ReadQuery, Shape};
use crate::platform::state::AppState;
use crate::sales::documents::{
    lines_output, margin_output, totals_output, LineOutput, MarginOutput, TotalsOutput,
};
use crate::sales::related::{embed_of, names, shaped, Kind, Relation};

const MAX_IMPORT: usize = 1000;

/// What `expand=` embeds, besides `lines.product`.
const RELATIONS: &[Relation] = &[
    Relation {
        name: "company",
        kind: Kind::Company,
        via: "company_id",
    },
    Relation {
        name: "contact",
        kind: Kind::Contact,
        via: "contact_id",
    },
    Relation {
        name: "salesperson",
        kind: Kind::User,
        via: "salesperson_id",
    },
];

/// The keys of an order, which `fields=` may name.
const KEYS: &[&str] = &[
    "id",
    "channel",
    "external_id",
    "contact_id",
    "company_id",
    "quote_id",
    "currency",
    "status",
    "ordered_at",
    "salesperson_id",
    "campaign_id",
    "connection_id",
    "shop_number",
    "prices_include_tax",
    "lines",
    "totals",
    "margin",
    "version",
    "created_at",
    "updated_at",
    "custom_fields",
];

/// An order.
#[derive(Debug, Serialize, ToSchema)]
pub struct Order {
    /// Server-assigned id (UUIDv7).
    pub id: String,
    /// Where it came from: a shop's name, `web`, `phone`, or `quote`.
    pub channel: String,
    /// The order's id in its channel; unique with the channel.
    pub external_id: String,
    /// The customer contact, matched by email or created.
    pub contact_id: Option<String>,
    /// The customer company.
    pub company_id: Option<String>,
    /// The quote it came from.
    pub quote_id: Option<String>,
    /// ISO 4217 currency of every amount.
    pub currency: String,
    /// pending, paid, fulfilled or cancelled.
    pub status: OrderStatus,
    /// When the customer ordered.
    pub ordered_at: DateTime<Utc>,
    /// The salesperson credited.
    pub salesperson_id: Option<String>,
    /// The campaign credited.
    pub campaign_id: Option<String>,
    /// The UTM parameters the shop sent.
    pub utm: Option<Utm>,
    /// The shop connection that pushed it, for orders received by shop webhook.
    pub connection_id: Option<String>,
    /// The number the shop shows its customer, such as `#1001`.
    pub shop_number: Option<String>,
    /// Whether the shop's prices included tax. The amounts are net of tax either way, so the
    /// total is subtotal − discount + tax in both cases.
    pub prices_include_tax: bool,
    /// The lines, with the prices and costs of the time of sale.
    pub lines: Vec<LineOutput>,
    /// Totals, computed with the documented rounding rule.
    pub totals: TotalsOutput,
    /// Cost and margin (staff only).
    pub margin: MarginOutput,
    /// Incremented on every change; the ETag.
    pub version: i64,
    /// When it was first received.
    pub created_at: DateTime<Utc>,
    /// When it last changed; an identical push leaves it alone.
    pub updated_at: DateTime<Utc>,
    /// Values of the fields admins added (`GET /v1/schema/orders`), by key.
    #[schema(value_type = Object)]
    pub custom_fields: Map<String, Value>,
}

impl StateRecord for Order {
    const NOUN: &'static str = "order";
}

impl From<store::Order> for Order {
    fn from(o: store::Order) -> Self {
        let currency = o.currency.clone();
        let mut lines = lines_output(&o.lines, &o.totals, &currency);
        for (line, id) in lines.iter_mut().zip(&o.line_ids) {
            line.id = Some(id.clone());
        }
        Order {
            lines,
            totals: totals_output(&o.totals, &currency),
            margin: margin_output(&o.totals, o.cost_minor, &currency),
            id: o.id,
            channel: o.channel,
            external_id: o.external_id,
            contact_id: o.contact_id,
            company_id: o.company_id,
            quote_id: o.quote_id,
            currency,
            status: o.status,
            ordered_at: utc(o.ordered_at),
            salesperson_id: o.salesperson_id,
            campaign_id: o.campaign_id,
            utm: o.utm,
            connection_id: o.origin.connection_id,
            shop_number: o.origin.shop_number,
            prices_include_tax: o.prices_include_tax,
            version: o.version,
            created_at: utc(o.created_at),
            updated_at: utc(o.updated_at),
            custom_fields: o.custom_fields,
        }
    }
}

/// The customer who ordered: matched to a contact by email, or created.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderCustomer {
    /// Email; the key the customer is matched by.
    pub email: String,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Phone in any common format.
    pub phone: Option<String>,
    /// The company of that exact name is linked, or created.
    pub company_name: Option<String>,
}

/// An order line as a shop sends it: a product by `sku` or `product_id`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderLinePayload {
    /// The product's SKU.
    pub sku: Option<String>,
    /// The product's id.
    pub product_id: Option<String>,
    /// Defaults to the product's name.
    pub description: Option<String>,
    /// A decimal string with at most 3 decimals.
    pub quantity: String,
    /// The price charged per unit.
    pub unit_price: Money,
    /// The cost per unit at the time of sale; defaults to the product's cost.
    pub unit_cost: Option<Money>,
    /// Discount in basis points; default 0.
    pub discount_bp: Option<i64>,
    /// Tax rate in basis points; defaults to the product's.
    pub tax_rate_bp: Option<i64>,
}

/// An order as a shop pushes it, for the upsert and the import.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"channel": "shop-es", "external_id": "100234", "ordered_at": "2026-03-01T10:00:00Z",
    "currency": "EUR", "status": "paid",
    "customer": {"email": "ana@example.com", "first_name": "Ana", "last_name": "García", "phone": "+34600123456", "company_name": "Optional SL"},
    "lines": [{"sku": "W-1", "quantity": "2", "unit_price": {"amount_minor": 1000, "currency": "EUR"}, "unit_cost": {"amount_minor": 600, "currency": "EUR"}, "discount_bp": 0, "tax_rate_bp": 2100}],
    "salesperson_id": null, "campaign_id": null}))]
pub struct OrderPayload {
    /// The shop or channel; for the upsert, it must match the path when given.
    pub channel: Option<String>,
    /// The order's id in the channel; for the upsert, it must match the path when given.
    pub external_id: Option<String>,
    /// When the customer ordered.
    pub ordered_at: DateTime<Utc>,
    /// ISO 4217 currency of every amount.
    pub currency: String,
    /// Default `pending` for a new order; the shop is trusted as the source of truth.
    pub status: Option<OrderStatus>,
    /// The customer.
    pub customer: Option<OrderCustomer>,
    /// Links an existing company instead of `customer.company_name`.
    pub company_id: Option<String>,
    /// At least one line.
    pub lines: Vec<OrderLinePayload>,
    /// The salesperson credited.
    pub salesperson_id: Option<String>,
    /// The campaign credited (unknown: `422`). Without it, a `utm.campaign` equal to a
    /// campaign's code, case ignored, credits that campaign.
    pub campaign_id: Option<String>,
    /// The UTM parameters of the visit that ordered.
    // Absent from the payload's digest when not sent, so that the digests of orders pushed
    // before UTM existed stay the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm: Option<Utm>,
    /// Values of custom fields (`GET /v1/schema/orders`), by key, merged into the stored ones:
    /// `null` clears a field. A new order must have the required ones; defaults fill the rest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub custom_fields: Option<Value>,
}

fn payload_hash(payload: &OrderPayload) -> String {
    hex::encode(Sha256::digest(
        serde_json::to_vec(payload).unwrap_or_default(),
    ))
}

/// Checks a payload for the order (`channel`, `external_id`).
fn order_input(
    state: &AppState,
    payload: OrderPayload,
    channel: String,
    external_id: String,
) -> Result<OrderInput, ApiError> {
    let mut c = Checker::default();
    let hash = payload_hash(&payload);
    let channel = c.required("channel", &channel, 64);
    let external_id = c.required("external_id", &external_id, 200);
    let currency = c.currency("currency", &payload.currency);
    let ordered_at = c.instant("ordered_at", Some(payload.ordered_at));
    let region = state.settings.default_phone_region;
    let customer = payload.customer.map(|cu| CustomerRef {
        email: c.email("customer.email", Some(&cu.email)),
        first_name: c.optional("customer.first_name", cu.first_name.as_deref(), SHORT),
        last_name: c.optional("customer.last_name", cu.last_name.as_deref(), SHORT),
        phone: c.phone("customer.phone", cu.phone.as_deref(), region),
        company_name: c.optional("customer.company_name", cu.company_name.as_deref(), SHORT),
    });
    if let Err(violation) = require_lines("order", payload.lines.len()) {
        c.violations.push(violation);
    }
    if payload.lines.len() > 500 {
        c.violations
            .push(crm_domain::Violation::new("lines", "at most 500 lines"));
    }
    let mut lines = Vec::with_capacity(payload.lines.len());
    for (i, line) in payload.lines.into_iter().enumerate() {
        let f = |name: &str| format!("lines[{i}].{name}");
        if line.sku.is_none() && line.product_id.is_none() {
            c.violations.push(crm_domain::Violation::new(
                f("sku"),
                "name the product by sku or product_id",
            ));
        }
        let quantity = c.quantity(&f("quantity"), &line.quantity);
        let price = c.money(&f("unit_price"), &line.unit_price, currency.as_deref());
        let cost = line
            .unit_cost
            .as_ref()
            .and_then(|m| c.money(&f("unit_cost"), m, currency.as_deref()));
        let discount = c.discount_bp(&f("discount_bp"), line.discount_bp.unwrap_or(0));
        let tax = line
            .tax_rate_bp
            .and_then(|bp| c.tax_rate_bp(&f("tax_rate_bp"), bp));
        let description = c.optional(&f("description"), line.description.as_deref(), SHORT);
        if let (Some(quantity), Some(price), Some(discount)) = (quantity, price, discount) {
            lines.push(LineDraft {
                product_id: line.product_id,
                sku: line.sku,
                description,
                quantity,
                unit_price_minor: Some(price),
                unit_cost_minor: cost,
                discount_bp: discount,
                tax_rate_bp: tax,
                ..LineDraft::new(quantity)
            });
        }
    }
    let campaign_id = c.optional("campaign_id", payload.campaign_id.as_deref(), 200);
    if let Some(utm) = &payload.utm {
        let parts = [
            ("utm.source", &utm.source),
            ("utm.medium", &utm.medium),
            ("utm.campaign", &utm.campaign),
            ("utm.term", &utm.term),
            ("utm.content", &utm.content),
        ];
        for (field, value) in parts {
            c.optional(field, value.as_deref(), SHORT);
        }
    }
    c.finish()?;
    Ok(OrderInput {
        channel,
        external_id,
        ordered_at: ordered_at.unwrap_or_default(),
        currency: currency.unwrap_or_default(),
        status: payload.status,
        customer,
        company_id: payload.company_id,
        lines,
        salesperson_id: payload.salesperson_id,
        campaign_id,
        utm: payload.utm,
        payload_hash: hash,
        prices_include_tax: false,
        origin: store::ShopOrigin::default(),
        custom_written: payload.custom_fields,
    })
}

#[utoipa::path(tag = "orders", operation_id = "upsertOrder", summary = "Create or update an order by its external id",
    description = "Idempotent: `201` when the order is new, `200` when it changed, `200` with nothing written when the payload is identical (`updated_at` unchanged). The customer is matched by email to a contact (or created) and becomes `lifecycle_stage=customer`. Concurrent pushes of one order never create two.",
    params(("channel" = String, Path, description = "The shop or channel"), ("external_id" = String, Path, description = "The order's id in the channel")),
    request_body = OrderPayload,
    responses(
        (status = 201, description = "Created", body = Order, headers(("Location" = String, description = "URL of the order"), ("ETag" = String, description = "Its version"))),
        (status = 200, description = "Updated, or unchanged", body = Order, headers(("ETag" = String, description = "Its version")))))]
#[put("/orders/by-external-id/{channel}/{external_id}")]
pub async fn upsert_order(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(String, String)>,
    if_match: IfMatch,
    ApiJson(payload): ApiJson<OrderPayload>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Orders, Access::Write)?;
    let (channel, external_id) = path.into_inner();
    let input = payload.into_upsert(&state, channel, external_id)?;
    let outcome = state
        .db
        .write(move |conn| store::upsert(conn, input, if_match.0))
        .await?;
    Ok(match outcome {
        Upserted::Created(order) => crate::platform::respond::created(
            format!("/v1/orders/{}", order.id),
            order.version,
            &Order::from(order),
        ),
        Upserted::Updated(order) | Upserted::Unchanged(order) => {
            versioned(order.version, &Order::from(order))
        }
    })
}

impl OrderPayload {
    /// Checks a payload pushed to the path of (`channel`, `external_id`), which the body may
    /// repeat but not contradict.
    fn into_upsert(
        self,
        state: &AppState,
        channel: String,
        external_id: String,
    ) -> Result<OrderInput, ApiError> {
        if self.channel.as_ref().is_some_and(|c| *c != channel)
            || self.external_id.as_ref().is_some_and(|e| *e != external_id)
        {
            return Err(ApiError::validation(
                "channel",
                "the body's channel and external_id must match the path",
            ));
        }
        order_input(state, self, channel, external_id)
    }
}

/// The outcome of one order of an import.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportResult {
    /// The order's channel, as sent.
    pub channel: Option<String>,
    /// The order's external id, as sent.
    pub external_id: Option<String>,
    /// `created`, `updated`, `unchanged` or `error`.
    #[schema(example = "created")]
    pub status: String,
    /// The order's id, unless `error`.
    pub id: Option<String>,
    /// Why the order was refused, for `error`.
    pub problem: Option<Problem>,
}

/// One result per order, in input order.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportResponse {
    /// In the order of the input.
    pub results: Vec<ImportResult>,
}

/// One order of an import, named by the `channel` and `external_id` it was sent with, before
/// it is known to be a valid order.
struct ImportItem {
    channel: Option<String>,
    external_id: Option<String>,
    item: serde_json::Value,
}

impl ImportItem {
    fn new(item: serde_json::Value) -> Self {
        let text = |name: &str| item.get(name).and_then(|v| v.as_str()).map(str::to_owned);
        ImportItem {
            channel: text("channel"),
            external_id: text("external_id"),
            item,
        }
    }

    /// Checks the item into an order; an error becomes this item's result alone.
    fn order_input(&self, state: &AppState) -> Result<OrderInput, ApiError> {
        let payload: OrderPayload = if self.item.is_object() {
            parse_json(self.item.to_string().as_bytes())?
        } else {
            return Err(ApiError::MalformedRequest(
                "each order must be a JSON object".into(),
            ));
        };
        match (self.channel.clone(), self.external_id.clone()) {
            (Some(channel), Some(external_id)) => order_input(state, payload, channel, external_id),
            _ => Err(ApiError::validation(
                "external_id",
                "each imported order needs channel and external_id",
            )),
        }
    }

    fn failed(self, error: &ApiError) -> ImportResult {
        ImportResult {
            channel: self.channel,
            external_id: self.external_id,
            status: "error".into(),
            id: None,
            problem: Some(error.problem()),
        }
    }

    fn result(self, outcome: Result<Upserted, ApiError>) -> ImportResult {
        let (status, order) = match outcome {
            Ok(Upserted::Created(o)) => ("created", o),
            Ok(Upserted::Updated(o)) => ("updated", o),
            Ok(Upserted::Unchanged(o)) => ("unchanged", o),
            Err(error) => return self.failed(&error),
        };
        ImportResult {
            channel: self.channel,
            external_id: self.external_id,
            status: status.into(),
            id: Some(order.id),
            problem: None,
        }
    }
}

/// The orders of an import body: a JSON array, or NDJSON (a line that is not JSON becomes
/// `null`, refused as that order's result).
fn import_items(req: &HttpRequest, bytes: &[u8]) -> Result<Vec<ImportItem>, ApiError> {
    let ndjson = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.starts_with("application/x-ndjson") || v.starts_with("application/ndjson")
        });
    let items: Vec<serde_json::Value> = if ndjson {
        bytes
            .split(|b| *b == b'\n')
            .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
            .map(|line| serde_json::from_slice(line).unwrap_or(serde_json::Value::Null))
            .collect()
    } else {
        parse_json(bytes)?
    };
    if items.len() > MAX_IMPORT {
        return Err(ApiError::validation(
            "body",
            format!("at most {MAX_IMPORT} orders per import"),
        ));
    }
    Ok(items.into_iter().map(ImportItem::new).collect())
}

#[utoipa::path(tag = "orders", operation_id = "importOrders", summary = "Import orders in bulk",
    description = "Up to 1,000 orders as a JSON array (`application/json`) or one per line (`application/x-ndjson`), each with its `channel` and `external_id`. Each order is upserted on its own, atomically: a bad order gets an `error` result with a problem and never blocks or half-writes the others. A request none of whose orders is valid is refused whole: a `422` naming each order's problems as `[i].field`.",
    request_body(content = Vec<OrderPayload>, description = "A JSON array of orders, or NDJSON", content_type = "application/json",
        example = json!([{"channel": "shop-es", "external_id": "100234", "ordered_at": "2026-03-01T10:00:00Z", "currency": "EUR",
            "customer": {"email": "ana@example.com"},
            "lines": [{"sku": "W-1", "quantity": "2", "unit_price": {"amount_minor": 1000, "currency": "EUR"}, "tax_rate_bp": 2100}]}])),
    responses((status = 200, description = "One result per order, in input order", body = ImportResponse),
        (status = 422, description = "No order of the request is valid", body = Problem, content_type = "application/problem+json")))]
#[post("/orders/import")]
pub async fn import_orders(
    req: HttpRequest,
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Payload,
) -> Result<web::Json<ImportResponse>, ApiError> {
    principal.authorize(Resource::Orders, Access::Write)?;
    let limit = state.settings.body_limit_bytes.saturating_mul(16);
    let bytes = read_body(body.into_inner(), limit).await?;
    let results = import_in_chunks(&state, import_items(&req, &bytes)?).await?;
    Ok(web::Json(ImportResponse { results }))
}

/// A request none of whose orders is valid is refused whole, there being nothing to import: a
/// `422` naming each order's problems as `[i].field`.
fn refused_whole(refused: Vec<(usize, ApiError)>) -> ApiError {
    let mut violations = crm_domain::Violations::default();
    for (at, error) in refused {
        match error {
            ApiError::Validation(found) => {
                for v in found.0 {
                    violations.push(crm_domain::Violation::new(
                        format!("[{at}].{}", v.field),
                        v.message,
                    ));
                }
            }
            other => violations.push(crm_domain::Violation::new(
                format!("[{at}]"),
                other.to_string(),
            )),
        }
    }
    ApiError::Validation(violations)
}

/// Orders an import writes per transaction.
const IMPORT_CHUNK: usize = 500;

/// Upserts the valid items a chunk per transaction, each order in a savepoint so that a failing
/// one never undoes the others; an order that lost a lock race with a concurrent write is
/// pushed again on its own after its chunk. Results in input order.
async fn import_in_chunks(
    state: &AppState,
    items: Vec<ImportItem>,
) -> Result<Vec<ImportResult>, ApiError> {
    let mut results: Vec<Option<ImportResult>> = Vec::with_capacity(items.len());
    let mut pending: Vec<Option<ImportItem>> = Vec::with_capacity(items.len());
    let mut valid: Vec<(usize, OrderInput)> = Vec::new();
    let mut refused: Vec<(usize, ApiError)> = Vec::new();
    for (at, item) in items.into_iter().enumerate() {
        match item.order_input(state) {
            Ok(input) => {
                valid.push((at, input));
                results.push(None);
                pending.push(Some(item));
            }
            Err(error) => {
                results.push(Some(item.failed(&error)));
                pending.push(None);
                refused.push((at, error));
            }
        }
    }
    if valid.is_empty() && !refused.is_empty() {
        return Err(refused_whole(refused));
    }
    while !valid.is_empty() {
        let rest = valid.split_off(valid.len().min(IMPORT_CHUNK));
        let (places, inputs): (Vec<usize>, Vec<OrderInput>) =
            std::mem::replace(&mut valid, rest).into_iter().unzip();
        let chunk = state
            .db
            .write(move |conn| store::import_chunk(conn, inputs))
            .await;
        let imported = match chunk {
            Ok(imported) => imported,
            // The chunk's transaction failed as a whole: each of its orders says why.
            Err(error) => {
                for at in places {
                    results[at] = pending[at].take().map(|item| item.failed(&error));
                }
                continue;
            }
        };
        for (at, imported) in places.into_iter().zip(imported) {
            let outcome = match imported {
                Imported::Done(done) => done.map_err(ApiError::from),
                Imported::Retry(input) => {
                    state
                        .db
                        .write(move |conn| store::upsert(conn, input, None))
                        .await
                }
            };
            results[at] = pending[at].take().map(|item| item.result(outcome));
        }
    }
    results
        .into_iter()
        .map(|result| result.ok_or(ApiError::Internal))
        .collect()
}

/// Filters and paging for the order list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderListQuery {
    /// Only orders of this contact.
    pub contact_id: Option<String>,
    /// Only orders of this company.
    pub company_id: Option<String>,
    /// Only orders in this status.
    pub status: Option<OrderStatus>,
    /// Only orders of this channel.
    pub channel: Option<String>,
    /// Ordered at or after this instant (RFC 3339).
    pub ordered_from: Option<DateTime<Utc>>,
    /// Ordered before this instant (RFC 3339).
    pub ordered_to: Option<DateTime<Utc>>,
    /// Only orders credited to this salesperson.
    pub salesperson_id: Option<String>,
    /// Up to 3 sortable paths (`GET /v1/schema/orders`), such as `ordered_at`,
    /// `total.amount_minor` or a custom field, comma-separated; prefix `-` for descending; nulls
    /// last. Default `-ordered_at`.
    pub sort: Option<String>,
    /// A condition in the filter language (see the API description), ANDed with the other
    /// parameters: `and(status.in.(paid,fulfilled),total.amount_minor.gte.10000)`.
    pub filter: Option<String>,
    /// A saved view (`/v1/views`) of orders to apply.
    pub view: Option<String>,
    /// Only these keys (and `id`), comma-separated; `custom.<key>` for custom fields.
    pub fields: Option<String>,
    /// Related records to embed: `company`, `contact`, `salesperson`, `lines.product`.
    pub expand: Option<String>,
}

#[utoipa::path(tag = "orders", operation_id = "listOrders", summary = "List orders",
    params(OrderListQuery, PageQuery),
    responses((status = 200, description = "A page of orders", body = ListResponse<Order>)))]
#[get("/orders")]
pub async fn list_orders(
    state: web::Data<AppState>,
    principal: Principal,
    PagedQuery(query, paging): PagedQuery<OrderListQuery>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Orders, Access::Read)?;
    list(&state, &principal, query, paging).await
}

#[utoipa::path(tag = "orders", operation_id = "searchOrders", summary = "Search orders",
    description = "The list with its filter, sort, fields and expansions in a body, for filters too long for a URL; answers as `GET /v1/orders`.",
    request_body = ListSearch,
    responses((status = 200, description = "A page of orders", body = ListResponse<Order>)))]
#[post("/orders/search")]
pub async fn search_orders(
    state: web::Data<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<ListSearch>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Orders, Access::Read)?;
    let (query, paging) = body.into_query()?;
    list(&state, &principal, query, paging).await
}

async fn list(
    state: &AppState,
    principal: &Principal,
    query: OrderListQuery,
    paging: PageQuery,
) -> Result<HttpResponse, ApiError> {
    let listing = listing(
        state,
        principal,
        CustomObject::Orders,
        Asked {
            view: query.view,
            filter: query.filter,
            sort: query.sort,
            fields: query.fields,
            expand: query.expand,
            paging,
        },
        "-ordered_at",
        KEYS,
        &names(RELATIONS, true),
    )
    .await?;
    let embed = embed_of(principal, &listing.shape, RELATIONS)?;
    let mut c = Checker::default();
    let filter = OrderFilter {
        contact_id: query.contact_id,
        company_id: query.company_id,
        status: query.status,
        channel: query.channel,
        ordered_from: c.instant("ordered_from", query.ordered_from),
        ordered_to: c.instant("ordered_to", query.ordered_to),
        salesperson_id: query.salesperson_id,
    };
    c.finish()?;
    let request = listing.query.clone();
    let (orders, embedded) = state
        .db
        .read(move |conn| expanded::list_expanded(conn, &filter, &request, embed, store::list))
        .await?;
    Ok(listing.respond(orders, |order| {
        shaped(Order::from(order), &listing.shape, RELATIONS, &embedded)
    }))
}

#[utoipa::path(tag = "orders", operation_id = "getOrder", summary = "Get an order",
    params(("id" = String, Path, description = "Order id"), ReadQuery),
    responses((status = 200, description = "The order", body = Order, headers(("ETag" = String, description = "Its version")))))]
#[get("/orders/{id:[0-9a-fA-F-]+}")]
pub async fn get_order(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    ApiQuery(query): ApiQuery<ReadQuery>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Orders, Access::Read)?;
    let shape = Shape::parse(
        query.fields.as_deref(),
        query.expand.as_deref(),
        KEYS,
        &names(RELATIONS, true),
    )?;
    let embed = embed_of(&principal, &shape, RELATIONS)?;
    let (order, embedded) = state
        .db
        .read_one(move |conn| expanded::get_expanded(conn, &id, embed, store::get))
        .await?;
    Ok(versioned(
        order.version,
        &shaped(Order::from(order), &shape, RELATIONS, &embedded),
    ))
}

async fn act(target: ActionTarget, action: OrderAction) -> Result<HttpResponse, ApiError> {
    let order = target
        .write(Resource::Orders, move |conn, id, version| {
            store::act(conn, id, version, action)
        })
        .await?;
    Ok(versioned(order.version, &Order::from(order)))
}

#[utoipa::path(tag = "orders", operation_id = "payOrder", summary = "Mark an order paid",
    description = "pending → paid.",
    params(("id" = String, Path, description = "Order id")),
    responses(ActionResponses<Order>))]
#[post("/orders/{id}/pay")]
pub async fn pay_order(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    act(target, OrderAction::Pay).await
}

#[utoipa::path(tag = "orders", operation_id = "fulfilOrder", summary = "Mark an order fulfilled",
    description = "pending or paid → fulfilled.",
    params(("id" = String, Path, description = "Order id")),
    responses(ActionResponses<Order>))]
#[post("/orders/{id}/fulfil")]
pub async fn fulfil_order(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    act(target, OrderAction::Fulfil).await
}

#[utoipa::path(tag = "orders", operation_id = "cancelOrder", summary = "Cancel an order",
    description = "pending or paid → cancelled.",
    params(("id" = String, Path, description = "Order id")),
    responses(ActionResponses<Order>))]
#[post("/orders/{id}/cancel")]
pub async fn cancel_order(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    act(target, OrderAction::Cancel).await
}

/// The routes under `/orders`.
pub fn routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(upsert_order)
        .service(import_orders)
        .service(list_orders)
        .service(search_orders)
        .service(get_order)
        .service(pay_order)
        .service(fulfil_order)
        .service(cancel_order);
}
