//! `/v1/portal`: what a customer user sees of its own company: invoices, orders, quotes and
//! returns, read-only but for answering a quote and opening a return, and its fiscal data.
//! The schemas here carry no cost or margin figure; another company's records answer `404`.

use actix_web::{get, patch, post, web, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use crm_domain::access::permissions::{Access, Reach, Resource};
use crm_domain::billing::returns::{ReasonCode, Resolution, ReturnStatus};
use crm_domain::sales::orders::OrderStatus;
use crm_domain::sales::quotes::{QuoteAction, QuoteStatus};
use crm_domain::sales::totals::Totals;
use crm_domain::Violations;
use crm_store::billing::returns::ReturnRequest;
use crm_store::parties::companies::CompanyFields;
use crm_store::sales::documents::Line;
use crm_store::sales::orders;
use crm_store::sales::related::{self, Embed};
use crm_store::StoreError;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::billing::invoices::Invoice;
use crate::billing::returns::{return_request, ReturnLineCreate};
use crate::platform::address::apply_address;
use crate::platform::address::BillingAddress;
use crate::platform::address::BillingAddressUpdate;
use crate::platform::auth::Principal;
use crate::platform::clock::service_now;
use crate::platform::error::{ApiError, Problem};
use crate::platform::extract::{ApiJson, ApiQuery, IfMatch, PagedQuery};
use crate::platform::fields::{patch, Checker, SHORT};
use crate::platform::money::Money;
use crate::platform::pagination::{
    fixed_order, list_query, next_cursor, respond, ListResponse, PageQuery,
};
use crate::platform::respond::{created, utc, utc_opt, versioned};
use crate::platform::state::AppState;
use crate::sales::documents::{embed_products, expands_products};
use crate::sales::documents::{lines_output, totals_output, TotalsOutput};

const SORT: &str = "-created_at";

/// The caller's company, if the caller is a portal user allowed `access`.
pub(crate) fn own_company(principal: &Principal, access: Access) -> Result<String, ApiError> {
    match principal.authorize(Resource::Portal, access)? {
        Reach::OwnCompany => principal.company_id.clone().ok_or(ApiError::NotFound),
        Reach::All => Err(ApiError::Forbidden(
            "the portal is for customer users".into(),
        )),
    }
}

/// `NotFound` unless the record belongs to the company.
fn mine(owner: Option<&str>, company: &str) -> Result<(), StoreError> {
    if owner == Some(company) {
        Ok(())
    } else {
        Err(StoreError::NotFound)
    }
}

/// A line as the customer sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PortalLine {
    /// The line's id; on orders, name it to return the line.
    pub id: Option<String>,
    /// The product, if any.
    pub product_id: Option<String>,
    /// What was sold.
    pub description: String,
    /// Exact decimal string.
    pub quantity: String,
    /// Price per unit.
    pub unit_price: Money,
    /// Discount in basis points.
    pub discount_bp: i64,
    /// Tax rate in basis points.
    pub tax_rate_bp: i64,
    /// quantity × unit price, rounded.
    pub gross: Money,
    /// The line's discount.
    pub discount: Money,
    /// gross − discount.
    pub net: Money,
}

/// The lines as staff see them, less what only staff see (SKU and cost), with the order's line
/// ids where the customer may name a line to return it.
fn portal_lines(
    lines: &[Line],
    ids: Option<&[String]>,
    totals: &Totals,
    currency: &str,
) -> Vec<PortalLine> {
    lines_output(lines, totals, currency)
        .into_iter()
        .enumerate()
        .map(|(i, l)| PortalLine {
            id: ids.and_then(|ids| ids.get(i).cloned()),
            product_id: l.product_id,
            description: l.description,
            quantity: l.quantity,
            unit_price: l.unit_price,
            discount_bp: l.discount_bp,
            tax_rate_bp: l.tax_rate_bp,
            gross: l.gross,
            discount: l.discount,
            net: l.net,
        })
        .collect()
}

/// An order as the customer sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PortalOrder {
    /// Server-assigned id.
    pub id: String,
    /// Where it was placed.
    pub channel: String,
    /// Its reference in that channel.
    pub external_id: String,
    /// pending, paid, fulfilled or cancelled.
    pub status: OrderStatus,
    /// When it was placed.
    pub ordered_at: DateTime<Utc>,
    /// ISO 4217 currency.
    pub currency: String,
    /// The lines.
    pub lines: Vec<PortalLine>,
    /// Totals.
    pub totals: TotalsOutput,
    /// The values of the custom fields shown to customers, by key.
    #[schema(value_type = Object)]
    pub custom_fields: serde_json::Map<String, serde_json::Value>,
}

impl From<crm_store::sales::orders::Order> for PortalOrder {
    fn from(o: crm_store::sales::orders::Order) -> Self {
        PortalOrder {
            lines: portal_lines(&o.lines, Some(&o.line_ids), &o.totals, &o.currency),
            totals: totals_output(&o.totals, &o.currency),
            id: o.id,
            channel: o.channel,
            external_id: o.external_id,
            status: o.status,
            ordered_at: utc(o.ordered_at),
            currency: o.currency,
            custom_fields: o.portal_custom_fields,
        }
    }
}

/// A quote as the customer sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PortalQuote {
    /// Server-assigned id.
    pub id: String,
    /// `Q-YYYY-NNNNNN`.
    pub number: String,
    /// Its revision.
    pub revision: i64,
    /// sent (answer it), accepted, rejected, expired, converted or cancelled.
    pub status: QuoteStatus,
    /// Last day it can be accepted.
    pub valid_until: Option<NaiveDate>,
    /// ISO 4217 currency.
    pub currency: String,
    /// Notes for the customer.
    pub notes: Option<String>,
    /// The lines.
    pub lines: Vec<PortalLine>,
    /// Totals.
    pub totals: TotalsOutput,
    /// When it was sent.
    pub sent_at: Option<DateTime<Utc>>,
    /// When it was answered.
    pub decided_at: Option<DateTime<Utc>>,
    /// Why it was rejected.
    pub reject_reason: Option<String>,
    /// The ETag.
    pub version: i64,
}

impl From<crm_store::sales::quotes::Quote> for PortalQuote {
    fn from(q: crm_store::sales::quotes::Quote) -> Self {
        PortalQuote {
            lines: portal_lines(&q.fields.lines, None, &q.totals, &q.fields.currency),
            totals: totals_output(&q.totals, &q.fields.currency),
            id: q.id,
            number: q.number,
            revision: q.revision,
            status: q.status,
            valid_until: q.fields.valid_until,
            currency: q.fields.currency,
            notes: q.fields.notes,
            sent_at: utc_opt(q.sent_at),
            decided_at: utc_opt(q.decided_at),
            reject_reason: q.reject_reason,
            version: q.version,
        }
    }
}

/// A returned line as the customer sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PortalReturnLine {
    /// The order line returned.
    pub order_line_id: String,
    /// What is returned.
    pub description: String,
    /// How much.
    pub quantity: String,
    /// Why.
    pub reason: ReasonCode,
    /// How much arrived.
    pub received_quantity: Option<String>,
}

/// A return as the customer follows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PortalReturn {
    /// Server-assigned id.
    pub id: String,
    /// `RMA-YYYY-NNNNNN`.
    pub number: String,
    /// The order.
    pub order_id: String,
    /// Where it stands.
    pub status: ReturnStatus,
    /// What the customer said.
    pub customer_comment: Option<String>,
    /// Why it was rejected.
    pub reject_reason: Option<String>,
    /// How it was resolved.
    pub resolution: Option<Resolution>,
    /// Given back, tax included.
    pub refund: Money,
    /// Given to keep the item.
    pub concession: Money,
    /// The lines.
    pub lines: Vec<PortalReturnLine>,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<crm_store::billing::returns::Return> for PortalReturn {
    fn from(r: crm_store::billing::returns::Return) -> Self {
        PortalReturn {
            refund: Money::new(r.refund_minor, &r.currency),
            concession: Money::new(r.concession_minor, &r.currency),
            lines: r
                .lines
                .into_iter()
                .map(|l| PortalReturnLine {
                    order_line_id: l.order_line_id,
                    description: l.description,
                    quantity: l.quantity.to_string(),
                    reason: l.reason,
                    received_quantity: l.received_quantity.map(|q| q.to_string()),
                })
                .collect(),
            id: r.id,
            number: r.number,
            order_id: r.order_id,
            status: r.status,
            customer_comment: r.customer_comment,
            reject_reason: r.reject_reason,
            resolution: r.resolution,
            created_at: utc(r.created_at),
            updated_at: utc(r.updated_at),
        }
    }
}

#[utoipa::path(tag = "portal", operation_id = "listPortalInvoices", summary = "My invoices", description = "Issued invoices and credit notes of my company, newest first.",
    params(PageQuery),
    responses((status = 200, description = "A page of invoices", body = ListResponse<Invoice>)))]
#[get("/portal/invoices")]
pub async fn list_portal_invoices(
    state: web::Data<AppState>,
    principal: Principal,
    ApiQuery(paging): ApiQuery<PageQuery>,
) -> Result<web::Json<ListResponse<Invoice>>, ApiError> {
    let company = own_company(&principal, Access::Read)?;
    let page = fixed_order(SORT, &paging)?;
    let filter = crm_store::billing::invoices::InvoiceFilter {
        company_id: Some(company),
        numbered_only: true,
        ..Default::default()
    };
    let result = state
        .db
        .read(move |conn| crm_store::billing::invoices::list(conn, &filter, &page))
        .await?;
    Ok(web::Json(respond(result, SORT, Invoice::from)))
}

#[utoipa::path(tag = "portal", operation_id = "getPortalInvoice", summary = "One of my invoices",
    params(("id" = String, Path, description = "Invoice id")),
    responses((status = 200, description = "The invoice", body = Invoice)))]
#[get("/portal/invoices/{id}")]
pub async fn get_portal_invoice(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<web::Json<Invoice>, ApiError> {
    let company = own_company(&principal, Access::Read)?;
    let invoice = state
        .db
        .read(move |conn| {
            let invoice = crm_store::billing::invoices::get(conn, &id)?;
            mine(Some(&invoice.company_id), &company)?;
            if invoice.number.is_none() {
                return Err(StoreError::NotFound);
            }
            Ok(invoice)
        })
        .await?;
    Ok(web::Json(Invoice::from(invoice)))
}

/// Paging of my orders, and what to embed.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PortalOrderListQuery {
    /// `lines.product` embeds each line's product (without its cost).
    pub expand: Option<String>,
}

#[utoipa::path(tag = "portal", operation_id = "listPortalOrders", summary = "My orders", description = "Newest first.",
    params(PortalOrderListQuery, PageQuery),
    responses((status = 200, description = "A page of orders", body = ListResponse<PortalOrder>)))]
#[get("/portal/orders")]
pub async fn list_portal_orders(
    state: web::Data<AppState>,
    principal: Principal,
    PagedQuery(query, paging): PagedQuery<PortalOrderListQuery>,
) -> Result<HttpResponse, ApiError> {
    let company = own_company(&principal, Access::Read)?;
    let products = expands_products(query.expand.as_deref())?;
    let list = list_query(
        None,
        None,
        "-ordered_at",
        &paging,
        service_now(&state).await?,
    )?;
    let filter = crm_store::sales::orders::OrderFilter {
        company_id: Some(company),
        ..Default::default()
    };
    let request = list.clone();
    let embed = Embed {
        products,
        ..Embed::default()
    };
    let (orders, embedded) = state
        .db
        .read(move |conn| related::list_expanded(conn, &filter, &request, embed, orders::list))
        .await?;
    let next_cursor = next_cursor(orders.next, &list, None);
    let data: Vec<serde_json::Value> = orders
        .items
        .into_iter()
        .map(|order| {
            let mut value = serde_json::to_value(PortalOrder::from(order)).unwrap_or_default();
            if products {
                embed_products(&mut value, &embedded.products, true);
            }
            value
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({"data": data, "next_cursor": next_cursor})))
}

#[utoipa::path(tag = "portal", operation_id = "getPortalOrder", summary = "One of my orders",
    params(("id" = String, Path, description = "Order id"), crate::sales::documents::DocumentReadQuery),
    responses((status = 200, description = "The order", body = PortalOrder)))]
#[get("/portal/orders/{id}")]
pub async fn get_portal_order(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    ApiQuery(query): ApiQuery<crate::sales::documents::DocumentReadQuery>,
) -> Result<HttpResponse, ApiError> {
    let company = own_company(&principal, Access::Read)?;
    let products = expands_products(query.expand.as_deref())?;
    let embed = Embed {
        products,
        ..Embed::default()
    };
    let (order, embedded) = state
        .db
        .read(move |conn| {
            let (order, embedded) = related::get_expanded(conn, &id, embed, orders::get)?;
            mine(order.company_id.as_deref(), &company)?;
            Ok((order, embedded))
        })
        .await?;
    let mut value = serde_json::to_value(PortalOrder::from(order)).unwrap_or_default();
    if products {
        embed_products(&mut value, &embedded.products, true);
    }
    Ok(HttpResponse::Ok().json(value))
}

#[utoipa::path(tag = "portal", operation_id = "listPortalQuotes", summary = "My quotes", description = "Quotes sent to my company, newest first.",
    params(PageQuery),
    responses((status = 200, description = "A page of quotes", body = ListResponse<PortalQuote>)))]
#[get("/portal/quotes")]
pub async fn list_portal_quotes(
    state: web::Data<AppState>,
    principal: Principal,
    ApiQuery(paging): ApiQuery<PageQuery>,
) -> Result<web::Json<ListResponse<PortalQuote>>, ApiError> {
    let company = own_company(&principal, Access::Read)?;
    let page = fixed_order(SORT, &paging)?;
    let filter = crm_store::sales::quotes::QuoteFilter {
        company_id: Some(company),
        exclude_drafts: true,
        ..Default::default()
    };
    let result = state
        .db
        .read(move |conn| crm_store::sales::quotes::list(conn, &filter, &page))
        .await?;
    Ok(web::Json(respond(result, SORT, PortalQuote::from)))
}

fn own_quote(
    conn: &mut crm_store::DbConnection,
    id: &str,
    company: &str,
) -> Result<crm_store::sales::quotes::Quote, StoreError> {
    let quote = crm_store::sales::quotes::get(conn, id)?;
    visible_quote(&quote, company)?;
    Ok(quote)
}

/// A customer sees its company's quotes once sent, never a draft.
fn visible_quote(quote: &crm_store::sales::quotes::Quote, company: &str) -> Result<(), StoreError> {
    mine(quote.fields.company_id.as_deref(), company)?;
    if quote.status == QuoteStatus::Draft {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

#[utoipa::path(tag = "portal", operation_id = "getPortalQuote", summary = "One of my quotes",
    params(("id" = String, Path, description = "Quote id"), crate::sales::documents::DocumentReadQuery),
    responses((status = 200, description = "The quote", body = PortalQuote, headers(("ETag" = String, description = "Its version")))))]
#[get("/portal/quotes/{id}")]
pub async fn get_portal_quote(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    ApiQuery(query): ApiQuery<crate::sales::documents::DocumentReadQuery>,
) -> Result<HttpResponse, ApiError> {
    let company = own_company(&principal, Access::Read)?;
    let products = expands_products(query.expand.as_deref())?;
    let (quote, sold) = state
        .db
        .read(move |conn| {
            let (quote, sold) = crm_store::sales::quotes::get_expanded(conn, &id, products)?;
            visible_quote(&quote, &company)?;
            Ok((quote, sold))
        })
        .await?;
    let version = quote.version;
    let mut value = serde_json::to_value(PortalQuote::from(quote)).unwrap_or_default();
    if products {
        embed_products(&mut value, &sold, true);
    }
    Ok(versioned(version, &value))
}

/// An answer to a quote.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "We found it cheaper"}))]
pub struct PortalQuoteAnswer {
    /// Required when rejecting.
    pub reason: Option<String>,
}

async fn answer(
    state: &AppState,
    principal: &Principal,
    id: String,
    if_match: IfMatch,
    action: QuoteAction,
    reason: Option<String>,
) -> Result<HttpResponse, ApiError> {
    let company = own_company(principal, Access::Write)?;
    let quote = state
        .db
        .write(move |conn| {
            own_quote(conn, &id, &company)?;
            crm_store::sales::quotes::act(conn, &id, if_match.0, action, reason).map(|o| o.quote)
        })
        .await?;
    Ok(versioned(quote.version, &PortalQuote::from(quote)))
}

#[utoipa::path(tag = "portal", operation_id = "acceptPortalQuote", summary = "Accept a quote sent to me",
    params(("id" = String, Path, description = "Quote id")),
    responses(
        (status = 200, description = "The accepted quote", body = PortalQuote, headers(("ETag" = String, description = "Its new version"))),
        (status = 409, description = "Not open for an answer (expired, already answered...)", body = Problem, content_type = "application/problem+json")))]
#[post("/portal/quotes/{id}/accept")]
pub async fn accept_portal_quote(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    answer(
        &state,
        &principal,
        id.into_inner(),
        if_match,
        QuoteAction::Accept,
        None,
    )
    .await
}

#[utoipa::path(tag = "portal", operation_id = "rejectPortalQuote", summary = "Reject a quote sent to me",
    params(("id" = String, Path, description = "Quote id")),
    request_body = PortalQuoteAnswer,
    responses(
        (status = 200, description = "The rejected quote", body = PortalQuote, headers(("ETag" = String, description = "Its new version"))),
        (status = 409, description = "Not open for an answer", body = Problem, content_type = "application/problem+json")))]
#[post("/portal/quotes/{id}/reject")]
pub async fn reject_portal_quote(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    if_match: IfMatch,
    ApiJson(body): ApiJson<PortalQuoteAnswer>,
) -> Result<HttpResponse, ApiError> {
    let mut c = Checker::default();
    let reason = c.required("reason", body.reason.as_deref().unwrap_or(""), 2000);
    c.finish()?;
    answer(
        &state,
        &principal,
        id.into_inner(),
        if_match,
        QuoteAction::Reject,
        Some(reason),
    )
    .await
}

#[utoipa::path(tag = "portal", operation_id = "listPortalReturns", summary = "My returns", description = "Newest first.",
    params(PageQuery),
    responses((status = 200, description = "A page of returns", body = ListResponse<PortalReturn>)))]
#[get("/portal/returns")]
pub async fn list_portal_returns(
    state: web::Data<AppState>,
    principal: Principal,
    ApiQuery(paging): ApiQuery<PageQuery>,
) -> Result<web::Json<ListResponse<PortalReturn>>, ApiError> {
    let company = own_company(&principal, Access::Read)?;
    let page = fixed_order(SORT, &paging)?;
    let filter = crm_store::billing::returns::ReturnFilter {
        company_id: Some(company),
        ..Default::default()
    };
    let result = state
        .db
        .read(move |conn| crm_store::billing::returns::list(conn, &filter, &page))
        .await?;
    Ok(web::Json(respond(result, SORT, PortalReturn::from)))
}

#[utoipa::path(tag = "portal", operation_id = "getPortalReturn", summary = "One of my returns",
    params(("id" = String, Path, description = "Return id")),
    responses((status = 200, description = "The return", body = PortalReturn)))]
#[get("/portal/returns/{id}")]
pub async fn get_portal_return(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<web::Json<PortalReturn>, ApiError> {
    let company = own_company(&principal, Access::Read)?;
    let ret = state
        .db
        .read(move |conn| {
            let ret = crm_store::billing::returns::get(conn, &id)?;
            mine(ret.company_id.as_deref(), &company)?;
            Ok(ret)
        })
        .await?;
    Ok(web::Json(PortalReturn::from(ret)))
}

/// A return the customer opens.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"order_id": "0193a1b2-0000-7000-8000-0000000000aa", "lines": [{"order_line_id": "0193a1b2-0000-7000-8000-0000000000bb", "quantity": "1", "reason": "defective"}], "customer_comment": "It stopped working"}))]
pub struct PortalReturnCreate {
    /// One of my orders.
    pub order_id: String,
    /// At least one line.
    pub lines: Vec<ReturnLineCreate>,
    /// What happened.
    pub customer_comment: Option<String>,
}

impl PortalReturnCreate {
    /// The store's request, opened by `principal` within the window: customers cannot override it.
    fn into_request(
        self,
        principal: &Principal,
        window_days: i64,
    ) -> Result<ReturnRequest, ApiError> {
        return_request(
            self.order_id,
            self.lines,
            self.customer_comment,
            None,
            principal,
            window_days,
        )
    }
}

#[utoipa::path(tag = "portal", operation_id = "createPortalReturn", summary = "Return items of one of my orders",
    description = "Within the return window; beyond it, ask us.",
    request_body = PortalReturnCreate,
    responses((status = 201, description = "Opened", body = PortalReturn, headers(("Location" = String, description = "URL of the return")))))]
#[post("/portal/returns")]
pub async fn create_portal_return(
    state: web::Data<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<PortalReturnCreate>,
) -> Result<HttpResponse, ApiError> {
    let company = own_company(&principal, Access::Write)?;
    let request = body.into_request(&principal, state.settings.return_window_days)?;
    let ret = state
        .db
        .write(move |conn| crm_store::billing::returns::open_for_customer(conn, &company, request))
        .await?;
    Ok(created(
        format!("/v1/portal/returns/{}", ret.id),
        ret.version,
        &PortalReturn::from(ret),
    ))
}

/// My company's fiscal data, printed on invoices issued from now on.
#[derive(Debug, Serialize, ToSchema)]
pub struct FiscalData {
    /// Trading name.
    pub name: String,
    /// Registered legal name.
    pub legal_name: Option<String>,
    /// Tax identifier.
    pub tax_id: Option<String>,
    /// Billing address.
    pub billing_address: BillingAddress,
    /// Billing email.
    pub email: Option<String>,
    /// The ETag.
    pub version: i64,
}

/// Changes to my fiscal data, as a JSON Merge Patch. Invoices already issued keep theirs.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"tax_id": "ESB11111111", "billing_address": {"line1": "Calle Nueva 5"}}))]
pub struct FiscalDataUpdate {
    /// Registered legal name.
    #[serde(default, deserialize_with = "patch")]
    pub legal_name: Option<Option<String>>,
    /// Tax identifier.
    #[serde(default, deserialize_with = "patch")]
    pub tax_id: Option<Option<String>>,
    /// Merged field by field.
    #[serde(default, deserialize_with = "patch")]
    pub billing_address: Option<Option<BillingAddressUpdate>>,
    /// Billing email.
    #[serde(default, deserialize_with = "patch")]
    pub email: Option<Option<String>>,
}

impl FiscalDataUpdate {
    /// Merges the changes into my company's stored fields, checking each.
    fn apply(self, f: &mut CompanyFields) -> Result<(), Violations> {
        let mut c = Checker::default();
        if let Some(v) = self.legal_name {
            f.legal_name = c.optional("legal_name", v.as_deref(), SHORT);
        }
        if let Some(v) = self.tax_id {
            f.tax_id = c.optional("tax_id", v.as_deref(), 50);
        }
        if let Some(v) = self.email {
            f.email = c.email("email", v.as_deref());
        }
        if let Some(a) = self.billing_address {
            apply_address(
                &mut c,
                &mut f.billing_address,
                a.unwrap_or_default(),
                "billing_address",
            );
        }
        c.finish()
    }
}

fn fiscal(c: crm_store::parties::companies::Company) -> FiscalData {
    FiscalData {
        name: c.fields.name,
        legal_name: c.fields.legal_name,
        tax_id: c.fields.tax_id,
        billing_address: BillingAddress::from(c.fields.billing_address),
        email: c.fields.email,
        version: c.version,
    }
}

#[utoipa::path(tag = "portal", operation_id = "getFiscalData", summary = "My fiscal data",
    responses((status = 200, description = "My company's fiscal data", body = FiscalData, headers(("ETag" = String, description = "Its version")))))]
#[get("/portal/fiscal-data")]
pub async fn get_fiscal_data(
    state: web::Data<AppState>,
    principal: Principal,
) -> Result<HttpResponse, ApiError> {
    let company = own_company(&principal, Access::Read)?;
    let c = state
        .db
        .read(move |conn| crm_store::parties::companies::get(conn, &company, Reach::All, None))
        .await?;
    Ok(versioned(c.version, &fiscal(c)))
}

#[utoipa::path(tag = "portal", operation_id = "updateFiscalData", summary = "Change my fiscal data",
    description = "Applies to invoices issued from now on; issued invoices keep their snapshot.",
    request_body(content = FiscalDataUpdate, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "My fiscal data", body = FiscalData, headers(("ETag" = String, description = "Its new version")))))]
#[patch("/portal/fiscal-data")]
pub async fn update_fiscal_data(
    state: web::Data<AppState>,
    principal: Principal,
    if_match: IfMatch,
    ApiJson(body): ApiJson<FiscalDataUpdate>,
) -> Result<HttpResponse, ApiError> {
    let company = own_company(&principal, Access::Write)?;
    let c = state
        .db
        .write(move |conn| {
            crm_store::parties::companies::update(conn, &company, if_match.0, |fields| {
                body.apply(fields).map_err(StoreError::from)
            })
        })
        .await?;
    Ok(versioned(c.version, &fiscal(c)))
}

/// The routes under `/portal`.
pub fn routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(list_portal_invoices)
        .service(get_portal_invoice)
        .service(list_portal_orders)
        .service(get_portal_order)
        .service(list_portal_quotes)
        .service(get_portal_quote)
        .service(accept_portal_quote)
        .service(reject_portal_quote)
        .service(list_portal_returns)
        .service(get_portal_return)
        .service(create_portal_return)
        .service(get_fiscal_data)
        .service(update_fiscal_data);
}
