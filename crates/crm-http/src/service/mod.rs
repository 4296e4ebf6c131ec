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
use crate::platform::routing::Segmented;

/// The context's `/v1` routes; `crate::contexts` composes the contexts.
pub fn routes(cfg: &mut impl Segmented) {
    cfg.segment("/cases", reports::routes);
    cfg.segment("/cases", cases::routes);
    cfg.segment("/cases", articles::cases_routes);
    cfg.segment("/business-calendars", calendars::routes);
    cfg.segment("/sla-policies", sla_policies::routes);
    cfg.segment("/teams", teams::routes);
    cfg.segment("/settings", settings::routes);
    cfg.segment("/admin", maintenance::routes);
    cfg.segment("/csat", csat::csat_routes);
    cfg.segment("/portal", portal::routes);
    cfg.segment("/portal", csat::portal_routes);
    cfg.segment("/portal", portal_kb::routes);
    cfg.segment("/kb", articles::kb_routes);
}
