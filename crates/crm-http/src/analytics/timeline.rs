//! `/v1/contacts/{id}/timeline` and `/v1/companies/{id}/timeline`.

use actix_web::{get, web};
use chrono::{DateTime, Utc};
use crm_domain::access::permissions::{Access, Resource};
use crm_domain::parties::timeline::{self as domain, Subject, TimelineKind};
use crm_store::analytics::timeline as store;
use serde::Serialize;
use utoipa::ToSchema;

use crate::platform::auth::Principal;
use crate::platform::error::ApiError;
use crate::platform::extract::ApiQuery;
use crate::platform::pagination::{decode_cursor, page_limit, respond, ListResponse, PageQuery};
use crate::platform::respond::utc;
use crate::platform::state::AppState;

/// The only order of a timeline: newest first.
const SORT: &str = "-at";

/// One entry of a customer's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineEntry {
    /// What kind of record this is; fetch it from its own resource by `id`.
    pub kind: TimelineKind,
    /// The record's id.
    pub id: String,
    /// When it happened (or is planned for).
    pub at: DateTime<Utc>,
    /// One line describing it.
    pub summary: String,
    /// The kind's own classification, such as `call` for an interaction.
    pub detail: Option<String>,
    /// The contact it concerns.
    pub contact_id: Option<String>,
    /// The company it concerns.
    pub company_id: Option<String>,
    /// The user involved.
    pub user_id: Option<String>,
}

impl From<domain::TimelineEntry> for TimelineEntry {
    fn from(e: domain::TimelineEntry) -> Self {
        TimelineEntry {
            kind: e.kind,
            id: e.id,
            at: utc(e.at),
            summary: e.summary,
            detail: e.detail,
            contact_id: e.contact_id,
            company_id: e.company_id,
            user_id: e.user_id,
        }
    }
}

/// A page of the subject's timeline. It shows records of every context, so besides the subject
/// the caller must be allowed to read its interactions.
async fn page(
    state: &AppState,
    principal: &Principal,
    subject: Subject,
    query: PageQuery,
) -> Result<web::Json<ListResponse<TimelineEntry>>, ApiError> {
    let resource = match subject {
        Subject::Contact(_) => Resource::Contacts,
        Subject::Company(_) => Resource::Companies,
    };
    principal.authorize(resource, Access::Read)?;
    principal.authorize(Resource::Interactions, Access::Read)?;
    let limit = page_limit(query.limit)?;
    let after = decode_cursor(query.cursor.as_deref(), SORT)?;
    let result = state
        .db
        .read(move |conn| store::page(conn, &subject, limit, after))
        .await?;
    Ok(web::Json(respond(result, SORT, TimelineEntry::from)))
}

#[utoipa::path(
    tag = "contacts",
    operation_id = "getContactTimeline",
    summary = "A contact's timeline",
    description = "Everything that touched the contact, newest first.",
    params(("id" = String, Path, description = "Contact id"), PageQuery),
    responses((status = 200, description = "A page of the timeline", body = ListResponse<TimelineEntry>))
)]
#[get("/contacts/{id}/timeline")]
pub async fn contact_timeline(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    ApiQuery(paging): ApiQuery<PageQuery>,
) -> Result<web::Json<ListResponse<TimelineEntry>>, ApiError> {
    let subject = Subject::Contact(id.into_inner());
    page(&state, &principal, subject, paging).await
}

#[utoipa::path(
    tag = "companies",
    operation_id = "getCompanyTimeline",
    summary = "A company's timeline",
    description = "Everything that touched the company or its contacts, newest first.",
    params(("id" = String, Path, description = "Company id"), PageQuery),
    responses((status = 200, description = "A page of the timeline", body = ListResponse<TimelineEntry>))
)]
#[get("/companies/{id}/timeline")]
pub async fn company_timeline(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    ApiQuery(paging): ApiQuery<PageQuery>,
) -> Result<web::Json<ListResponse<TimelineEntry>>, ApiError> {
    let subject = Subject::Company(id.into_inner());
    page(&state, &principal, subject, paging).await
}

/// The routes under `/companies`.
pub fn companies_routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(company_timeline);
}

/// The routes under `/contacts`.
pub fn contacts_routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(contact_timeline);
}
