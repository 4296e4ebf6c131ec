//! `POST /v1/admin/maintenance/run`: the SLA sweep and the engagement rules, now, instead of
//! at the next tick.

use actix_web::{post, web};
use crm_domain::access::permissions::{Access, Resource};
use crm_store::analytics::facts;
use crm_store::engagement::automation::{self, AutomationReport};
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
    /// Cases escalated: a case that missed both targets at once counts once here, though
    /// each missed target raises its escalation level.
    pub escalated: usize,
    /// Resolved cases closed after their reopen window.
    pub closed: usize,
    /// Tasks made for visits whose lead time began.
    pub visit_tasks: usize,
    /// Tasks made by greeting rules.
    pub greeting_tasks: usize,
    /// Tasks made by follow-up rules.
    pub follow_up_tasks: usize,
    /// Task reminders sent (`task.reminder_due`).
    pub reminders: usize,
    /// Companies whose figures for segments (`customer_facts`) were recomputed; 0 when
    /// another node was refreshing them.
    pub customer_facts: usize,
}

impl MaintenanceRun {
    fn new(sweep: SweepReport, automation: AutomationReport, facts: Option<usize>) -> Self {
        MaintenanceRun {
            breached: sweep.breached,
            escalated: sweep.escalated,
            closed: sweep.closed,
            visit_tasks: automation.visit_tasks,
            greeting_tasks: automation.greeting_tasks,
            follow_up_tasks: automation.follow_up_tasks,
            reminders: automation.reminders,
            customer_facts: facts.unwrap_or(0),
        }
    }
}

#[utoipa::path(tag = "service", operation_id = "runMaintenance", summary = "Run the SLA sweep and the engagement rules now",
    description = "Admins only. What the maintenance loop does every `CRM_SLA_SWEEP_SECONDS`: records breached targets at their due instants, escalates them (to the assignee's manager, else the team's escalation user; priority to the rule's `breach_priority`), and closes resolved cases past their reopen window; then makes the tasks of due visits, greetings and follow-ups, and sends due task reminders, all at the service clock's now in the fiscal time zone; and recomputes each customer's figures that segments filter by (`customer_facts`). Safe to run on several nodes at once: nothing happens twice.",
    responses((status = 200, description = "What this run did", body = MaintenanceRun)))]
#[post("/admin/maintenance/run")]
pub async fn run_maintenance(
    state: web::Data<AppState>,
    principal: Principal,
) -> Result<web::Json<MaintenanceRun>, ApiError> {
    principal.authorize(Resource::Settings, Access::Write)?;
    let clock = state.settings.clock;
    let audience = crate::marketing::audience(&state.settings);
    let base = state.settings.base_currency;
    let (swept, automated, facts) = state
        .db
        .read(move |conn| {
            Ok((
                sweep(conn, clock)?,
                automation::run(conn, audience)?,
                facts::refresh_today(conn, base, clock)?,
            ))
        })
        .await?;
    Ok(web::Json(MaintenanceRun::new(swept, automated, facts)))
}

/// The routes under `/admin`.
pub fn routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(run_maintenance);
}
