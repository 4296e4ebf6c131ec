//! `/v1/cases`: support cases, their states, comments, event log and SLA.

use actix_web::{get, patch, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use crm_domain::access::permissions::{Access, Resource};
use crm_domain::service::cases::{
    Author, CaseAction, CaseCategory, CaseChangeType, CaseChannel, CasePriority, CaseStatus, Locale,
};
use crm_domain::service::sla::SlaStatus;
use crm_domain::Violations;
use crm_store::billing::returns::RootCause;
use crm_store::service::cases::{self as store, AssigneeFilter, CaseFields, CaseFilter, NewCase};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::billing::returns::{RootCauseDto, RootCauseUpdate};
use crate::platform::actions::{ActionResponses, ActionTarget, StateRecord};
use crate::platform::auth::{random_token, secret_hash, Principal};
use crate::platform::error::ApiError;
use crate::platform::extract::{ApiJson, PagedQuery};
use crate::platform::fields::{patch, Checker, LONG, SHORT};
use crate::platform::pagination::{fixed_order, ListResponse, PageQuery};
use crate::platform::respond::{created, utc, utc_opt, versioned};
use crate::platform::state::AppState;

/// A support case.
#[derive(Debug, Serialize, ToSchema)]
pub struct Case {
    /// Server-assigned id (UUIDv7).
    pub id: String,
    /// `CS-YYYY-NNNNNN`.
    pub number: String,
    pub subject: String,
    pub description: Option<String>,
    pub company_id: String,
    pub contact_id: Option<String>,
    pub locale: Locale,
    pub tags: Vec<String>,
    /// An order of the case's company.
    pub order_id: Option<String>,
    /// A return of the case's company.
    pub return_id: Option<String>,
    /// An invoice of the case's company.
    pub invoice_id: Option<String>,
    pub channel: CaseChannel,
    pub priority: CasePriority,
    pub category: CaseCategory,
    pub status: CaseStatus,
    pub assignee_id: Option<String>,
    pub team_id: Option<String>,
    /// Why it happened; a complaint needs its category to resolve.
    pub root_cause: RootCauseDto,
    /// The SLA policy it is measured by; null when none applies.
    pub sla_policy_id: Option<String>,
    /// Null without a policy. Worked out when read: `breached` as soon as a running target
    /// passes its due time, before any sweep records it.
    pub sla_status: Option<SlaStatus>,
    /// Whether the clocks are stopped (pending, resolved, closed).
    pub sla_paused: bool,
    /// Null while paused, once responded, or without a policy.
    pub first_response_due_at: Option<DateTime<Utc>>,
    /// Null while paused, once resolved, or without a policy.
    pub resolution_due_at: Option<DateTime<Utc>>,
    /// Business seconds to the first-response due time; negative once overdue.
    pub first_response_remaining_seconds: Option<i64>,
    /// Business seconds to the resolution due time; negative once overdue.
    pub resolution_remaining_seconds: Option<i64>,
    /// The first public staff reply, or the resolution when none came before it.
    pub first_responded_at: Option<DateTime<Utc>>,
    /// The due instant the first response was missed at.
    pub first_response_breached_at: Option<DateTime<Utc>>,
    /// The due instant the resolution was missed at.
    pub resolution_breached_at: Option<DateTime<Utc>>,
    /// The last resolution; only it counts.
    pub resolved_at: Option<DateTime<Utc>>,
    /// How many times it escalated.
    pub escalation_level: i64,
    /// Whom it last escalated to.
    pub escalated_to_id: Option<String>,
    pub escalated_at: Option<DateTime<Utc>>,
    /// A low satisfaction rating flagged it.
    pub csat_flagged: bool,
    /// Only in the answer of `resolve`, once: the token of the satisfaction survey the
    /// resolution opened, for `GET|POST /v1/csat/{token}`. Stored hashed; null everywhere else.
    pub survey_token: Option<String>,
    /// What its state allows next.
    pub allowed_actions: Vec<CaseAction>,
    /// Incremented on every change; the ETag.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl StateRecord for Case {
    const NOUN: &'static str = "case";
}

impl From<store::Case> for Case {
    fn from(c: store::Case) -> Self {
        let paused = c.sla.paused;
        let running_due = |t: &crm_domain::service::sla::TargetState| {
            (!paused && t.done_at.is_none())
                .then_some(t.due_at)
                .flatten()
                .map(utc)
        };
        Case {
            allowed_actions: c.allowed_actions().to_vec(),
            first_response_due_at: running_due(&c.sla.first_response),
            resolution_due_at: running_due(&c.sla.resolution),
            first_responded_at: utc_opt(c.sla.first_response.done_at),
            first_response_breached_at: utc_opt(c.sla.first_response.breached_at),
            resolution_breached_at: utc_opt(c.sla.resolution.breached_at),
            resolved_at: utc_opt(c.sla.resolution.done_at),
            first_response_remaining_seconds: c.sla.first_response_remaining_seconds,
            resolution_remaining_seconds: c.sla.resolution_remaining_seconds,
            sla_policy_id: c.sla.policy_id,
            sla_status: c.sla.status,
            sla_paused: paused,
            id: c.id,
            number: c.number,
            subject: c.fields.subject,
            description: c.fields.description,
            company_id: c.company_id,
            contact_id: c.fields.contact_id,
            locale: c.fields.locale,
            tags: c.fields.tags,
            order_id: c.fields.order_id,
            return_id: c.fields.return_id,
            invoice_id: c.fields.invoice_id,
            channel: c.fields.channel,
            priority: c.fields.priority,
            category: c.fields.category,
            status: c.status,
            assignee_id: c.assignee_id,
            team_id: c.team_id,
            root_cause: RootCauseDto {
                category: c.fields.root_cause.category,
                notes: c.fields.root_cause.notes,
                preventive_action: c.fields.root_cause.preventive_action,
            },
            escalation_level: c.escalation_level,
            escalated_to_id: c.escalated_to_id,
            escalated_at: utc_opt(c.escalated_at),
            csat_flagged: c.csat_flagged,
            survey_token: None,
            version: c.version,
            created_at: utc(c.created_at),
            updated_at: utc(c.updated_at),
        }
    }
}

/// A new case.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"subject": "Pedido llegó roto", "company_id": "0190c1b2-7a3e-7d40-9b1a-2f7c9d1e4a55",
    "channel": "phone", "priority": "high", "category": "complaint", "locale": "es"}))]
pub struct CaseCreate {
    pub subject: String,
    pub description: Option<String>,
    pub company_id: String,
    pub contact_id: Option<String>,
    /// Default: the service settings' `default_locale`.
    pub locale: Option<Locale>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub order_id: Option<String>,
    pub return_id: Option<String>,
    pub invoice_id: Option<String>,
    pub channel: CaseChannel,
    pub priority: CasePriority,
    pub category: CaseCategory,
    pub assignee_id: Option<String>,
    pub team_id: Option<String>,
    pub root_cause: Option<RootCauseUpdate>,
}

/// Changes, as a JSON Merge Patch. A priority change sets the SLA targets again.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseUpdate {
    pub subject: Option<String>,
    #[serde(default, deserialize_with = "patch")]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch")]
    pub contact_id: Option<Option<String>>,
    pub locale: Option<Locale>,
    pub tags: Option<Vec<String>>,
    #[serde(default, deserialize_with = "patch")]
    pub order_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch")]
    pub return_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch")]
    pub invoice_id: Option<Option<String>>,
    pub priority: Option<CasePriority>,
    pub category: Option<CaseCategory>,
    /// Merged field by field; `null` clears it.
    #[serde(default, deserialize_with = "patch")]
    pub root_cause: Option<Option<RootCauseUpdate>>,
}

impl CaseUpdate {
    fn apply(self, f: &mut CaseFields) -> Result<(), Violations> {
        let mut c = Checker::default();
        if let Some(subject) = self.subject {
            f.subject = c.required("subject", &subject, SHORT);
        }
        if let Some(description) = self.description {
            f.description = c.optional("description", description.as_deref(), LONG);
        }
        if let Some(contact_id) = self.contact_id {
            f.contact_id = contact_id;
        }
        if let Some(locale) = self.locale {
            f.locale = locale;
        }
        if let Some(tags) = self.tags {
            f.tags = c.tags("tags", &tags);
        }
        if let Some(order_id) = self.order_id {
            f.order_id = order_id;
        }
        if let Some(return_id) = self.return_id {
            f.return_id = return_id;
        }
        if let Some(invoice_id) = self.invoice_id {
            f.invoice_id = invoice_id;
        }
        if let Some(priority) = self.priority {
            f.priority = priority;
        }
        if let Some(category) = self.category {
            f.category = category;
        }
        if let Some(root_cause) = self.root_cause {
            root_cause
                .unwrap_or_else(RootCauseUpdate::clear)
                .merge(&mut c, &mut f.root_cause);
        }
        c.finish()
    }
}

#[utoipa::path(tag = "cases", operation_id = "createCase", summary = "Open a case",
    description = "The SLA policy that covers its category gives it targets by priority and the company's tier, counted in business time from now.",
    request_body = CaseCreate,
    responses((status = 201, description = "Created", body = Case, headers(("Location" = String, description = "URL of the case"), ("ETag" = String, description = "Its version")))))]
#[post("/cases")]
pub async fn create_case(
    state: web::Data<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<CaseCreate>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Cases, Access::Write)?;
    let mut fields = CaseFields {
        subject: String::new(),
        description: None,
        contact_id: None,
        locale: Locale::Es,
        tags: Vec::new(),
        order_id: None,
        return_id: None,
        invoice_id: None,
        channel: body.channel,
        priority: body.priority,
        category: body.category,
        root_cause: RootCause::default(),
    };
    CaseUpdate {
        subject: Some(body.subject),
        description: Some(body.description),
        contact_id: Some(body.contact_id),
        tags: Some(body.tags),
        order_id: Some(body.order_id),
        return_id: Some(body.return_id),
        invoice_id: Some(body.invoice_id),
        root_cause: body.root_cause.map(Some),
        ..CaseUpdate::default()
    }
    .apply(&mut fields)?;
    let new = NewCase {
        company_id: body.company_id,
        fields,
        assignee_id: body.assignee_id,
        team_id: body.team_id,
        opened_by: principal.user_id().map(str::to_owned),
        locale: body.locale,
    };
    let clock = state.settings.clock;
    let case = state
        .db
        .write(move |conn| store::open_case(conn, clock, new))
        .await?;
    Ok(created(
        format!("/v1/cases/{}", case.id),
        case.version,
        &Case::from(case),
    ))
}

/// Filters and paging for the case list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CaseListQuery {
    pub status: Option<CaseStatus>,
    pub priority: Option<CasePriority>,
    pub category: Option<CaseCategory>,
    pub channel: Option<CaseChannel>,
    pub company_id: Option<String>,
    /// A user id, `me` (the caller) or `none` (unassigned).
    pub assignee_id: Option<String>,
    pub team_id: Option<String>,
    /// As of this request: `on_track`, `at_risk`, `breached` or `met`. Cases without a policy
    /// match none.
    pub sla_status: Option<SlaStatus>,
    pub escalated_to_id: Option<String>,
    pub csat_flagged: Option<bool>,
    /// A tag.
    pub tag: Option<String>,
    /// Words in the subject or description.
    pub q: Option<String>,
}

impl CaseListQuery {
    fn filter(self, principal: &Principal) -> Result<CaseFilter, ApiError> {
        let assignee = match self.assignee_id.as_deref() {
            None => None,
            Some("none") => Some(AssigneeFilter::Nobody),
            Some("me") => Some(AssigneeFilter::User(
                principal
                    .user_id()
                    .ok_or_else(|| {
                        ApiError::validation("assignee_id", "`me` needs a user, not an API key")
                    })?
                    .to_owned(),
            )),
            Some(id) => Some(AssigneeFilter::User(id.to_owned())),
        };
        Ok(CaseFilter {
            status: self.status,
            priority: self.priority,
            category: self.category,
            channel: self.channel,
            company_id: self.company_id,
            assignee,
            team_id: self.team_id,
            sla_status: self.sla_status,
            escalated_to_id: self.escalated_to_id,
            csat_flagged: self.csat_flagged,
            tag: self.tag,
            q: self.q.filter(|q| !q.trim().is_empty()),
        })
    }
}

const NEWEST_FIRST: &str = "-created_at";

#[utoipa::path(tag = "cases", operation_id = "listCases", summary = "List cases",
    description = "Newest first. Filters combine with AND; `sla_status` and `assignee_id=me` are exact at the time of the request.",
    params(CaseListQuery, PageQuery),
    responses((status = 200, description = "A page of cases", body = ListResponse<Case>)))]
#[get("/cases")]
pub async fn list_cases(
    state: web::Data<AppState>,
    principal: Principal,
    PagedQuery(query, paging): PagedQuery<CaseListQuery>,
) -> Result<web::Json<ListResponse<Case>>, ApiError> {
    principal.authorize(Resource::Cases, Access::Read)?;
    let page = fixed_order(NEWEST_FIRST, &paging)?;
    let filter = query.filter(&principal)?;
    let clock = state.settings.clock;
    let result = state
        .db
        .read(move |conn| store::list(conn, clock, &filter, &page))
        .await?;
    Ok(web::Json(crate::platform::pagination::respond(
        result,
        NEWEST_FIRST,
        Case::from,
    )))
}

#[utoipa::path(tag = "cases", operation_id = "getCase", summary = "Get a case",
    params(("id" = String, Path, description = "Case id")),
    responses((status = 200, description = "The case, its SLA as of now", body = Case, headers(("ETag" = String, description = "Its version")))))]
#[get("/cases/{id:[0-9a-fA-F-]+}")]
pub async fn get_case(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Cases, Access::Read)?;
    let clock = state.settings.clock;
    let case = state
        .db
        .read(move |conn| store::get(conn, clock, &id))
        .await?;
    Ok(versioned(case.version, &Case::from(case)))
}

#[utoipa::path(tag = "cases", operation_id = "updateCase", summary = "Update a case",
    description = "A priority change by staff sets the SLA targets again, from the case's creation.",
    params(("id" = String, Path, description = "Case id")),
    request_body(content = CaseUpdate, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The updated case", body = Case, headers(("ETag" = String, description = "Its new version")))))]
#[patch("/cases/{id:[0-9a-fA-F-]+}")]
pub async fn update_case(
    target: ActionTarget,
    ApiJson(body): ApiJson<CaseUpdate>,
) -> Result<HttpResponse, ApiError> {
    let clock = target.state.settings.clock;
    let actor = target.principal.user_id().map(str::to_owned);
    let case = target
        .write(Resource::Cases, move |conn, id, version| {
            store::update(conn, clock, id, version, actor.as_deref(), |fields| {
                Ok(body.apply(fields)?)
            })
        })
        .await?;
    Ok(versioned(case.version, &Case::from(case)))
}

/// Whom a case goes to: a field left out stays as it is, `null` clears it; `{}` changes nothing.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"assignee_id": "0192f0c1-7c1e-7d3a-9a51-3f6b1d2e4a10"}))]
pub struct CaseAssignment {
    /// An active staff user.
    #[serde(default, deserialize_with = "patch")]
    pub assignee_id: Option<Option<String>>,
    /// A team.
    #[serde(default, deserialize_with = "patch")]
    pub team_id: Option<Option<String>>,
}

#[utoipa::path(tag = "cases", operation_id = "assignCase", summary = "Assign a case",
    params(("id" = String, Path, description = "Case id")),
    request_body = CaseAssignment,
    responses((status = 200, description = "The case", body = Case, headers(("ETag" = String, description = "Its new version")))))]
#[post("/cases/{id}/assign")]
pub async fn assign_case(
    target: ActionTarget,
    ApiJson(body): ApiJson<CaseAssignment>,
) -> Result<HttpResponse, ApiError> {
    let clock = target.state.settings.clock;
    let actor = target.principal.user_id().map(str::to_owned);
    let case = target
        .write(Resource::Cases, move |conn, id, version| {
            store::assign(
                conn,
                clock,
                id,
                version,
                actor.as_deref(),
                body.assignee_id,
                body.team_id,
            )
        })
        .await?;
    Ok(versioned(case.version, &Case::from(case)))
}

async fn act(target: ActionTarget, action: CaseAction) -> Result<HttpResponse, ApiError> {
    let clock = target.state.settings.clock;
    let actor = target.principal.user_id().map(str::to_owned);
    let survey_token = (action == CaseAction::Resolve).then(random_token);
    let survey_token_hash = survey_token.as_deref().map(secret_hash);
    let acted = target
        .write(Resource::Cases, move |conn, id, version| {
            store::act(
                conn,
                clock,
                id,
                version,
                actor.as_deref(),
                action,
                survey_token_hash,
            )
        })
        .await?;
    let version = acted.case.version;
    let mut case = Case::from(acted.case);
    case.survey_token = survey_token.filter(|_| acted.survey_opened);
    Ok(versioned(version, &case))
}

#[utoipa::path(tag = "cases", operation_id = "openCase", summary = "Open a case",
    description = "new or pending → open. The SLA clocks run again; due times move by the business time spent pending.",
    params(("id" = String, Path, description = "Case id")),
    responses(ActionResponses<Case>))]
#[post("/cases/{id}/open")]
pub async fn open_case(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    act(target, CaseAction::Open).await
}

#[utoipa::path(tag = "cases", operation_id = "pendCase", summary = "Wait for the customer",
    description = "new or open → pending. The SLA clocks stop; a target already past due is recorded as breached.",
    params(("id" = String, Path, description = "Case id")),
    responses(ActionResponses<Case>))]
#[post("/cases/{id}/pend")]
pub async fn pend_case(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    act(target, CaseAction::Pend).await
}

#[utoipa::path(tag = "cases", operation_id = "resolveCase", summary = "Resolve a case",
    description = "new, open or pending → resolved. A complaint needs `root_cause.category` (`422`). Opens the case's satisfaction survey, valid `survey_valid_days`, and answers its `survey_token` once (none when the case's survey was already answered).",
    params(("id" = String, Path, description = "Case id")),
    responses(ActionResponses<Case>))]
#[post("/cases/{id}/resolve")]
pub async fn resolve_case(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    act(target, CaseAction::Resolve).await
}

#[utoipa::path(tag = "cases", operation_id = "reopenCase", summary = "Reopen a case",
    description = "resolved → open, within `reopen_window_days` of the resolution. The clocks resume; only the last resolution counts.",
    params(("id" = String, Path, description = "Case id")),
    responses(ActionResponses<Case>))]
#[post("/cases/{id}/reopen")]
pub async fn reopen_case(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    act(target, CaseAction::Reopen).await
}

#[utoipa::path(tag = "cases", operation_id = "closeCase", summary = "Close a case",
    description = "resolved → closed. The sweep closes resolved cases past their reopen window.",
    params(("id" = String, Path, description = "Case id")),
    responses(ActionResponses<Case>))]
#[post("/cases/{id}/close")]
pub async fn close_case(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    act(target, CaseAction::Close).await
}

/// A reply or an internal note.
#[derive(Debug, Serialize, ToSchema)]
pub struct Comment {
    pub id: String,
    pub case_id: String,
    /// The user who wrote or logged it; null for an API key.
    pub author_id: Option<String>,
    pub body: String,
    /// Whether the customer sees it; `false` is an internal note.
    pub public: bool,
    /// The customer's own words (the portal, or a call or email logged by staff).
    pub from_customer: bool,
    pub created_at: DateTime<Utc>,
}

impl From<store::Comment> for Comment {
    fn from(c: store::Comment) -> Self {
        Comment {
            id: c.id,
            case_id: c.case_id,
            author_id: c.author_id,
            body: c.body,
            public: c.public,
            from_customer: c.from_customer,
            created_at: utc(c.created_at),
        }
    }
}

/// A new comment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"body": "Le enviamos una unidad nueva hoy.", "public": true}))]
pub struct CommentCreate {
    pub body: String,
    /// Required: `true` is a reply the customer sees, `false` an internal note.
    pub public: bool,
    /// Logs the customer's reply by phone or email (public); reopens a pending case.
    #[serde(default)]
    pub from_customer: bool,
}

#[utoipa::path(tag = "cases", operation_id = "createCaseComment", summary = "Comment on a case",
    description = "The first public staff reply opens a new case and meets the first-response target. A reply `from_customer` reopens a pending case, or a resolved one within the reopen window. A closed case takes no comments (`409`).",
    params(("id" = String, Path, description = "Case id")),
    request_body = CommentCreate,
    responses((status = 201, description = "Created", body = Comment)))]
#[post("/cases/{id}/comments")]
pub async fn create_comment(
    target: ActionTarget,
    ApiJson(body): ApiJson<CommentCreate>,
) -> Result<HttpResponse, ApiError> {
    let mut c = Checker::default();
    let text = c.required("body", &body.body, LONG);
    if body.from_customer && !body.public {
        c.violations.push(crm_domain::Violation::new(
            "public",
            "a customer's reply is public",
        ));
    }
    c.finish()?;
    let author = if body.from_customer {
        Author::Customer
    } else {
        Author::Staff {
            public: body.public,
        }
    };
    let clock = target.state.settings.clock;
    let actor = target.principal.user_id().map(str::to_owned);
    let comment = target
        .write(Resource::Cases, move |conn, id, version| {
            store::comment(
                conn,
                clock,
                id,
                version,
                None,
                actor.as_deref(),
                author,
                text,
            )
        })
        .await?;
    Ok(created(
        format!("/v1/cases/{}/comments", comment.case_id),
        1,
        &Comment::from(comment),
    ))
}

/// A case's comments.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommentList {
    /// Oldest first.
    pub data: Vec<Comment>,
}

#[utoipa::path(tag = "cases", operation_id = "listCaseComments", summary = "List a case's comments",
    description = "Replies and internal notes, oldest first.",
    params(("id" = String, Path, description = "Case id")),
    responses((status = 200, description = "The comments", body = CommentList)))]
#[get("/cases/{id}/comments")]
pub async fn list_comments(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<web::Json<CommentList>, ApiError> {
    principal.authorize(Resource::Cases, Access::Read)?;
    let comments = state
        .db
        .read(move |conn| store::comments(conn, &id, None))
        .await?;
    Ok(web::Json(CommentList {
        data: comments.into_iter().map(Comment::from).collect(),
    }))
}

/// One change of a case.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseChange {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: CaseChangeType,
    pub at: DateTime<Utc>,
    /// The user who did it; null for the sweep or an API key.
    pub actor_id: Option<String>,
    /// What changed: `status_changed` has `from` and `to`, `sla_breached` has `target` and
    /// `due_at`, `escalated` has `to_id`, `level` and `priority`.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// A case's event log.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseChangeList {
    /// Oldest first.
    pub data: Vec<CaseChange>,
}

#[utoipa::path(tag = "cases", operation_id = "listCaseEvents", summary = "A case's event log",
    params(("id" = String, Path, description = "Case id")),
    responses((status = 200, description = "Every change, oldest first", body = CaseChangeList)))]
#[get("/cases/{id}/events")]
pub async fn list_case_events(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<web::Json<CaseChangeList>, ApiError> {
    principal.authorize(Resource::Cases, Access::Read)?;
    let events = state.db.read(move |conn| store::events(conn, &id)).await?;
    Ok(web::Json(CaseChangeList {
        data: events
            .into_iter()
            .map(|e| CaseChange {
                id: e.id,
                event_type: e.event_type,
                at: utc(e.at),
                actor_id: e.actor_id,
                data: e.data,
            })
            .collect(),
    }))
}

/// The routes under `/cases`.
pub fn routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(list_cases)
        .service(create_case)
        .service(get_case)
        .service(update_case)
        .service(assign_case)
        .service(open_case)
        .service(pend_case)
        .service(resolve_case)
        .service(reopen_case)
        .service(close_case)
        .service(list_comments)
        .service(create_comment)
        .service(list_case_events);
}
