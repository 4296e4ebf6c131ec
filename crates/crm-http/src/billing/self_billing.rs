//! `/v1/self-billing/agreements`, accepting or disputing self-billed invoices, and the customer's
//! `/v1/portal/self-billed-invoices`.

use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use crm_domain::access::permissions::{Access, Resource};
use crm_domain::billing::agreements::{check_auto_accept_days, check_series_prefix};
use crm_store::billing::invoices::VatMentions;
use crm_store::billing::self_billing::{self as store, AgreementFields};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::billing::invoices::{check_order_ids, vat_mentions, Invoice};
use crate::platform::actions::ActionTarget;
use crate::platform::auth::Principal;
use crate::platform::error::{ApiError, Problem};
use crate::platform::extract::{ApiJson, IfMatch, PagedQuery};
use crate::platform::fields::{Checker, LONG};
use crate::platform::pagination::{fixed_order, respond, ListResponse, PageQuery};
use crate::platform::respond::{created, utc, versioned};
use crate::platform::state::AppState;

/// A self-billing agreement with a customer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Agreement {
    /// Server-assigned id.
    pub id: String,
    /// The customer who issues invoices on our behalf.
    pub company_id: String,
    /// The dedicated series of its self-billed invoices (389).
    pub series_id: String,
    /// The dedicated series of their credit notes (261).
    pub credit_series_id: String,
    /// First day in force.
    pub valid_from: NaiveDate,
    /// Last day in force; open-ended when null.
    pub valid_to: Option<NaiveDate>,
    /// Invoices neither accepted nor disputed within these days are accepted.
    pub auto_accept_days: Option<i64>,
    /// The acceptance terms agreed.
    pub terms: Option<String>,
    /// `active` or `terminated`.
    pub status: String,
    /// The ETag.
    pub version: i64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

impl From<store::Agreement> for Agreement {
    fn from(a: store::Agreement) -> Self {
        Agreement {
            id: a.id,
            company_id: a.company_id,
            series_id: a.series_id,
            credit_series_id: a.credit_series_id,
            valid_from: a.valid_from,
            valid_to: a.valid_to,
            auto_accept_days: a.auto_accept_days,
            terms: a.terms,
            status: a.status,
            version: a.version,
            created_at: utc(a.created_at),
        }
    }
}

/// A new agreement.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"company_id": "0193a1b2-0000-7000-8000-000000000001", "valid_from": "2026-01-01", "valid_to": "2026-12-31", "auto_accept_days": 15, "series_prefix": "ACME", "terms": "Invoices are accepted unless disputed within 15 days."}))]
pub struct AgreementCreate {
    /// The customer.
    pub company_id: String,
    /// First day in force.
    pub valid_from: NaiveDate,
    /// Last day in force.
    pub valid_to: Option<NaiveDate>,
    /// Auto-acceptance after these days (1 to 365); none without.
    pub auto_accept_days: Option<i64>,
    /// The acceptance terms.
    pub terms: Option<String>,
    /// Prefix of the agreement's series: letters and digits, up to 8.
    pub series_prefix: String,
}

impl AgreementCreate {
    fn into_fields(self) -> Result<AgreementFields, ApiError> {
        let mut c = Checker::default();
        let prefix = c.required("series_prefix", &self.series_prefix, 8);
        for rule in [
            check_series_prefix(&prefix),
            check_auto_accept_days(self.auto_accept_days),
        ] {
            if let Err(violation) = rule {
                c.violations.push(violation);
            }
        }
        let terms = c.optional("terms", self.terms.as_deref(), LONG);
        c.finish()?;
        Ok(AgreementFields {
            company_id: self.company_id,
            valid_from: self.valid_from,
            valid_to: self.valid_to,
            auto_accept_days: self.auto_accept_days,
            terms,
            series_prefix: prefix.to_uppercase(),
        })
    }
}

/// Paging for agreements.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AgreementListQuery {
    /// Only this customer.
    pub company_id: Option<String>,
}

#[utoipa::path(tag = "self-billing", operation_id = "listAgreements", summary = "List self-billing agreements",
    params(AgreementListQuery, PageQuery),
    responses((status = 200, description = "A page of agreements, oldest first", body = ListResponse<Agreement>)))]
#[get("/self-billing/agreements")]
pub async fn list_agreements(
    state: web::Data<AppState>,
    principal: Principal,
    PagedQuery(query, paging): PagedQuery<AgreementListQuery>,
) -> Result<web::Json<ListResponse<Agreement>>, ApiError> {
    principal.authorize(Resource::Invoices, Access::Read)?;
    let page = fixed_order("created_at", &paging)?;
    let company = query.company_id;
    let result = state
        .db
        .read(move |conn| store::list(conn, company.as_deref(), &page))
        .await?;
    Ok(web::Json(respond(result, "created_at", Agreement::from)))
}

#[utoipa::path(tag = "self-billing", operation_id = "createAgreement", summary = "Create a self-billing agreement",
    description = "Creates its two dedicated series. A customer has at most one active agreement for any day (`409`).",
    request_body = AgreementCreate,
    responses((status = 201, description = "Created", body = Agreement, headers(("Location" = String, description = "URL of the agreement"), ("ETag" = String, description = "Its version")))))]
#[post("/self-billing/agreements")]
pub async fn create_agreement(
    state: web::Data<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<AgreementCreate>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Invoices, Access::Write)?;
    let fields = body.into_fields()?;
    let agreement = state
        .db
        .write(move |conn| store::create(conn, fields))
        .await?;
    Ok(created(
        format!("/v1/self-billing/agreements/{}", agreement.id),
        agreement.version,
        &Agreement::from(agreement),
    ))
}

#[utoipa::path(tag = "self-billing", operation_id = "getAgreement", summary = "Get a self-billing agreement",
    params(("id" = String, Path, description = "Agreement id")),
    responses((status = 200, description = "The agreement", body = Agreement, headers(("ETag" = String, description = "Its version")))))]
#[get("/self-billing/agreements/{id}")]
pub async fn get_agreement(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    target
        .respond(
            Resource::Invoices,
            store::get,
            |r| r.version,
            Agreement::from,
        )
        .await
}

#[utoipa::path(tag = "self-billing", operation_id = "terminateAgreement", summary = "Terminate a self-billing agreement",
    params(("id" = String, Path, description = "Agreement id")),
    responses((status = 200, description = "The agreement", body = Agreement, headers(("ETag" = String, description = "Its new version")))))]
#[post("/self-billing/agreements/{id}/terminate")]
pub async fn terminate_agreement(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    let agreement = target.write(Resource::Invoices, store::terminate).await?;
    Ok(versioned(agreement.version, &Agreement::from(agreement)))
}

#[utoipa::path(tag = "self-billing", operation_id = "acceptSelfBilledInvoice", summary = "Accept a self-billed invoice",
    description = "pending_acceptance → issued.",
    params(("id" = String, Path, description = "Invoice id")),
    responses(
        (status = 200, description = "The invoice", body = Invoice, headers(("ETag" = String, description = "Its new version"))),
        (status = 409, description = "Not awaiting acceptance", body = Problem, content_type = "application/problem+json")))]
#[post("/invoices/{id}/accept")]
pub async fn accept_invoice(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    let invoice = target.write(Resource::Invoices, store::accept).await?;
    Ok(versioned(invoice.version, &Invoice::from(invoice)))
}

/// Why a self-billed invoice is disputed.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "Unit price differs from the agreed tariff"}))]
pub struct DisputeInvoice {
    /// The reason.
    pub reason: String,
}

#[utoipa::path(tag = "self-billing", operation_id = "disputeSelfBilledInvoice", summary = "Dispute a self-billed invoice",
    description = "pending_acceptance → disputed. Correct it with a self-billed credit note (261) and a new invoice.",
    params(("id" = String, Path, description = "Invoice id")),
    request_body = DisputeInvoice,
    responses(
        (status = 200, description = "The invoice", body = Invoice, headers(("ETag" = String, description = "Its new version"))),
        (status = 409, description = "Not awaiting acceptance", body = Problem, content_type = "application/problem+json")))]
#[post("/invoices/{id}/dispute")]
pub async fn dispute_invoice(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    if_match: IfMatch,
    ApiJson(body): ApiJson<DisputeInvoice>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Invoices, Access::Write)?;
    let mut c = Checker::default();
    let reason = c.required("reason", &body.reason, 2000);
    c.finish()?;
    let invoice = state
        .db
        .write(move |conn| store::dispute(conn, &id, if_match.0, reason))
        .await?;
    Ok(versioned(invoice.version, &Invoice::from(invoice)))
}

/// Orders the customer invoices on our behalf.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"order_ids": ["0193a1b2-0000-7000-8000-0000000000aa"]}))]
pub struct SelfBilledInvoiceCreate {
    /// My fulfilled orders not yet invoiced, at most 100.
    pub order_ids: Vec<String>,
    /// Why its lines at 0% VAT are exempt, as the law words it; printed, and required when a
    /// line is at 0%.
    pub exemption_reason: Option<String>,
    /// We, the recipient, account for the VAT (reverse charge): every line at 0%, and my
    /// company needs a VAT number (`tax_id`). Default false.
    pub reverse_charge: Option<bool>,
    /// When the goods were supplied, if not on the issue date; printed.
    pub supply_date: Option<NaiveDate>,
}

impl SelfBilledInvoiceCreate {
    /// The orders to invoice and the VAT mentions to print.
    fn into_parts(self) -> Result<(Vec<String>, VatMentions), ApiError> {
        let mut c = Checker::default();
        let vat = vat_mentions(
            &mut c,
            self.exemption_reason.as_deref(),
            self.reverse_charge,
            self.supply_date,
        );
        check_order_ids(&mut c, &self.order_ids);
        c.finish()?;
        Ok((self.order_ids, vat))
    }
}

#[utoipa::path(tag = "portal", operation_id = "createSelfBilledInvoice", summary = "Issue a self-billed invoice",
    description = "Under my company's self-billing agreement in force today: an invoice (389) for my fulfilled, not yet invoiced orders, numbered in the agreement's series and awaiting the supplier's acceptance. It prints what VAT Directive art. 226 asks, as `POST /v1/invoices` does: a 0% line needs `exemption_reason` or `reverse_charge`. Refused with a 4xx naming the rule: no agreement, an expired or future one (`422`), orders that are not mine or not fulfilled (`422`), orders already invoiced (`409`).",
    request_body = SelfBilledInvoiceCreate,
    responses((status = 201, description = "Issued, awaiting acceptance", body = Invoice, headers(("Location" = String, description = "URL of the invoice in the portal")))))]
#[post("/portal/self-billed-invoices")]
pub async fn create_self_billed_invoice(
    state: web::Data<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<SelfBilledInvoiceCreate>,
) -> Result<HttpResponse, ApiError> {
    let company = crate::billing::portal::own_company(&principal, Access::Write)?;
    let (order_ids, vat) = body.into_parts()?;
    let today = Utc::now().date_naive();
    let invoice = state
        .db
        .write(move |conn| store::issue_for_customer(conn, &company, order_ids, vat, today))
        .await?;
    Ok(created(
        format!("/v1/portal/invoices/{}", invoice.id),
        invoice.version,
        &Invoice::from(invoice),
    ))
}

/// The routes under `/invoices`.
pub fn invoices_routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(accept_invoice).service(dispute_invoice);
}

/// The routes under `/self-billing`.
pub fn self_billing_routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(list_agreements)
        .service(create_agreement)
        .service(get_agreement)
        .service(terminate_agreement);
}

/// The routes under `/portal`.
pub fn portal_routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(create_self_billed_invoice);
}
