//! `/v1/sla-policies`: which targets apply to which cases, tried in position order.

use actix_web::{delete, get, patch, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use crm_domain::access::permissions::{Access, Resource};
use crm_domain::service::cases::CaseCategory;
use crm_domain::service::sla::SlaRule;
use crm_store::service::policies::{self as store, PolicyFields};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::platform::actions::ActionTarget;
use crate::platform::auth::Principal;
use crate::platform::error::ApiError;
use crate::platform::extract::{ApiJson, ApiQuery};
use crate::platform::fields::{Checker, SHORT};
use crate::platform::pagination::{read_oldest_first, ListResponse, PageQuery};
use crate::platform::respond::{created, utc, versioned};
use crate::platform::state::AppState;

/// Targets by priority (and optionally company tier) for cases of some categories.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlaPolicy {
    /// Server-assigned id (UUIDv7).
    pub id: String,
    pub name: String,
    /// The business calendar its targets count in.
    pub calendar_id: String,
    /// Active policies are tried in ascending position; the first that covers a case's
    /// category applies.
    pub position: i64,
    /// The categories it covers; empty covers all.
    pub categories: Vec<CaseCategory>,
    pub active: bool,
    /// At most one per (priority, tier); a rule for the company's tier beats one for any tier.
    pub rules: Vec<SlaRule>,
    /// Incremented on every change; the ETag.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<store::Policy> for SlaPolicy {
    fn from(p: store::Policy) -> Self {
        SlaPolicy {
            id: p.id,
            name: p.fields.name,
            calendar_id: p.fields.calendar_id,
            position: p.fields.position,
            categories: p.fields.categories,
            active: p.fields.active,
            rules: p.fields.rules,
            version: p.version,
            created_at: utc(p.created_at),
            updated_at: utc(p.updated_at),
        }
    }
}

/// A new policy.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Standard", "calendar_id": "0190c1b2-7a3e-7d40-9b1a-2f7c9d1e4a55", "position": 1, "categories": [],
    "rules": [{"priority": "high", "first_response_minutes": 120, "resolution_minutes": 480, "breach_priority": "urgent"},
              {"priority": "high", "tier": "A", "first_response_minutes": 60, "resolution_minutes": 240}]}))]
pub struct SlaPolicyInput {
    pub name: String,
    pub calendar_id: String,
    pub position: i64,
    /// Default: every category.
    #[serde(default)]
    pub categories: Vec<CaseCategory>,
    /// Default true.
    pub active: Option<bool>,
    pub rules: Vec<SlaRule>,
}

/// Changes: each given field replaces the stored one.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlaPolicyUpdate {
    pub name: Option<String>,
    pub calendar_id: Option<String>,
    pub position: Option<i64>,
    pub categories: Option<Vec<CaseCategory>>,
    pub active: Option<bool>,
    pub rules: Option<Vec<SlaRule>>,
}

impl SlaPolicyUpdate {
    fn apply(self, f: &mut PolicyFields) -> Result<(), crm_domain::Violations> {
        let mut c = Checker::default();
        if let Some(name) = self.name {
            f.name = c.required("name", &name, SHORT);
        }
        if let Some(calendar_id) = self.calendar_id {
            f.calendar_id = calendar_id;
        }
        if let Some(position) = self.position {
            f.position = position;
        }
        if let Some(mut categories) = self.categories {
            categories.sort_by_key(|c| c.as_str());
            categories.dedup();
            f.categories = categories;
        }
        if let Some(active) = self.active {
            f.active = active;
        }
        if let Some(rules) = self.rules {
            f.rules = rules;
        }
        c.finish()
    }
}

#[utoipa::path(tag = "service", operation_id = "createSlaPolicy", summary = "Create an SLA policy",
    description = "Two rules for one (priority, tier) are a `422` naming the second, `rules[i]`. Targets are business minutes in the policy's calendar; a case gets them when it is opened and when staff change its priority.",
    request_body = SlaPolicyInput,
    responses((status = 201, description = "Created", body = SlaPolicy, headers(("Location" = String, description = "URL of the policy"), ("ETag" = String, description = "Its version")))))]
#[post("/sla-policies")]
pub async fn create_policy(
    state: web::Data<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<SlaPolicyInput>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::ServiceSettings, Access::Write)?;
    let mut fields = PolicyFields {
        name: String::new(),
        calendar_id: String::new(),
        position: 0,
        categories: Vec::new(),
        active: true,
        rules: Vec::new(),
    };
    SlaPolicyUpdate {
        name: Some(body.name),
        calendar_id: Some(body.calendar_id),
        position: Some(body.position),
        categories: Some(body.categories),
        active: body.active,
        rules: Some(body.rules),
    }
    .apply(&mut fields)?;
    let policy = state
        .db
        .write(move |conn| store::create(conn, fields))
        .await?;
    Ok(created(
        format!("/v1/sla-policies/{}", policy.id),
        policy.version,
        &SlaPolicy::from(policy),
    ))
}

#[utoipa::path(tag = "service", operation_id = "listSlaPolicies", summary = "List SLA policies",
    params(PageQuery),
    responses((status = 200, description = "A page of policies, oldest first", body = ListResponse<SlaPolicy>)))]
#[get("/sla-policies")]
pub async fn list_policies(
    state: web::Data<AppState>,
    principal: Principal,
    ApiQuery(paging): ApiQuery<PageQuery>,
) -> Result<web::Json<ListResponse<SlaPolicy>>, ApiError> {
    principal.authorize(Resource::ServiceSettings, Access::Read)?;
    read_oldest_first(&state, store::list, (), paging, SlaPolicy::from).await
}

#[utoipa::path(tag = "service", operation_id = "getSlaPolicy", summary = "Get an SLA policy",
    params(("id" = String, Path, description = "Policy id")),
    responses((status = 200, description = "The policy", body = SlaPolicy, headers(("ETag" = String, description = "Its version")))))]
#[get("/sla-policies/{id}")]
pub async fn get_policy(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    target
        .respond(
            Resource::ServiceSettings,
            store::get,
            |r| r.version,
            SlaPolicy::from,
        )
        .await
}

#[utoipa::path(tag = "service", operation_id = "updateSlaPolicy", summary = "Update an SLA policy",
    description = "Cases keep their targets until staff change their priority.",
    params(("id" = String, Path, description = "Policy id")),
    request_body(content = SlaPolicyUpdate, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The updated policy", body = SlaPolicy, headers(("ETag" = String, description = "Its new version")))))]
#[patch("/sla-policies/{id}")]
pub async fn update_policy(
    target: ActionTarget,
    ApiJson(body): ApiJson<SlaPolicyUpdate>,
) -> Result<HttpResponse, ApiError> {
    // Checked before the record is read, so that a bad body is a 422 whatever `If-Match` says.
    body.clone().apply(&mut Default::default())?;
    let policy = target
        .write(Resource::ServiceSettings, move |conn, id, version| {
            store::update(conn, id, version, |fields| Ok(body.apply(fields)?))
        })
        .await?;
    Ok(versioned(policy.version, &SlaPolicy::from(policy)))
}

#[utoipa::path(tag = "service", operation_id = "deleteSlaPolicy", summary = "Delete an SLA policy",
    description = "`409` once a case was measured by it: deactivate it instead.",
    params(("id" = String, Path, description = "Policy id")),
    responses((status = 204, description = "Deleted")))]
#[delete("/sla-policies/{id}")]
pub async fn delete_policy(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    target
        .write_no_content(Resource::ServiceSettings, store::delete)
        .await
}

/// The routes under `/sla-policies`.
pub fn routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(list_policies)
        .service(create_policy)
        .service(get_policy)
        .service(update_policy)
        .service(delete_policy);
}
