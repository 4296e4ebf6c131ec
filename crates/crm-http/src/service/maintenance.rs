//! `POST /v1/admin/maintenance/run`: the SLA sweep, now, instead of at the next tick.

use actix_web::{post, web};
use crm_domain::access::permissions::{Access, Resource};
use crm_store::service::sweep::{sweep, SweepReport};
use serde::Serialize;
use utoipa::ToSchema;

use crate::platform::auth::Principal;
use crate::platform::error::ApiError;
use crate::platform::state::AppState;

/// What one run did.
#[derive(Debug, Serialize, ToSchema)]
pub struct MaintenanceRun {
    /// SLA targets recorded as missed, each dated at its due instant.
    pub breached: usize,
    /// Cases escalated.
    pub escalated: usize,
    /// Resolved cases closed after their reopen window.
    pub closed: usize,
}

impl From<SweepReport> for MaintenanceRun {
    fn from(r: SweepReport) -> Self {
        MaintenanceRun {
            breached: r.breached,
            escalated: r.escalated,
            closed: r.closed,
        }
    }
}

#[utoipa::path(tag = "service", operation_id = "runMaintenance", summary = "Run the SLA sweep now",
    description = "Admins only. What the maintenance loop does every `CRM_SLA_SWEEP_SECONDS`: records breached targets at their due instants, escalates them (to the assignee's manager, else the team's escalation user; priority to the rule's `breach_priority`), and closes resolved cases past their reopen window. Safe to run on several nodes at once: nothing happens twice.",
    responses((status = 200, description = "What this run did", body = MaintenanceRun)))]
#[post("/admin/maintenance/run")]
pub async fn run_maintenance(
    state: web::Data<AppState>,
    principal: Principal,
) -> Result<web::Json<MaintenanceRun>, ApiError> {
    principal.authorize(Resource::Settings, Access::Write)?;
    let clock = state.settings.clock;
    let report = state.db.read(move |conn| sweep(conn, clock)).await?;
    Ok(web::Json(report.into()))
}
