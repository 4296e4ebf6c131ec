//! `/v1/portal/cases`: a customer user's cases, as its company sees them: no internal notes,
//! SLA, escalation, tier or flags. Another company's case is `404` on every route.

use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use crm_domain::access::permissions::Access;
use crm_domain::service::cases::{
    Author, CaseCategory, CaseChannel, CasePriority, CaseStatus, Locale,
};
use crm_store::billing::returns::RootCause;
use crm_store::service::cases::{self as store, CaseFields, CaseFilter, NewCase};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::billing::portal::own_company;
use crate::platform::auth::Principal;
use crate::platform::error::ApiError;
use crate::platform::extract::{ApiJson, ApiQuery};
use crate::platform::fields::{Checker, LONG, SHORT};
use crate::platform::pagination::{fixed_order, respond, ListResponse, PageQuery};
use crate::platform::respond::{created, utc, utc_opt};
use crate::platform::state::AppState;
use crate::service::cases::{Comment, CommentList};

const NEWEST_FIRST: &str = "-created_at";

/// A case of my company.
#[derive(Debug, Serialize, ToSchema)]
pub struct PortalCase {
    pub id: String,
    pub number: String,
    pub subject: String,
    pub description: Option<String>,
    pub contact_id: Option<String>,
    pub locale: Locale,
    pub order_id: Option<String>,
    pub return_id: Option<String>,
    pub invoice_id: Option<String>,
    pub channel: CaseChannel,
    pub category: CaseCategory,
    pub status: CaseStatus,
    /// When it was last resolved.
    pub resolved_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<store::Case> for PortalCase {
    fn from(c: store::Case) -> Self {
        PortalCase {
            resolved_at: utc_opt(c.sla.resolution.done_at),
            id: c.id,
            number: c.number,
            subject: c.fields.subject,
            description: c.fields.description,
            contact_id: c.fields.contact_id,
            locale: c.fields.locale,
            order_id: c.fields.order_id,
            return_id: c.fields.return_id,
            invoice_id: c.fields.invoice_id,
            channel: c.fields.channel,
            category: c.fields.category,
            status: c.status,
            created_at: utc(c.created_at),
            updated_at: utc(c.updated_at),
        }
    }
}

/// A case a customer opens.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"subject": "El pedido llegó incompleto", "category": "complaint", "order_id": "0190c1b2-7a3e-7d40-9b1a-2f7c9d1e4a55"}))]
pub struct PortalCaseCreate {
    pub subject: String,
    pub description: Option<String>,
    /// Default `question`.
    pub category: Option<CaseCategory>,
    /// A contact of my company.
    pub contact_id: Option<String>,
    /// An order of my company; another's is a `422`.
    pub order_id: Option<String>,
    pub return_id: Option<String>,
    pub invoice_id: Option<String>,
    pub locale: Option<Locale>,
}

#[utoipa::path(tag = "portal", operation_id = "createPortalCase", summary = "Open a case",
    description = "Opened on channel `portal` at priority `normal`; the desk's SLA applies as to any case.",
    request_body = PortalCaseCreate,
    responses((status = 201, description = "Created", body = PortalCase, headers(("Location" = String, description = "URL of the case")))))]
#[post("/portal/cases")]
pub async fn create_portal_case(
    state: web::Data<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<PortalCaseCreate>,
) -> Result<HttpResponse, ApiError> {
    let company = own_company(&principal, Access::Write)?;
    let mut c = Checker::default();
    let fields = CaseFields {
        subject: c.required("subject", &body.subject, SHORT),
        description: c.optional("description", body.description.as_deref(), LONG),
        contact_id: body.contact_id,
        locale: Locale::Es,
        tags: Vec::new(),
        order_id: body.order_id,
        return_id: body.return_id,
        invoice_id: body.invoice_id,
        channel: CaseChannel::Portal,
        priority: CasePriority::Normal,
        category: body.category.unwrap_or(CaseCategory::Question),
        root_cause: RootCause::default(),
    };
    c.finish()?;
    let new = NewCase {
        company_id: company,
        fields,
        assignee_id: None,
        team_id: None,
        opened_by: principal.user_id().map(str::to_owned),
        locale: body.locale,
    };
    let clock = state.settings.clock;
    let case = state
        .db
        .write(move |conn| store::open_case(conn, clock, new))
        .await?;
    Ok(created(
        format!("/v1/portal/cases/{}", case.id),
        case.version,
        &PortalCase::from(case),
    ))
}

#[utoipa::path(tag = "portal", operation_id = "listPortalCases", summary = "My company's cases",
    params(PageQuery),
    responses((status = 200, description = "A page of cases, newest first", body = ListResponse<PortalCase>)))]
#[get("/portal/cases")]
pub async fn list_portal_cases(
    state: web::Data<AppState>,
    principal: Principal,
    ApiQuery(paging): ApiQuery<PageQuery>,
) -> Result<web::Json<ListResponse<PortalCase>>, ApiError> {
    let company = own_company(&principal, Access::Read)?;
    let page = fixed_order(NEWEST_FIRST, &paging)?;
    let filter = CaseFilter {
        company_id: Some(company),
        ..CaseFilter::default()
    };
    let clock = state.settings.clock;
    let result = state
        .db
        .read(move |conn| store::list(conn, clock, &filter, &page))
        .await?;
    Ok(web::Json(respond(result, NEWEST_FIRST, PortalCase::from)))
}

#[utoipa::path(tag = "portal", operation_id = "getPortalCase", summary = "One of my company's cases",
    params(("id" = String, Path, description = "Case id")),
    responses((status = 200, description = "The case", body = PortalCase)))]
#[get("/portal/cases/{id}")]
pub async fn get_portal_case(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<web::Json<PortalCase>, ApiError> {
    let company = own_company(&principal, Access::Read)?;
    let clock = state.settings.clock;
    let case = state
        .db
        .read(move |conn| store::get_of_company(conn, clock, &id, &company))
        .await?;
    Ok(web::Json(case.into()))
}

#[utoipa::path(tag = "portal", operation_id = "listPortalCaseComments", summary = "The replies on one of my cases",
    description = "Public comments only, oldest first.",
    params(("id" = String, Path, description = "Case id")),
    responses((status = 200, description = "The replies", body = CommentList)))]
#[get("/portal/cases/{id}/comments")]
pub async fn list_portal_case_comments(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<web::Json<CommentList>, ApiError> {
    let company = own_company(&principal, Access::Read)?;
    let comments = state
        .db
        .read(move |conn| store::comments(conn, &id, Some(&company)))
        .await?;
    Ok(web::Json(CommentList {
        data: comments.into_iter().map(Comment::from).collect(),
    }))
}

/// My reply.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PortalCommentCreate {
    pub body: String,
}

#[utoipa::path(tag = "portal", operation_id = "createPortalCaseComment", summary = "Reply on one of my cases",
    description = "Reopens a pending case, or a resolved one within the reopen window. A closed case takes no replies (`409`).",
    params(("id" = String, Path, description = "Case id")),
    request_body = PortalCommentCreate,
    responses((status = 201, description = "Created", body = Comment)))]
#[post("/portal/cases/{id}/comments")]
pub async fn create_portal_case_comment(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    ApiJson(body): ApiJson<PortalCommentCreate>,
) -> Result<HttpResponse, ApiError> {
    let company = own_company(&principal, Access::Write)?;
    let mut c = Checker::default();
    let text = c.required("body", &body.body, LONG);
    c.finish()?;
    let clock = state.settings.clock;
    let user = principal.user_id().map(str::to_owned);
    let comment = state
        .db
        .write(move |conn| {
            store::comment(
                conn,
                clock,
                &id,
                None,
                Some(&company),
                user.as_deref(),
                Author::Customer,
                text,
            )
        })
        .await?;
    Ok(created(
        format!("/v1/portal/cases/{}/comments", comment.case_id),
        1,
        &Comment::from(comment),
    ))
}

/// The routes under `/portal`.
pub fn routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(list_portal_cases)
        .service(create_portal_case)
        .service(get_portal_case)
        .service(list_portal_case_comments)
        .service(create_portal_case_comment);
}
