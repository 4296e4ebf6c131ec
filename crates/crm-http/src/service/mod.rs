pub mod articles;
pub mod calendars;
pub mod cases;
pub mod csat;
pub mod maintenance;
pub mod portal;
pub mod portal_kb;
pub mod reports;
pub mod settings;
pub mod sla_policies;
pub mod teams;
use crate::platform::routing::{Register, Segmented};

/// The context's `/v1` routes; `crate::contexts` composes the contexts.
pub fn routes(cfg: &mut impl Segmented) {
    cfg.segment("/cases", |cfg| {
        cfg.service(reports::get_csat_report);
        cfg.service(reports::get_case_report);
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
        cfg.service(articles::link_case_article);
        cfg.service(articles::suggested_articles);
    });
    cfg.segment("/business-calendars", |cfg| {
        cfg.service(calendars::list_calendars);
        cfg.service(calendars::create_calendar);
        cfg.service(calendars::get_calendar);
        cfg.service(calendars::update_calendar);
        cfg.service(calendars::delete_calendar);
    });
    cfg.segment("/sla-policies", |cfg| {
        cfg.service(sla_policies::list_policies);
        cfg.service(sla_policies::create_policy);
        cfg.service(sla_policies::get_policy);
        cfg.service(sla_policies::update_policy);
        cfg.service(sla_policies::delete_policy);
    });
    cfg.segment("/teams", |cfg| {
        cfg.service(teams::list_teams);
        cfg.service(teams::create_team);
        cfg.service(teams::get_team);
        cfg.service(teams::update_team);
        cfg.service(teams::delete_team);
    });
    cfg.segment("/settings", |cfg| {
        cfg.service(settings::get_service_settings);
        cfg.service(settings::update_service_settings);
    });
    cfg.segment("/admin", |cfg| {
        cfg.service(maintenance::run_maintenance);
    });
    cfg.segment("/csat", |cfg| {
        cfg.service(csat::get_survey);
        cfg.service(csat::answer_survey);
    });
    cfg.segment("/portal", |cfg| {
        cfg.service(portal::list_portal_cases);
        cfg.service(portal::create_portal_case);
        cfg.service(portal::get_portal_case);
        cfg.service(portal::list_portal_case_comments);
        cfg.service(portal::create_portal_case_comment);
        cfg.service(csat::answer_portal_survey);
        cfg.service(portal_kb::get_portal_article);
        cfg.service(portal_kb::search_portal_articles);
    });
    cfg.segment("/kb", |cfg| {
        cfg.service(articles::list_articles);
        cfg.service(articles::create_article);
        cfg.service(articles::search_articles);
        cfg.service(articles::get_article);
        cfg.service(articles::update_article);
        cfg.service(articles::publish_article);
        cfg.service(articles::archive_article);
        cfg.service(articles::restore_article);
        cfg.service(articles::list_revisions);
        cfg.service(articles::rate_article);
    });
}
