//! `/v1/visit-plans`: a company visited every few weeks; the maintenance loop makes the task of
//! each visit.

use actix_web::{delete, get, patch, post, web, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use crm_domain::access::permissions::{Access, Resource};
use crm_domain::engagement::automation::VisitPlanSchedule;
use crm_store::engagement::plans::{self as store, VisitPlanFields, VisitPlanFilter};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::marketing::campaigns::visible_to;
use crate::platform::actions::ActionTarget;
use crate::platform::auth::Principal;
use crate::platform::error::ApiError;
use crate::platform::extract::{ApiJson, PagedQuery};
use crate::platform::fields::Checker;
use crate::platform::pagination::{fixed_order, read_page, ListResponse, PageQuery};
use crate::platform::respond::{created, utc, versioned};
use crate::platform::state::AppState;

/// Visits to a company every `every_weeks` weeks.
#[derive(Debug, Serialize, ToSchema)]
pub struct VisitPlan {
    pub id: String,
    pub company_id: String,
    /// Who visits; the tasks are theirs.
    pub owner_id: String,
    pub every_weeks: i32,
    /// The next visit. Once it is `lead_days` away, a task is made for it, due at 09:00 that
    /// day in the fiscal time zone, and this moves on a period. Visits already past are
    /// skipped.
    pub next_visit_on: NaiveDate,
    pub lead_days: i32,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<store::VisitPlan> for VisitPlan {
    fn from(p: store::VisitPlan) -> Self {
        VisitPlan {
            id: p.id,
            company_id: p.fields.company_id,
            owner_id: p.fields.owner_id,
            every_weeks: p.fields.schedule.every_weeks,
            next_visit_on: p.fields.schedule.next_visit_on,
            lead_days: p.fields.schedule.lead_days,
            version: p.version,
            created_at: utc(p.created_at),
            updated_at: utc(p.updated_at),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VisitPlanInput {
    pub company_id: String,
    /// Active staff; defaults to the caller. Salespeople plan their own visits.
    pub owner_id: Option<String>,
    /// 1 to 520.
    pub every_weeks: i32,
    pub next_visit_on: NaiveDate,
    /// Days ahead of a visit that its task is made, 0 to 365; default 0.
    pub lead_days: Option<i32>,
}

/// Changes, as a JSON Merge Patch. The company is fixed.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VisitPlanUpdate {
    pub owner_id: Option<String>,
    pub every_weeks: Option<i32>,
    pub next_visit_on: Option<NaiveDate>,
    pub lead_days: Option<i32>,
}

impl VisitPlanUpdate {
    fn apply(self, f: &mut VisitPlanFields) -> Result<(), crm_domain::Violations> {
        let mut c = Checker::default();
        if let Some(owner) = self.owner_id {
            f.owner_id = c.id("owner_id", Some(owner)).unwrap_or_default();
        }
        let s = &mut f.schedule;
        s.every_weeks = self.every_weeks.unwrap_or(s.every_weeks);
        s.next_visit_on = self.next_visit_on.unwrap_or(s.next_visit_on);
        s.lead_days = self.lead_days.unwrap_or(s.lead_days);
        if let Err(violations) = s.validate() {
            c.violations.0.extend(violations.0);
        }
        c.finish()
    }
}

#[utoipa::path(tag = "visit-plans", operation_id = "createVisitPlan", summary = "Plan recurring visits to a company",
    request_body = VisitPlanInput,
    responses((status = 201, description = "Created", body = VisitPlan, headers(("Location" = String, description = "URL of the plan"), ("ETag" = String, description = "Its version")))))]
#[post("/visit-plans")]
pub async fn create_visit_plan(
    state: web::Data<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<VisitPlanInput>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::VisitPlans, Access::Write)?;
    let owner = visible_to(&principal)
        .owner_for(body.owner_id, principal.user_id())
        .unwrap_or_default();
    let mut c = Checker::default();
    c.id("company_id", Some(body.company_id.clone()));
    c.finish()?;
    let mut fields = VisitPlanFields {
        company_id: body.company_id,
        owner_id: String::new(),
        schedule: VisitPlanSchedule {
            every_weeks: body.every_weeks,
            next_visit_on: body.next_visit_on,
            lead_days: body.lead_days.unwrap_or(0),
        },
    };
    VisitPlanUpdate {
        owner_id: Some(owner),
        ..VisitPlanUpdate::default()
    }
    .apply(&mut fields)?;
    let plan = state
        .db
        .write(move |conn| store::create(conn, fields))
        .await?;
    Ok(created(
        format!("/v1/visit-plans/{}", plan.id),
        plan.version,
        &VisitPlan::from(plan),
    ))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VisitPlanListQuery {
    pub company_id: Option<String>,
    pub owner_id: Option<String>,
}

#[utoipa::path(tag = "visit-plans", operation_id = "listVisitPlans", summary = "List visit plans",
    description = "Oldest first. Salespeople see the plans they own.",
    params(VisitPlanListQuery, PageQuery),
    responses((status = 200, description = "A page of plans", body = ListResponse<VisitPlan>)))]
#[get("/visit-plans")]
pub async fn list_visit_plans(
    state: web::Data<AppState>,
    principal: Principal,
    PagedQuery(query, paging): PagedQuery<VisitPlanListQuery>,
) -> Result<web::Json<ListResponse<VisitPlan>>, ApiError> {
    principal.authorize(Resource::VisitPlans, Access::Read)?;
    let page = fixed_order("created_at", &paging)?;
    let filter = VisitPlanFilter {
        visible: visible_to(&principal),
        company_id: query.company_id,
        owner_id: query.owner_id,
    };
    read_page(
        &state,
        store::list,
        filter,
        page,
        "created_at",
        VisitPlan::from,
    )
    .await
}

#[utoipa::path(tag = "visit-plans", operation_id = "getVisitPlan", summary = "Get a visit plan",
    params(("id" = String, Path, description = "Plan id")),
    responses((status = 200, description = "The plan", body = VisitPlan, headers(("ETag" = String, description = "Its version")))))]
#[get("/visit-plans/{id}")]
pub async fn get_visit_plan(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    let visible = visible_to(&target.principal);
    let read = move |conn: &mut _, id: &str| store::get(conn, id, &visible);
    target
        .respond(Resource::VisitPlans, read, |r| r.version, VisitPlan::from)
        .await
}

#[utoipa::path(tag = "visit-plans", operation_id = "updateVisitPlan", summary = "Update a visit plan",
    params(("id" = String, Path, description = "Plan id")),
    request_body(content = VisitPlanUpdate, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The updated plan", body = VisitPlan, headers(("ETag" = String, description = "Its new version")))))]
#[patch("/visit-plans/{id}")]
pub async fn update_visit_plan(
    target: ActionTarget,
    ApiJson(body): ApiJson<VisitPlanUpdate>,
) -> Result<HttpResponse, ApiError> {
    let visible = visible_to(&target.principal);
    let plan = target
        .write(Resource::VisitPlans, move |conn, id, version| {
            store::update(
                conn,
                id,
                version,
                &visible,
                |fields| Ok(body.apply(fields)?),
            )
        })
        .await?;
    Ok(versioned(plan.version, &VisitPlan::from(plan)))
}

#[utoipa::path(tag = "visit-plans", operation_id = "deleteVisitPlan", summary = "Delete a visit plan",
    description = "Tasks it made stay.",
    params(("id" = String, Path, description = "Plan id")),
    responses((status = 204, description = "Deleted")))]
#[delete("/visit-plans/{id}")]
pub async fn delete_visit_plan(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    let visible = visible_to(&target.principal);
    target
        .write_no_content(Resource::VisitPlans, move |conn, id, version| {
            store::delete(conn, id, version, &visible)
        })
        .await
}

/// The routes under `/visit-plans`.
pub fn routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(list_visit_plans)
        .service(create_visit_plan)
        .service(get_visit_plan)
        .service(update_visit_plan)
        .service(delete_visit_plan);
}
