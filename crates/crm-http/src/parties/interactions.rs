//! `/v1/interactions`: calls, emails, meetings, visits... logged or planned.

use actix_web::{delete, get, patch, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use crm_domain::access::permissions::{Access, Resource};
use crm_domain::parties::interactions::{Direction, InteractionKind};
use crm_domain::Violations;
use crm_store::parties::interactions::{
    self as store, InteractionFields, InteractionFilter, InteractionSort,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::platform::actions::ActionTarget;
use crate::platform::auth::Principal;
use crate::platform::error::ApiError;
use crate::platform::extract::{ApiJson, PagedQuery};
use crate::platform::fields::{patch, Checker, LONG, SHORT};
use crate::platform::pagination::{
    read_page, sort_schema, ListResponse, PageQuery, SortOptions, Sorted,
};
use crate::platform::respond::{created, utc, utc_opt, versioned};
use crate::platform::state::AppState;

impl Sorted for InteractionSort {
    const SORTS: SortOptions<InteractionSort> = SortOptions {
        options: &[
            ("at", InteractionSort::At),
            ("created_at", InteractionSort::CreatedAt),
        ],
        default: "-at",
    };
}

/// A touch point with a contact or company.
#[derive(Debug, Serialize, ToSchema)]
pub struct Interaction {
    /// Server-assigned id (UUIDv7).
    pub id: String,
    /// The contact it concerns.
    pub contact_id: Option<String>,
    /// The company it concerns; filled from the contact when not given.
    pub company_id: Option<String>,
    /// What kind of touch point.
    pub kind: InteractionKind,
    /// Who reached out.
    pub direction: Option<Direction>,
    /// One-line summary.
    pub subject: Option<String>,
    /// Notes.
    pub body: Option<String>,
    /// When it happened; null while only planned.
    pub occurred_at: Option<DateTime<Utc>>,
    /// When it is planned for (visits, follow-ups).
    pub scheduled_for: Option<DateTime<Utc>>,
    /// Its place on the timeline: `occurred_at`, else `scheduled_for`.
    pub at: DateTime<Utc>,
    /// The user who had (or will have) it.
    pub user_id: Option<String>,
    /// Incremented on every change; the ETag.
    pub version: i64,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When it was archived (deleted); null while active.
    pub archived_at: Option<DateTime<Utc>>,
}

impl From<store::Interaction> for Interaction {
    fn from(i: store::Interaction) -> Self {
        Interaction {
            id: i.id,
            contact_id: i.fields.contact_id,
            company_id: i.fields.company_id,
            kind: i.fields.kind,
            direction: i.fields.direction,
            subject: i.fields.subject,
            body: i.fields.body,
            occurred_at: utc_opt(i.fields.occurred_at),
            scheduled_for: utc_opt(i.fields.scheduled_for),
            at: utc(i.at),
            user_id: i.fields.user_id,
            version: i.version,
            created_at: utc(i.created_at),
            updated_at: utc(i.updated_at),
            archived_at: utc_opt(i.archived_at),
        }
    }
}

/// A new interaction: a `contact_id` or `company_id`, and `occurred_at` (it happened) or
/// `scheduled_for` (it is planned).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"contact_id": "0193a1b2-0000-7000-8000-000000000001", "kind": "call", "direction": "inbound", "subject": "Asked about delivery times", "occurred_at": "2026-11-23T10:15:00Z"}))]
pub struct InteractionCreate {
    /// The contact it concerns.
    pub contact_id: Option<String>,
    /// The company it concerns; defaults to the contact's company.
    pub company_id: Option<String>,
    /// What kind of touch point.
    pub kind: InteractionKind,
    /// Who reached out.
    pub direction: Option<Direction>,
    /// One-line summary.
    pub subject: Option<String>,
    /// Notes.
    pub body: Option<String>,
    /// When it happened.
    pub occurred_at: Option<DateTime<Utc>>,
    /// When it is planned for.
    pub scheduled_for: Option<DateTime<Utc>>,
    /// The user who had it; defaults to the caller.
    pub user_id: Option<String>,
}

/// Changes to an interaction, as a JSON Merge Patch. Set `occurred_at` when a planned one
/// has happened.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"occurred_at": "2026-11-24T09:00:00Z", "body": "Visited; they want a quote."}))]
pub struct InteractionUpdate {
    /// The contact it concerns.
    #[serde(default, deserialize_with = "patch")]
    pub contact_id: Option<Option<String>>,
    /// The company it concerns.
    #[serde(default, deserialize_with = "patch")]
    pub company_id: Option<Option<String>>,
    /// Kind; cannot be null.
    #[serde(default, deserialize_with = "patch")]
    #[schema(nullable = false)]
    pub kind: Option<Option<InteractionKind>>,
    /// Who reached out.
    #[serde(default, deserialize_with = "patch")]
    pub direction: Option<Option<Direction>>,
    /// One-line summary.
    #[serde(default, deserialize_with = "patch")]
    pub subject: Option<Option<String>>,
    /// Notes.
    #[serde(default, deserialize_with = "patch")]
    pub body: Option<Option<String>>,
    /// When it happened.
    #[serde(default, deserialize_with = "patch")]
    pub occurred_at: Option<Option<DateTime<Utc>>>,
    /// When it is planned for.
    #[serde(default, deserialize_with = "patch")]
    pub scheduled_for: Option<Option<DateTime<Utc>>>,
    /// The user who had it.
    #[serde(default, deserialize_with = "patch")]
    pub user_id: Option<Option<String>>,
}

impl InteractionCreate {
    /// Checks a new interaction as an update of every field, so that both are checked alike.
    fn into_fields(self, caller: Option<&str>) -> Result<InteractionFields, Violations> {
        let mut fields = InteractionFields {
            contact_id: None,
            company_id: None,
            kind: self.kind,
            direction: None,
            subject: None,
            body: None,
            occurred_at: None,
            scheduled_for: None,
            user_id: None,
        };
        self.into_update(caller).apply(&mut fields)?;
        Ok(fields)
    }

    fn into_update(self, caller: Option<&str>) -> InteractionUpdate {
        InteractionUpdate {
            contact_id: Some(self.contact_id),
            company_id: Some(self.company_id),
            kind: Some(Some(self.kind)),
            direction: Some(self.direction),
            subject: Some(self.subject),
            body: Some(self.body),
            occurred_at: Some(self.occurred_at),
            scheduled_for: Some(self.scheduled_for),
            user_id: Some(self.user_id.or_else(|| caller.map(str::to_owned))),
        }
    }
}

impl InteractionUpdate {
    fn apply(self, fields: &mut InteractionFields) -> Result<(), Violations> {
        let mut c = Checker::default();
        if let Some(v) = self.contact_id {
            fields.contact_id = v;
        }
        if let Some(v) = self.company_id {
            fields.company_id = v;
        }
        match self.kind {
            Some(Some(v)) => fields.kind = v,
            Some(None) => c.not_null("kind"),
            None => {}
        }
        if let Some(v) = self.direction {
            fields.direction = v;
        }
        if let Some(v) = self.subject {
            fields.subject = c.optional("subject", v.as_deref(), SHORT);
        }
        if let Some(v) = self.body {
            fields.body = c.optional("body", v.as_deref(), LONG);
        }
        if let Some(v) = self.occurred_at {
            fields.occurred_at = c.instant("occurred_at", v);
        }
        if let Some(v) = self.scheduled_for {
            fields.scheduled_for = c.instant("scheduled_for", v);
        }
        if let Some(v) = self.user_id {
            fields.user_id = v;
        }
        c.finish()
    }
}

/// Filters and paging for the interaction list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InteractionListQuery {
    /// Only interactions with this contact.
    pub contact_id: Option<String>,
    /// Only interactions with this company (including those with its contacts).
    pub company_id: Option<String>,
    /// Only this kind.
    pub kind: Option<InteractionKind>,
    /// `at` on or after this instant (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// `at` before this instant (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Only planned interactions that have not happened yet.
    pub upcoming: Option<bool>,
    /// Include archived interactions.
    pub include_archived: Option<bool>,
    /// `at` or `created_at`; prefix `-` for descending. Default `-at`.
    #[param(schema_with = sort_schema::<InteractionSort>)]
    pub sort: Option<String>,
}

#[utoipa::path(
    tag = "interactions",
    operation_id = "listInteractions",
    summary = "List interactions",
    params(InteractionListQuery, PageQuery),
    responses((status = 200, description = "A page of interactions", body = ListResponse<Interaction>))
)]
#[get("/interactions")]
pub async fn list_interactions(
    state: web::Data<AppState>,
    principal: Principal,
    PagedQuery(query, paging): PagedQuery<InteractionListQuery>,
) -> Result<web::Json<ListResponse<Interaction>>, ApiError> {
    principal.authorize(Resource::Interactions, Access::Read)?;
    let (page, sort) = InteractionSort::SORTS.request(query.sort.as_deref(), &paging)?;
    let filter = query.into_filter()?;
    read_page(&state, store::list, filter, page, &sort, Interaction::from).await
}

impl InteractionListQuery {
    fn into_filter(self) -> Result<InteractionFilter, ApiError> {
        let mut c = Checker::default();
        let filter = InteractionFilter {
            contact_id: self.contact_id,
            company_id: self.company_id,
            kind: self.kind,
            from: c.instant("from", self.from),
            to: c.instant("to", self.to),
            upcoming: self.upcoming.unwrap_or(false),
            occurred_only: false,
            include_archived: self.include_archived.unwrap_or(false),
        };
        c.finish()?;
        Ok(filter)
    }
}

#[utoipa::path(
    tag = "interactions",
    operation_id = "createInteraction",
    summary = "Log or plan an interaction",
    request_body = InteractionCreate,
    responses((status = 201, description = "Created; `Location` names it", body = Interaction,
        headers(("Location" = String, description = "URL of the new interaction"), ("ETag" = String, description = "Its version"))))
)]
#[post("/interactions")]
pub async fn create_interaction(
    state: web::Data<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<InteractionCreate>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Interactions, Access::Write)?;
    let fields = body.into_fields(principal.user_id())?;
    let interaction = state
        .db
        .write(move |conn| store::create(conn, fields))
        .await?;
    Ok(created(
        format!("/v1/interactions/{}", interaction.id),
        interaction.version,
        &Interaction::from(interaction),
    ))
}

#[utoipa::path(
    tag = "interactions",
    operation_id = "getInteraction",
    summary = "Get an interaction",
    params(("id" = String, Path, description = "Interaction id")),
    responses((status = 200, description = "The interaction", body = Interaction,
        headers(("ETag" = String, description = "Its version"))))
)]
#[get("/interactions/{id}")]
pub async fn get_interaction(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    target
        .respond(
            Resource::Interactions,
            store::get,
            |r| r.version,
            Interaction::from,
        )
        .await
}

#[utoipa::path(
    tag = "interactions",
    operation_id = "updateInteraction",
    summary = "Update an interaction",
    params(("id" = String, Path, description = "Interaction id")),
    request_body(content = InteractionUpdate, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The updated interaction", body = Interaction,
        headers(("ETag" = String, description = "Its new version"))))
)]
#[patch("/interactions/{id}")]
pub async fn update_interaction(
    target: ActionTarget,
    ApiJson(body): ApiJson<InteractionUpdate>,
) -> Result<HttpResponse, ApiError> {
    let interaction = target
        .update(Resource::Interactions, store::update, move |fields, _| {
            body.apply(fields)
        })
        .await?;
    Ok(versioned(
        interaction.version,
        &Interaction::from(interaction),
    ))
}

#[utoipa::path(
    tag = "interactions",
    operation_id = "deleteInteraction",
    summary = "Archive an interaction",
    description = "Archives the interaction: it stays readable by id and leaves lists and timelines.",
    params(("id" = String, Path, description = "Interaction id")),
    responses((status = 204, description = "Archived"))
)]
#[delete("/interactions/{id}")]
pub async fn delete_interaction(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    target
        .write_no_content(Resource::Interactions, store::archive)
        .await
}

/// The routes under `/interactions`.
pub fn routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(list_interactions)
        .service(create_interaction)
        .service(get_interaction)
        .service(update_interaction)
        .service(delete_interaction);
}
