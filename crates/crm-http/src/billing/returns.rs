//! `/v1/returns`: returns (RMA) against orders, with their root cause.

use actix_web::{get, patch, post, web, HttpResponse};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use crm_domain::access::permissions::{Access, Resource};
use crm_domain::billing::returns::{
    may_override_window, Disposition, ReasonCode, Resolution, ReturnAction, ReturnStatus,
    RootCauseCategory,
};
use crm_domain::Violations;
use crm_store::billing::returns::{
    self as store, LineRequest, Received, Resolve, ReturnFilter, ReturnRequest, RootCause,
};
use crm_store::StoreError;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::platform::actions::{ActionResponses, ActionTarget, StateRecord};
use crate::platform::auth::Principal;
use crate::platform::error::{ApiError, Problem};
use crate::platform::extract::{ApiJson, ApiQuery, IfMatch, PagedQuery};
use crate::platform::fields::{patch, Checker, LONG};
use crate::platform::money::Money;
use crate::platform::pagination::{fixed_order, read_page, ListResponse, PageQuery};
use crate::platform::respond::{created, utc, utc_opt, versioned};
use crate::platform::state::AppState;

const SORT: &str = "-created_at";

/// A returned line.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReturnLine {
    /// The line's id, to name it when receiving.
    pub id: String,
    /// The order line returned.
    pub order_line_id: String,
    /// The product, if any.
    pub product_id: Option<String>,
    /// What was returned.
    pub description: String,
    /// How much the customer returns.
    pub quantity: String,
    /// Why.
    pub reason: ReasonCode,
    /// How much arrived.
    pub received_quantity: Option<String>,
    /// What becomes of it.
    pub disposition: Option<Disposition>,
    /// The price it was sold at.
    pub unit_price: Money,
}

/// Why the problem happened, so that it is fixed where it started.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RootCauseDto {
    /// Where it started.
    pub category: Option<RootCauseCategory>,
    /// What happened.
    pub notes: Option<String>,
    /// What will stop it happening again.
    pub preventive_action: Option<String>,
}

/// A return (RMA).
#[derive(Debug, Serialize, ToSchema)]
pub struct Return {
    /// Server-assigned id.
    pub id: String,
    /// `RMA-YYYY-NNNNNN`.
    pub number: String,
    /// The order returned against.
    pub order_id: String,
    /// The customer company.
    pub company_id: Option<String>,
    /// The customer contact.
    pub contact_id: Option<String>,
    /// requested, approved, rejected, received, resolved, closed or withdrawn.
    pub status: ReturnStatus,
    /// What the customer said.
    pub customer_comment: Option<String>,
    /// Why it was rejected.
    pub reject_reason: Option<String>,
    /// Required before resolving.
    pub root_cause: RootCauseDto,
    /// How it was resolved.
    pub resolution: Option<Resolution>,
    /// Kept back from a refund.
    pub restocking_fee: Money,
    /// Given to a customer who keeps the item.
    pub concession: Money,
    /// Given back (refund or store credit), tax included.
    pub refund: Money,
    /// Revenue kept because the customer kept the item: its value less the concession.
    pub saved_revenue: Money,
    /// The credit note issued for a refund on an invoiced order.
    pub credit_note_id: Option<String>,
    /// The manager who allowed it outside the return window.
    pub window_override_by: Option<String>,
    /// When the override was given.
    pub window_override_at: Option<DateTime<Utc>>,
    /// The lines.
    pub lines: Vec<ReturnLine>,
    /// Incremented on every change; the ETag.
    pub version: i64,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl StateRecord for Return {
    const NOUN: &'static str = "return";
}

impl From<store::Return> for Return {
    fn from(r: store::Return) -> Self {
        let c = r.currency.clone();
        Return {
            lines: r
                .lines
                .into_iter()
                .map(|l| ReturnLine {
                    id: l.id,
                    order_line_id: l.order_line_id,
                    product_id: l.product_id,
                    description: l.description,
                    quantity: l.quantity.to_string(),
                    reason: l.reason,
                    received_quantity: l.received_quantity.map(|q| q.to_string()),
                    disposition: l.disposition,
                    unit_price: Money::new(l.unit_price_minor, &c),
                })
                .collect(),
            root_cause: RootCauseDto {
                category: r.root_cause.category,
                notes: r.root_cause.notes,
                preventive_action: r.root_cause.preventive_action,
            },
            restocking_fee: Money::new(r.restocking_fee_minor, &c),
            concession: Money::new(r.concession_minor, &c),
            refund: Money::new(r.refund_minor, &c),
            saved_revenue: Money::new(r.saved_revenue_minor, &c),
            id: r.id,
            number: r.number,
            order_id: r.order_id,
            company_id: r.company_id,
            contact_id: r.contact_id,
            status: r.status,
            customer_comment: r.customer_comment,
            reject_reason: r.reject_reason,
            resolution: r.resolution,
            credit_note_id: r.credit_note_id,
            window_override_by: r.window_override_by,
            window_override_at: utc_opt(r.window_override_at),
            version: r.version,
            created_at: utc(r.created_at),
            updated_at: utc(r.updated_at),
        }
    }
}

/// A line to return.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnLineCreate {
    /// The order line (its `id` on the order).
    pub order_line_id: String,
    /// How much; never more than was sold less what other returns hold.
    pub quantity: String,
    /// Why.
    pub reason: ReasonCode,
}

/// A new return.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"order_id": "0193a1b2-0000-7000-8000-0000000000aa", "lines": [{"order_line_id": "0193a1b2-0000-7000-8000-0000000000bb", "quantity": "1", "reason": "damaged"}], "customer_comment": "The box was crushed"}))]
pub struct ReturnCreate {
    /// The order.
    pub order_id: String,
    /// At least one line.
    pub lines: Vec<ReturnLineCreate>,
    /// What the customer says.
    pub customer_comment: Option<String>,
    /// Managers only: accept it although the return window has closed. Recorded.
    pub override_window: Option<bool>,
}

impl ReturnCreate {
    /// The store's request, opened by `principal`; a window override is recorded as theirs and
    /// only managers may give one.
    fn into_request(
        self,
        principal: &Principal,
        window_days: i64,
    ) -> Result<ReturnRequest, ApiError> {
        let override_by = if self.override_window.unwrap_or(false) {
            if !may_override_window(principal.role) {
                return Err(ApiError::Forbidden(
                    "only a manager can override the return window".into(),
                ));
            }
            principal.user_id().map(str::to_owned)
        } else {
            None
        };
        return_request(
            self.order_id,
            self.lines,
            self.customer_comment,
            override_by,
            principal,
            window_days,
        )
    }
}

/// Checks a new return and builds the store's request, opened by `principal`; shared with the
/// customer portal.
pub fn return_request(
    order_id: String,
    lines: Vec<ReturnLineCreate>,
    comment: Option<String>,
    override_by: Option<String>,
    principal: &Principal,
    window_days: i64,
) -> Result<ReturnRequest, ApiError> {
    let mut c = Checker::default();
    let lines = lines
        .into_iter()
        .enumerate()
        .filter_map(|(i, l)| {
            c.quantity(&format!("lines[{i}].quantity"), &l.quantity)
                .map(|quantity| LineRequest {
                    order_line_id: l.order_line_id,
                    quantity,
                    reason: l.reason,
                    stated: None,
                })
        })
        .collect();
    let request = ReturnRequest {
        order_id,
        lines,
        customer_comment: c.optional("customer_comment", comment.as_deref(), LONG),
        window_override_by: override_by,
        opened_by: Some(principal.key()),
        window_days,
        shop_refund: false,
    };
    c.finish()?;
    Ok(request)
}

/// Changes, as a JSON Merge Patch, until the return is resolved.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"root_cause": {"category": "packaging", "notes": "Box crushed in transit", "preventive_action": "Double-wall boxes for glassware"}}))]
pub struct ReturnUpdate {
    /// What the customer says.
    #[serde(default, deserialize_with = "patch")]
    pub customer_comment: Option<Option<String>>,
    /// Merged field by field.
    #[serde(default, deserialize_with = "patch")]
    pub root_cause: Option<Option<RootCauseUpdate>>,
}

/// Changes to the root cause.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RootCauseUpdate {
    /// Where it started.
    #[serde(default, deserialize_with = "patch")]
    pub category: Option<Option<RootCauseCategory>>,
    /// What happened.
    #[serde(default, deserialize_with = "patch")]
    pub notes: Option<Option<String>>,
    /// What will stop it happening again.
    #[serde(default, deserialize_with = "patch")]
    pub preventive_action: Option<Option<String>>,
}

impl ReturnUpdate {
    /// Merges the changes into the stored root cause and comment, checking each; a `null` root
    /// cause clears all of it.
    fn apply(self, cause: &mut RootCause, comment: &mut Option<String>) -> Result<(), Violations> {
        let mut c = Checker::default();
        if let Some(v) = self.customer_comment {
            *comment = c.optional("customer_comment", v.as_deref(), LONG);
        }
        if let Some(rc) = self.root_cause {
            rc.unwrap_or_else(RootCauseUpdate::clear)
                .merge(&mut c, cause);
        }
        c.finish()
    }
}

impl RootCauseUpdate {
    /// Merges the changes into a stored root cause field by field; `null` for the whole root
    /// cause (an update of `None`s set to `Some(None)`) clears it.
    pub fn merge(self, c: &mut Checker, cause: &mut RootCause) {
        if let Some(v) = self.category {
            cause.category = v;
        }
        if let Some(v) = self.notes {
            cause.notes = c.optional("root_cause.notes", v.as_deref(), LONG);
        }
        if let Some(v) = self.preventive_action {
            cause.preventive_action =
                c.optional("root_cause.preventive_action", v.as_deref(), LONG);
        }
    }

    /// The update that clears a root cause, for a `null` in its place.
    pub fn clear() -> Self {
        RootCauseUpdate {
            category: Some(None),
            notes: Some(None),
            preventive_action: Some(None),
        }
    }
}

/// Filters and paging for the return list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReturnListQuery {
    /// Only this status.
    pub status: Option<ReturnStatus>,
    /// Only returns of this order.
    pub order_id: Option<String>,
    /// Only returns of this company.
    pub company_id: Option<String>,
}

#[utoipa::path(tag = "returns", operation_id = "listReturns", summary = "List returns", description = "Newest first.",
    params(ReturnListQuery, PageQuery),
    responses((status = 200, description = "A page of returns", body = ListResponse<Return>)))]
#[get("/returns")]
pub async fn list_returns(
    state: web::Data<AppState>,
    principal: Principal,
    PagedQuery(query, paging): PagedQuery<ReturnListQuery>,
) -> Result<web::Json<ListResponse<Return>>, ApiError> {
    principal.authorize(Resource::Returns, Access::Read)?;
    let page = fixed_order(SORT, &paging)?;
    let filter = ReturnFilter {
        status: query.status,
        order_id: query.order_id,
        company_id: query.company_id,
    };
    read_page(&state, store::list, filter, page, SORT, Return::from).await
}

#[utoipa::path(tag = "returns", operation_id = "createReturn", summary = "Open a return",
    description = "Against an order, within the return window (30 days by default) unless a manager overrides it. A returned quantity never exceeds what was sold less what other returns hold, also under concurrent requests.",
    request_body = ReturnCreate,
    responses((status = 201, description = "Opened", body = Return, headers(("Location" = String, description = "URL of the return"), ("ETag" = String, description = "Its version")))))]
#[post("/returns")]
pub async fn create_return(
    state: web::Data<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<ReturnCreate>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Returns, Access::Write)?;
    let request = body.into_request(&principal, state.settings.return_window_days)?;
    let ret = state
        .db
        .write(move |conn| store::open(conn, request))
        .await?;
    Ok(created(
        format!("/v1/returns/{}", ret.id),
        ret.version,
        &Return::from(ret),
    ))
}

#[utoipa::path(tag = "returns", operation_id = "getReturn", summary = "Get a return",
    params(("id" = String, Path, description = "Return id")),
    responses((status = 200, description = "The return", body = Return, headers(("ETag" = String, description = "Its version")))))]
#[get("/returns/{id:[0-9a-fA-F-]+}")]
pub async fn get_return(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    target
        .respond(Resource::Returns, store::get, |r| r.version, Return::from)
        .await
}

#[utoipa::path(tag = "returns", operation_id = "updateReturn", summary = "Record a return's root cause or comment",
    params(("id" = String, Path, description = "Return id")),
    request_body(content = ReturnUpdate, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The return", body = Return, headers(("ETag" = String, description = "Its new version")))))]
#[patch("/returns/{id:[0-9a-fA-F-]+}")]
pub async fn update_return(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    if_match: IfMatch,
    ApiJson(body): ApiJson<ReturnUpdate>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Returns, Access::Write)?;
    let ret = state
        .db
        .write(move |conn| {
            store::update(conn, &id, if_match.0, |cause, comment| {
                body.apply(cause, comment).map_err(StoreError::from)
            })
        })
        .await?;
    Ok(versioned(ret.version, &Return::from(ret)))
}

async fn act(
    target: ActionTarget,
    action: ReturnAction,
    reason: Option<String>,
) -> Result<HttpResponse, ApiError> {
    let ret = target
        .write(Resource::Returns, move |conn, id, version| {
            store::act(conn, id, version, action, reason)
        })
        .await?;
    Ok(versioned(ret.version, &Return::from(ret)))
}

#[utoipa::path(tag = "returns", operation_id = "approveReturn", summary = "Approve a return",
    description = "requested → approved.",
    params(("id" = String, Path, description = "Return id")),
    responses(ActionResponses<Return>))]
#[post("/returns/{id}/approve")]
pub async fn approve_return(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    act(target, ReturnAction::Approve, None).await
}

#[utoipa::path(tag = "returns", operation_id = "closeReturn", summary = "Close a return",
    description = "resolved → closed.",
    params(("id" = String, Path, description = "Return id")),
    responses(ActionResponses<Return>))]
#[post("/returns/{id}/close")]
pub async fn close_return(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    act(target, ReturnAction::Close, None).await
}

#[utoipa::path(tag = "returns", operation_id = "withdrawReturn", summary = "Withdraw a return",
    description = "requested or approved → withdrawn: the customer kept it. Its quantities are free again.",
    params(("id" = String, Path, description = "Return id")),
    responses(ActionResponses<Return>))]
#[post("/returns/{id}/withdraw")]
pub async fn withdraw_return(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    act(target, ReturnAction::Withdraw, None).await
}

/// Why a return is rejected.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "Used beyond the trial period"}))]
pub struct RejectReturn {
    /// The reason.
    pub reason: String,
}

#[utoipa::path(tag = "returns", operation_id = "rejectReturn", summary = "Reject a return", description = "requested → rejected, with a reason.",
    params(("id" = String, Path, description = "Return id")),
    request_body = RejectReturn,
    responses(
        (status = 200, description = "The return", body = Return, headers(("ETag" = String, description = "Its new version"))),
        (status = 409, description = "The return's state does not allow this", body = Problem, content_type = "application/problem+json")))]
#[post("/returns/{id}/reject")]
pub async fn reject_return(
    target: ActionTarget,
    ApiJson(body): ApiJson<RejectReturn>,
) -> Result<HttpResponse, ApiError> {
    let mut c = Checker::default();
    let reason = c.required("reason", &body.reason, 2000);
    c.finish()?;
    act(target, ReturnAction::Reject, Some(reason)).await
}

/// One line as it arrived.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceivedLine {
    /// The return line.
    pub return_line_id: String,
    /// How much arrived; at most what was requested.
    pub quantity: String,
    /// What becomes of it.
    pub disposition: Disposition,
}

/// What arrived.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"lines": [{"return_line_id": "0193a1b2-0000-7000-8000-0000000000cc", "quantity": "1", "disposition": "scrap"}]}))]
pub struct ReceiveReturn {
    /// Per line.
    pub lines: Vec<ReceivedLine>,
}

impl ReceiveReturn {
    fn into_received(self) -> Result<Vec<Received>, ApiError> {
        let mut c = Checker::default();
        let received = self
            .lines
            .into_iter()
            .enumerate()
            .filter_map(|(i, l)| {
                c.quantity(&format!("lines[{i}].quantity"), &l.quantity)
                    .map(|quantity| Received {
                        return_line_id: l.return_line_id,
                        quantity,
                        disposition: l.disposition,
                    })
            })
            .collect();
        c.finish()?;
        Ok(received)
    }
}

#[utoipa::path(tag = "returns", operation_id = "receiveReturn", summary = "Receive a return", description = "approved → received, with the quantity received and the disposition of each line.",
    params(("id" = String, Path, description = "Return id")),
    request_body = ReceiveReturn,
    responses(
        (status = 200, description = "The return", body = Return, headers(("ETag" = String, description = "Its new version"))),
        (status = 409, description = "The return's state does not allow this", body = Problem, content_type = "application/problem+json")))]
#[post("/returns/{id}/receive")]
pub async fn receive_return(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    if_match: IfMatch,
    ApiJson(body): ApiJson<ReceiveReturn>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Returns, Access::Write)?;
    let received = body.into_received()?;
    let ret = state
        .db
        .write(move |conn| store::receive(conn, &id, if_match.0, received))
        .await?;
    Ok(versioned(ret.version, &Return::from(ret)))
}

/// How a return is resolved.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"resolution": "refund", "restocking_fee": {"amount_minor": 500, "currency": "EUR"}}))]
pub struct ResolveReturn {
    /// The resolution.
    pub resolution: Resolution,
    /// Kept back from a refund; default none.
    pub restocking_fee: Option<Money>,
    /// For `retained_with_discount`: what the customer gets to keep the item.
    pub concession: Option<Money>,
}

impl ResolveReturn {
    /// The resolution, its amounts checked against the return's `currency`.
    fn resolve_in(self, currency: &str) -> Result<Resolve, StoreError> {
        let mut c = Checker::default();
        let fee = self
            .restocking_fee
            .as_ref()
            .and_then(|m| c.money("restocking_fee", m, Some(currency)))
            .unwrap_or(0);
        let concession = self
            .concession
            .as_ref()
            .and_then(|m| c.money("concession", m, Some(currency)));
        c.finish()?;
        Ok(Resolve {
            resolution: self.resolution,
            restocking_fee_minor: fee,
            concession_minor: concession,
            shop_refund: false,
        })
    }
}

#[utoipa::path(tag = "returns", operation_id = "resolveReturn", summary = "Resolve a return",
    description = "received (or, for `retained_with_discount`, approved) → resolved. The root cause must be recorded first (`422`). A refund or store credit on an invoiced order issues a credit note in the same transaction.",
    params(("id" = String, Path, description = "Return id")),
    request_body = ResolveReturn,
    responses(
        (status = 200, description = "The return", body = Return, headers(("ETag" = String, description = "Its new version"))),
        (status = 409, description = "The return's state does not allow this", body = Problem, content_type = "application/problem+json")))]
#[post("/returns/{id}/resolve")]
pub async fn resolve_return(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    if_match: IfMatch,
    ApiJson(body): ApiJson<ResolveReturn>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Returns, Access::Write)?;
    let ret = state
        .db
        .write(move |conn| {
            store::resolve_return(conn, &id, if_match.0, |currency| body.resolve_in(currency))
        })
        .await?;
    Ok(versioned(ret.version, &Return::from(ret)))
}

/// A count under a label.
#[derive(Debug, Serialize, ToSchema)]
pub struct Count {
    /// The reason code, category or resolution.
    pub key: String,
    /// How many.
    pub count: i64,
}

/// What returns say about the business, for a period.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReturnReport {
    /// Returns opened in the period.
    pub returns: i64,
    /// Returned lines per reason code.
    pub by_reason: Vec<Count>,
    /// Returns per root-cause category (`unknown` until recorded).
    pub by_root_cause: Vec<Count>,
    /// Returns per resolution (`unresolved` until resolved).
    pub by_resolution: Vec<Count>,
    /// Refunded and credited (tax included), in the base currency.
    pub refunded: Money,
    /// Revenue saved by concessions, in the base currency.
    pub saved_revenue: Money,
}

/// The report's period.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReturnReportQuery {
    /// First day, inclusive.
    pub from: NaiveDate,
    /// Last day, inclusive.
    pub to: NaiveDate,
}

impl ReturnReportQuery {
    /// The period as instants: from the start of `from` up to, not including, the day after `to`.
    fn period(&self) -> Result<(NaiveDateTime, NaiveDateTime), ApiError> {
        if self.to < self.from || (self.to - self.from).num_days() > 3660 {
            return Err(ApiError::validation(
                "to",
                "must be on or after from, within ten years",
            ));
        }
        let from = self.from.and_hms_opt(0, 0, 0).unwrap_or_default();
        let to = self
            .to
            .succ_opt()
            .unwrap_or(self.to)
            .and_hms_opt(0, 0, 0)
            .unwrap_or_default();
        Ok((from, to))
    }
}

impl ReturnReport {
    /// The report, its amounts in `currency`, the base currency.
    fn in_currency(r: store::ReturnReport, currency: &str) -> Self {
        let counts = |v: Vec<(String, i64)>| {
            v.into_iter()
                .map(|(key, count)| Count { key, count })
                .collect()
        };
        ReturnReport {
            returns: r.returns,
            by_reason: counts(r.by_reason),
            by_root_cause: counts(r.by_root_cause),
            by_resolution: counts(r.by_resolution),
            refunded: Money::new(r.refunded_minor, currency),
            saved_revenue: Money::new(r.saved_revenue_minor, currency),
        }
    }
}

#[utoipa::path(tag = "returns", operation_id = "getReturnReport", summary = "Report on reasons, root causes and resolutions",
    description = "Amounts are in the base currency, each converted at the latest rate on or before the end of the month the return was resolved; a missing rate is a `422` naming the currency and the date.",
    params(ReturnReportQuery),
    responses((status = 200, description = "The report", body = ReturnReport)))]
#[get("/returns/report")]
pub async fn return_report(
    state: web::Data<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<ReturnReportQuery>,
) -> Result<web::Json<ReturnReport>, ApiError> {
    principal.authorize(Resource::Returns, Access::Read)?;
    let (from, to) = query.period()?;
    let base = state.settings.base_currency;
    let report = state
        .db
        .read(move |conn| store::report(conn, from, to, base))
        .await?;
    Ok(web::Json(ReturnReport::in_currency(report, base.as_str())))
}

/// The routes under `/returns`.
pub fn routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(list_returns)
        .service(create_return)
        .service(return_report)
        .service(get_return)
        .service(update_return)
        .service(approve_return)
        .service(reject_return)
        .service(receive_return)
        .service(resolve_return)
        .service(close_return)
        .service(withdraw_return);
}
