//! `/v1/quotes`: numbered offers with exact totals and a state machine.

use actix_web::{get, patch, post, web, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use crm_domain::access::permissions::{Access, Resource};
use crm_domain::sales::quotes::{QuoteAction, QuoteStatus};
use crm_store::sales::quotes::{self as store, LineCheck, QuoteChanges, QuoteDraft, QuoteFilter};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::platform::actions::{ActionResponses, ActionTarget, StateRecord};
use crate::platform::auth::Principal;
use crate::platform::error::{ApiError, Problem};
use crate::platform::extract::{ApiJson, ApiQuery, IfMatch, PagedQuery};
use crate::platform::fields::{patch, Checker, LONG};
use crate::platform::pagination::{fixed_order, read_page, ListResponse, PageQuery};
use crate::platform::respond::{created, utc, utc_opt, versioned};
use crate::platform::state::AppState;
use crate::sales::documents::{
    embed_products, expands_products, line_drafts, lines_output, margin_output, totals_output,
    DocumentReadQuery, LineInput, LineOutput, MarginOutput, TotalsOutput,
};

const SORT: &str = "-created_at";

/// A quote (offer) to a customer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Quote {
    /// Server-assigned id (UUIDv7).
    pub id: String,
    /// The opportunity it belongs to.
    pub opportunity_id: Option<String>,
    /// The campaign that brought it, which its order takes.
    pub campaign_id: Option<String>,
    /// `Q-YYYY-NNNNNN`, shared by all revisions.
    pub number: String,
    /// 1 for the first version; revising makes n+1.
    pub revision: i64,
    /// The revision this one replaces.
    pub previous_revision_id: Option<String>,
    /// As it reads now: a sent quote past `valid_until` is `expired`.
    pub status: QuoteStatus,
    /// The customer company.
    pub company_id: Option<String>,
    /// The customer contact.
    pub contact_id: Option<String>,
    /// The salesperson.
    pub owner_id: Option<String>,
    /// ISO 4217 currency of every amount.
    pub currency: String,
    /// Last day it can be accepted.
    pub valid_until: Option<NaiveDate>,
    /// Notes for the customer.
    pub notes: Option<String>,
    /// Why it was rejected.
    pub reject_reason: Option<String>,
    /// The lines, in order.
    pub lines: Vec<LineOutput>,
    /// Totals, computed with the documented rounding rule.
    pub totals: TotalsOutput,
    /// Cost and margin (staff only).
    pub margin: MarginOutput,
    /// The order it was converted into.
    pub order_id: Option<String>,
    /// When it was sent.
    pub sent_at: Option<DateTime<Utc>>,
    /// When it was accepted or rejected.
    pub decided_at: Option<DateTime<Utc>>,
    /// Incremented on every change; the ETag.
    pub version: i64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl StateRecord for Quote {
    const NOUN: &'static str = "quote";
}

impl From<store::Quote> for Quote {
    fn from(q: store::Quote) -> Self {
        let currency = q.fields.currency.clone();
        let cost = crm_store::sales::documents::cost_of(&q.fields.lines).unwrap_or(0);
        Quote {
            lines: lines_output(&q.fields.lines, &q.totals, &currency),
            totals: totals_output(&q.totals, &currency),
            margin: margin_output(&q.totals, cost, &currency),
            id: q.id,
            opportunity_id: q.fields.opportunity_id,
            campaign_id: q.fields.campaign_id,
            number: q.number,
            revision: q.revision,
            previous_revision_id: q.previous_revision_id,
            status: q.status,
            company_id: q.fields.company_id,
            contact_id: q.fields.contact_id,
            owner_id: q.fields.owner_id,
            currency,
            valid_until: q.fields.valid_until,
            notes: q.fields.notes,
            reject_reason: q.reject_reason,
            order_id: q.order_id,
            sent_at: utc_opt(q.sent_at),
            decided_at: utc_opt(q.decided_at),
            version: q.version,
            created_at: utc(q.created_at),
            updated_at: utc(q.updated_at),
        }
    }
}

/// A new draft quote, for a company or a contact (or both).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"company_id": "0193a1b2-0000-7000-8000-000000000001", "currency": "EUR", "valid_until": "2026-12-31", "lines": [{"product_id": "0193a1b2-0000-7000-8000-0000000000aa", "quantity": "3", "discount_bp": 500}]}))]
pub struct QuoteCreate {
    /// The opportunity it belongs to; accepting the quote can win it.
    pub opportunity_id: Option<String>,
    /// The campaign that brought it (unknown is a `422`); the opportunity's when not given.
    /// Its order takes it, and counts for the campaign.
    pub campaign_id: Option<String>,
    /// The customer company.
    pub company_id: Option<String>,
    /// The customer contact.
    pub contact_id: Option<String>,
    /// The salesperson; defaults to the caller.
    pub owner_id: Option<String>,
    /// ISO 4217 currency of every amount.
    pub currency: String,
    /// Last day it can be accepted.
    pub valid_until: Option<NaiveDate>,
    /// Notes for the customer.
    pub notes: Option<String>,
    /// The lines.
    #[serde(default)]
    pub lines: Vec<LineInput>,
}

/// Changes to a draft quote, as a JSON Merge Patch. `lines` replaces all lines.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"valid_until": "2027-01-15"}))]
pub struct QuoteUpdate {
    /// The opportunity it belongs to.
    #[serde(default, deserialize_with = "patch")]
    pub opportunity_id: Option<Option<String>>,
    /// The campaign that brought it.
    #[serde(default, deserialize_with = "patch")]
    pub campaign_id: Option<Option<String>>,
    /// The customer company.
    #[serde(default, deserialize_with = "patch")]
    pub company_id: Option<Option<String>>,
    /// The customer contact.
    #[serde(default, deserialize_with = "patch")]
    pub contact_id: Option<Option<String>>,
    /// The salesperson.
    #[serde(default, deserialize_with = "patch")]
    pub owner_id: Option<Option<String>>,
    /// Currency; cannot be null. Lines must be given in it.
    #[serde(default, deserialize_with = "patch")]
    #[schema(nullable = false)]
    pub currency: Option<Option<String>>,
    /// Last day it can be accepted.
    #[serde(default, deserialize_with = "patch")]
    pub valid_until: Option<Option<NaiveDate>>,
    /// Notes for the customer.
    #[serde(default, deserialize_with = "patch")]
    pub notes: Option<Option<String>>,
    /// All lines, replacing the current ones.
    #[serde(default, deserialize_with = "patch")]
    pub lines: Option<Option<Vec<LineInput>>>,
}

impl QuoteUpdate {
    /// Checks the fields that stand alone; the lines are checked in the store, against the
    /// currency the quote ends up in.
    fn into_changes(self) -> Result<QuoteChanges, ApiError> {
        let mut c = Checker::default();
        let currency = match &self.currency {
            Some(Some(code)) => c.currency("currency", code),
            Some(None) => {
                c.not_null("currency");
                None
            }
            None => None,
        };
        let notes = self.notes.map(|n| c.optional("notes", n.as_deref(), LONG));
        let valid_until = self.valid_until.map(|v| check_valid_until(&mut c, v));
        c.finish()?;
        Ok(QuoteChanges {
            opportunity_id: self.opportunity_id,
            campaign_id: self.campaign_id,
            company_id: self.company_id,
            contact_id: self.contact_id,
            owner_id: self.owner_id,
            currency,
            valid_until,
            notes,
            lines: self.lines.map(|lines| -> LineCheck {
                Box::new(move |currency: &str| {
                    let mut c = Checker::default();
                    let drafts = line_drafts(&mut c, lines.unwrap_or_default(), Some(currency));
                    c.finish().map(|()| drafts)
                })
            }),
        })
    }
}

fn check_valid_until(c: &mut Checker, date: Option<NaiveDate>) -> Option<NaiveDate> {
    use chrono::Datelike;
    match date {
        Some(d) if !(1000..=9999).contains(&d.year()) => {
            c.violations.push(crm_domain::Violation::new(
                "valid_until",
                "must be between the years 1000 and 9999",
            ));
            None
        }
        other => other,
    }
}

/// Builds the store's draft of a new quote.
pub fn quote_draft(body: QuoteCreate, caller: Option<&str>) -> Result<QuoteDraft, ApiError> {
    let mut c = Checker::default();
    let currency = c.currency("currency", &body.currency);
    let lines = line_drafts(&mut c, body.lines, currency.as_deref());
    let notes = c.optional("notes", body.notes.as_deref(), LONG);
    let valid_until = check_valid_until(&mut c, body.valid_until);
    c.finish()?;
    Ok(QuoteDraft {
        opportunity_id: body.opportunity_id,
        campaign_id: body.campaign_id,
        company_id: body.company_id,
        contact_id: body.contact_id,
        owner_id: body.owner_id.or_else(|| caller.map(str::to_owned)),
        currency: currency.unwrap_or_default(),
        valid_until,
        notes,
        lines,
    })
}

/// Filters and paging for the quote list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QuoteListQuery {
    /// Only quotes reading as this status (`expired` included).
    pub status: Option<QuoteStatus>,
    /// Only quotes to this company.
    pub company_id: Option<String>,
    /// Only quotes to this contact.
    pub contact_id: Option<String>,
    /// Only quotes of this salesperson.
    pub owner_id: Option<String>,
}

#[utoipa::path(tag = "quotes", operation_id = "listQuotes", summary = "List quotes",
    description = "Newest first.",
    params(QuoteListQuery, PageQuery),
    responses((status = 200, description = "A page of quotes", body = ListResponse<Quote>)))]
#[get("/quotes")]
pub async fn list_quotes(
    state: web::Data<AppState>,
    principal: Principal,
    PagedQuery(query, paging): PagedQuery<QuoteListQuery>,
) -> Result<web::Json<ListResponse<Quote>>, ApiError> {
    principal.authorize(Resource::Quotes, Access::Read)?;
    let page = fixed_order(SORT, &paging)?;
    let filter = QuoteFilter {
        status: query.status,
        company_id: query.company_id,
        contact_id: query.contact_id,
        owner_id: query.owner_id,
        exclude_drafts: false,
    };
    read_page(&state, store::list, filter, page, SORT, Quote::from).await
}

#[utoipa::path(tag = "quotes", operation_id = "createQuote", summary = "Create a draft quote",
    description = "Numbers are assigned on creation per year (`Q-2026-000123`), unique across concurrent requests and API nodes.",
    request_body = QuoteCreate,
    responses((status = 201, description = "Created", body = Quote, headers(("Location" = String, description = "URL of the new quote"), ("ETag" = String, description = "Its version")))))]
#[post("/quotes")]
pub async fn create_quote(
    state: web::Data<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<QuoteCreate>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Quotes, Access::Write)?;
    let draft = quote_draft(body, principal.user_id())?;
    let quote = state
        .db
        .write(move |conn| store::draft(conn, draft))
        .await?;
    Ok(created(
        format!("/v1/quotes/{}", quote.id),
        quote.version,
        &Quote::from(quote),
    ))
}

#[utoipa::path(tag = "quotes", operation_id = "getQuote", summary = "Get a quote",
    params(("id" = String, Path, description = "Quote id"), DocumentReadQuery),
    responses((status = 200, description = "The quote", body = Quote, headers(("ETag" = String, description = "Its version")))))]
#[get("/quotes/{id}")]
pub async fn get_quote(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    ApiQuery(query): ApiQuery<DocumentReadQuery>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Quotes, Access::Read)?;
    let products = expands_products(query.expand.as_deref())?;
    let (quote, sold) = state
        .db
        .read_one(move |conn| store::get_expanded(conn, &id, products))
        .await?;
    let version = quote.version;
    let mut value = serde_json::to_value(Quote::from(quote)).unwrap_or_default();
    if products {
        embed_products(&mut value, &sold, false);
    }
    Ok(versioned(version, &value))
}

#[utoipa::path(tag = "quotes", operation_id = "updateQuote", summary = "Update a draft quote",
    description = "Only a draft can be edited; any other state gets `409`. To change a sent quote, revise it.",
    params(("id" = String, Path, description = "Quote id")),
    request_body(content = QuoteUpdate, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The updated quote", body = Quote, headers(("ETag" = String, description = "Its new version"))),
        (status = 409, description = "Not a draft; `current_state` and `allowed_actions` say what can be done", body = Problem, content_type = "application/problem+json")))]
#[patch("/quotes/{id}")]
pub async fn update_quote(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    if_match: IfMatch,
    ApiJson(body): ApiJson<QuoteUpdate>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Quotes, Access::Write)?;
    let changes = body.into_changes()?;
    let quote = state
        .db
        .write(move |conn| store::update(conn, &id, if_match.0, changes))
        .await?;
    Ok(versioned(quote.version, &Quote::from(quote)))
}

/// Why a quote was rejected.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "Price too high"}))]
pub struct RejectQuote {
    /// The customer's reason.
    pub reason: String,
}

async fn act(
    target: ActionTarget,
    action: QuoteAction,
    reason: Option<String>,
) -> Result<HttpResponse, ApiError> {
    let outcome = run(target, action, reason).await?;
    Ok(versioned(
        outcome.quote.version,
        &Quote::from(outcome.quote),
    ))
}

async fn run(
    target: ActionTarget,
    action: QuoteAction,
    reason: Option<String>,
) -> Result<store::ActionOutcome, ApiError> {
    target
        .write(Resource::Quotes, move |conn, id, version| {
            store::act(conn, id, version, action, reason)
        })
        .await
}

#[utoipa::path(tag = "quotes", operation_id = "sendQuote", summary = "Send a quote",
    description = "draft → sent. A quote needs at least one line.",
    params(("id" = String, Path, description = "Quote id")),
    responses(ActionResponses<Quote>))]
#[post("/quotes/{id}/send")]
pub async fn send_quote(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    act(target, QuoteAction::Send, None).await
}

#[utoipa::path(tag = "quotes", operation_id = "acceptQuote", summary = "Accept a quote",
    description = "sent → accepted. An expired quote cannot be accepted.",
    params(("id" = String, Path, description = "Quote id")),
    responses(ActionResponses<Quote>))]
#[post("/quotes/{id}/accept")]
pub async fn accept_quote(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    act(target, QuoteAction::Accept, None).await
}

#[utoipa::path(tag = "quotes", operation_id = "cancelQuote", summary = "Cancel a quote",
    description = "draft or sent → cancelled.",
    params(("id" = String, Path, description = "Quote id")),
    responses(ActionResponses<Quote>))]
#[post("/quotes/{id}/cancel")]
pub async fn cancel_quote(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    act(target, QuoteAction::Cancel, None).await
}

#[utoipa::path(tag = "quotes", operation_id = "convertQuote", summary = "Convert a quote into an order",
    description = "accepted → converted. Creates an order with channel `quote`, copying the lines with their cost snapshot; `order_id` names it.",
    params(("id" = String, Path, description = "Quote id")),
    responses(ActionResponses<Quote>))]
#[post("/quotes/{id}/convert")]
pub async fn convert_quote(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    act(target, QuoteAction::Convert, None).await
}

#[utoipa::path(tag = "quotes", operation_id = "rejectQuote", summary = "Reject a quote",
    description = "sent → rejected, with the customer's reason.",
    params(("id" = String, Path, description = "Quote id")),
    request_body = RejectQuote,
    responses(
        (status = 200, description = "The rejected quote", body = Quote, headers(("ETag" = String, description = "Its new version"))),
        (status = 409, description = "The quote's state does not allow this", body = Problem, content_type = "application/problem+json")))]
#[post("/quotes/{id}/reject")]
pub async fn reject_quote(
    target: ActionTarget,
    ApiJson(body): ApiJson<RejectQuote>,
) -> Result<HttpResponse, ApiError> {
    let mut c = Checker::default();
    let reason = c.required("reason", &body.reason, 2000);
    c.finish()?;
    act(target, QuoteAction::Reject, Some(reason)).await
}

#[utoipa::path(tag = "quotes", operation_id = "reviseQuote", summary = "Revise a quote",
    description = "On a sent (or expired) quote: creates revision n+1 as a new draft with the same number and lines, linked to this one, which is cancelled. Returns the new revision.",
    params(("id" = String, Path, description = "Quote id")),
    responses(
        (status = 201, description = "The new revision", body = Quote, headers(("Location" = String, description = "URL of the new revision"), ("ETag" = String, description = "Its version"))),
        (status = 409, description = "The quote's state does not allow this", body = Problem, content_type = "application/problem+json")))]
#[post("/quotes/{id}/revise")]
pub async fn revise_quote(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    let state = target.state.clone();
    let outcome = run(target, QuoteAction::Revise, None).await?;
    let revision_id = outcome.created_quote_id.ok_or(ApiError::Internal)?;
    let revision = state
        .db
        .read(move |conn| store::get(conn, &revision_id))
        .await?;
    Ok(created(
        format!("/v1/quotes/{}", revision.id),
        revision.version,
        &Quote::from(revision),
    ))
}

/// The routes under `/quotes`.
pub fn routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(list_quotes)
        .service(create_quote)
        .service(get_quote)
        .service(update_quote)
        .service(send_quote)
        .service(accept_quote)
        .service(reject_quote)
        .service(cancel_quote)
        .service(revise_quote)
        .service(convert_quote);
}
