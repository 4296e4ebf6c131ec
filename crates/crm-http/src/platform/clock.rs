//! `/v1/admin/clock`: on a test deployment (`CRM_TEST_CLOCK=true`), admins freeze the service
//! clock of every node, so that SLA tests move time instead of sleeping. Elsewhere `404`.

use actix_web::{delete, get, put, web, HttpResponse};
use chrono::{DateTime, NaiveDateTime, Utc};
use crm_domain::access::permissions::{Access, Resource};
use crm_store::platform::clock::{self as store, Clock};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::platform::auth::Principal;
use crate::platform::error::{ApiError, Problem};
use crate::platform::extract::ApiJson;
use crate::platform::fields::Checker;
use crate::platform::respond::utc;
use crate::platform::state::AppState;

/// The service clock.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceClock {
    /// What every node takes as now for service-desk times.
    pub now: DateTime<Utc>,
    /// Whether an admin froze it.
    pub frozen: bool,
}

/// The instant to freeze the clock at.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClockSetting {
    pub now: DateTime<Utc>,
}

/// Admins of a deployment with the test clock only; anywhere else the routes do not exist.
fn test_clock(state: &AppState, principal: &Principal) -> Result<(), ApiError> {
    if state.settings.clock != Clock::Test {
        return Err(ApiError::NotFound);
    }
    principal.authorize(Resource::Settings, Access::Write)?;
    Ok(())
}

/// The service clock's now: real time, or on a test deployment the instant an admin froze.
pub async fn service_now(state: &AppState) -> Result<NaiveDateTime, ApiError> {
    match state.settings.clock {
        Clock::Real => Ok(crm_store::now()),
        Clock::Test => Ok(state.db.read(|conn| Clock::Test.now(conn)).await?),
    }
}

async fn read(state: &AppState) -> Result<web::Json<ServiceClock>, ApiError> {
    let frozen = state.db.read(store::frozen).await?;
    Ok(web::Json(ServiceClock {
        now: utc(frozen.unwrap_or_else(crm_store::now)),
        frozen: frozen.is_some(),
    }))
}

#[utoipa::path(tag = "admin", operation_id = "getServiceClock", summary = "Read the service clock",
    description = "Only with `CRM_TEST_CLOCK=true`; else `404`.",
    responses((status = 200, description = "The clock", body = ServiceClock),
        (status = 404, description = "Not a test deployment", body = Problem, content_type = "application/problem+json")))]
#[get("/admin/clock")]
pub async fn get_clock(
    state: web::Data<AppState>,
    principal: Principal,
) -> Result<web::Json<ServiceClock>, ApiError> {
    test_clock(&state, &principal)?;
    read(&state).await
}

#[utoipa::path(tag = "admin", operation_id = "freezeServiceClock", summary = "Freeze the service clock",
    description = "Only with `CRM_TEST_CLOCK=true`; else `404`. Every node takes `now` as the time of service-desk work (cases, SLAs, surveys, the sweep); sign-in tokens keep real time.",
    request_body = ClockSetting,
    responses((status = 200, description = "The clock", body = ServiceClock),
        (status = 404, description = "Not a test deployment", body = Problem, content_type = "application/problem+json")))]
#[put("/admin/clock")]
pub async fn freeze_clock(
    state: web::Data<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<ClockSetting>,
) -> Result<web::Json<ServiceClock>, ApiError> {
    test_clock(&state, &principal)?;
    let mut c = Checker::default();
    let at = c.instant("now", Some(body.now));
    c.finish()?;
    if let Some(at) = at {
        state.db.write(move |conn| store::freeze(conn, at)).await?;
    }
    read(&state).await
}

#[utoipa::path(tag = "admin", operation_id = "resumeServiceClock", summary = "Let the service clock run",
    description = "Only with `CRM_TEST_CLOCK=true`; else `404`.",
    responses((status = 204, description = "Real time again"),
        (status = 404, description = "Not a test deployment", body = Problem, content_type = "application/problem+json")))]
#[delete("/admin/clock")]
pub async fn resume_clock(
    state: web::Data<AppState>,
    principal: Principal,
) -> Result<HttpResponse, ApiError> {
    test_clock(&state, &principal)?;
    state.db.write(store::resume).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The routes under `/admin`.
pub fn routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(get_clock)
        .service(freeze_clock)
        .service(resume_clock);
}
