//! `/v1/teams`: who works a queue of cases, and whom it escalates to.

use actix_web::{delete, get, patch, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use crm_domain::access::permissions::{Access, Resource};
use crm_store::service::teams::{self as store, TeamFields};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::platform::actions::ActionTarget;
use crate::platform::auth::Principal;
use crate::platform::error::ApiError;
use crate::platform::extract::{ApiJson, ApiQuery};
use crate::platform::fields::{patch, Checker, SHORT};
use crate::platform::ids::is_uuid;
use crate::platform::pagination::{read_oldest_first, ListResponse, PageQuery};
use crate::platform::respond::{created, utc, versioned};
use crate::platform::state::AppState;

/// A support team.
#[derive(Debug, Serialize, ToSchema)]
pub struct Team {
    /// Server-assigned id (UUIDv7).
    pub id: String,
    pub name: String,
    /// Active staff users.
    pub member_ids: Vec<String>,
    /// Whom a breached case of the team escalates to when its assignee has no manager.
    pub escalation_user_id: Option<String>,
    /// Incremented on every change; the ETag.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<store::Team> for Team {
    fn from(t: store::Team) -> Self {
        Team {
            id: t.id,
            name: t.fields.name,
            member_ids: t.fields.member_ids,
            escalation_user_id: t.fields.escalation_user_id,
            version: t.version,
            created_at: utc(t.created_at),
            updated_at: utc(t.updated_at),
        }
    }
}

/// A new team.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamInput {
    pub name: String,
    #[serde(default)]
    pub member_ids: Vec<String>,
    pub escalation_user_id: Option<String>,
}

/// Changes, as a JSON Merge Patch.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamUpdate {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "patch")]
    #[schema(nullable = false)]
    pub member_ids: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "patch")]
    pub escalation_user_id: Option<Option<String>>,
}

impl TeamUpdate {
    fn apply(self, f: &mut TeamFields) -> Result<(), crm_domain::Violations> {
        let mut c = Checker::default();
        if let Some(name) = self.name {
            f.name = c.required("name", &name, SHORT);
        }
        match self.member_ids {
            Some(Some(members)) => {
                for (i, member) in members.iter().enumerate() {
                    if !is_uuid(member) {
                        c.violations.push(crm_domain::Violation::new(
                            format!("member_ids[{i}]"),
                            "is not an id (a UUID)",
                        ));
                    }
                }
                f.member_ids = members;
            }
            Some(None) => c.not_null("member_ids"),
            None => {}
        }
        if let Some(user) = self.escalation_user_id {
            if user.as_deref().is_some_and(|id| !is_uuid(id)) {
                c.violations.push(crm_domain::Violation::new(
                    "escalation_user_id",
                    "is not an id (a UUID)",
                ));
            }
            f.escalation_user_id = user;
        }
        c.finish()
    }
}

#[utoipa::path(tag = "service", operation_id = "createTeam", summary = "Create a team",
    request_body = TeamInput,
    responses((status = 201, description = "Created", body = Team, headers(("Location" = String, description = "URL of the team"), ("ETag" = String, description = "Its version")))))]
#[post("/teams")]
pub async fn create_team(
    state: web::Data<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<TeamInput>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::ServiceSettings, Access::Write)?;
    let mut fields = TeamFields {
        name: String::new(),
        member_ids: Vec::new(),
        escalation_user_id: None,
    };
    TeamUpdate {
        name: Some(body.name),
        member_ids: Some(Some(body.member_ids)),
        escalation_user_id: Some(body.escalation_user_id),
    }
    .apply(&mut fields)?;
    let team = state
        .db
        .write(move |conn| store::create(conn, fields))
        .await?;
    Ok(created(
        format!("/v1/teams/{}", team.id),
        team.version,
        &Team::from(team),
    ))
}

#[utoipa::path(tag = "service", operation_id = "listTeams", summary = "List teams",
    params(PageQuery),
    responses((status = 200, description = "A page of teams, oldest first", body = ListResponse<Team>)))]
#[get("/teams")]
pub async fn list_teams(
    state: web::Data<AppState>,
    principal: Principal,
    ApiQuery(paging): ApiQuery<PageQuery>,
) -> Result<web::Json<ListResponse<Team>>, ApiError> {
    principal.authorize(Resource::ServiceSettings, Access::Read)?;
    read_oldest_first(&state, store::list, (), paging, Team::from).await
}

#[utoipa::path(tag = "service", operation_id = "getTeam", summary = "Get a team",
    params(("id" = String, Path, description = "Team id")),
    responses((status = 200, description = "The team", body = Team, headers(("ETag" = String, description = "Its version")))))]
#[get("/teams/{id}")]
pub async fn get_team(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    target
        .respond(
            Resource::ServiceSettings,
            store::get,
            |r| r.version,
            Team::from,
        )
        .await
}

#[utoipa::path(tag = "service", operation_id = "updateTeam", summary = "Update a team",
    params(("id" = String, Path, description = "Team id")),
    request_body(content = TeamUpdate, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The updated team", body = Team, headers(("ETag" = String, description = "Its new version")))))]
#[patch("/teams/{id}")]
pub async fn update_team(
    target: ActionTarget,
    ApiJson(body): ApiJson<TeamUpdate>,
) -> Result<HttpResponse, ApiError> {
    // Checked before the record is read, so that a bad body is a 422 whatever `If-Match` says.
    body.clone().apply(&mut Default::default())?;
    let team = target
        .write(Resource::ServiceSettings, move |conn, id, version| {
            store::update(conn, id, version, |fields| Ok(body.apply(fields)?))
        })
        .await?;
    Ok(versioned(team.version, &Team::from(team)))
}

#[utoipa::path(tag = "service", operation_id = "deleteTeam", summary = "Delete a team",
    description = "`409` while cases are queued in it.",
    params(("id" = String, Path, description = "Team id")),
    responses((status = 204, description = "Deleted")))]
#[delete("/teams/{id}")]
pub async fn delete_team(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    target
        .write_no_content(Resource::ServiceSettings, store::delete)
        .await
}

/// The routes under `/teams`.
pub fn routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(list_teams)
        .service(create_team)
        .service(get_team)
        .service(update_team)
        .service(delete_team);
}
