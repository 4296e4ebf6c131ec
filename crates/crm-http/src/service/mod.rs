pub mod calendars;
pub mod cases;
pub mod maintenance;
pub mod settings;
pub mod sla_policies;
pub mod teams;

/// The context's `/v1` routes; `crate::routes` composes the contexts.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(cases::list_cases);
    cfg.service(cases::create_case);
    cfg.service(cases::get_case);
    cfg.service(cases::update_case);
    cfg.service(cases::assign_case);
    cfg.service(cases::open_case);
    cfg.service(cases::pend_case);
    cfg.service(cases::resolve_case);
    cfg.service(cases::reopen_case);
    cfg.service(cases::close_case);
    cfg.service(cases::list_comments);
    cfg.service(cases::create_comment);
    cfg.service(cases::list_case_events);
    cfg.service(calendars::list_calendars);
    cfg.service(calendars::create_calendar);
    cfg.service(calendars::get_calendar);
    cfg.service(calendars::update_calendar);
    cfg.service(calendars::delete_calendar);
    cfg.service(sla_policies::list_policies);
    cfg.service(sla_policies::create_policy);
    cfg.service(sla_policies::get_policy);
    cfg.service(sla_policies::update_policy);
    cfg.service(sla_policies::delete_policy);
    cfg.service(teams::list_teams);
    cfg.service(teams::create_team);
    cfg.service(teams::get_team);
    cfg.service(teams::update_team);
    cfg.service(teams::delete_team);
    cfg.service(settings::get_service_settings);
    cfg.service(settings::update_service_settings);
    cfg.service(maintenance::run_maintenance);
}
