pub mod campaigns;
pub mod churn;
pub mod commission_rates;
pub mod overview;
pub mod profit;
pub mod search;
pub mod timeline;
use crate::platform::routing::{Register, Segmented};

/// The context's `/v1` routes; `crate::contexts` composes the contexts.
pub fn routes(cfg: &mut impl Segmented) {
    cfg.segment("/campaigns", |cfg| {
        cfg.service(campaigns::campaign_report);
    });
    cfg.segment("/analytics", |cfg| {
        cfg.service(churn::churn_risk);
        cfg.service(profit::customer_profit);
        cfg.service(profit::rank_customers);
        cfg.service(profit::recompute_tiers);
        cfg.service(profit::product_analytics);
        cfg.service(profit::commissions);
        cfg.service(profit::customer_clv);
    });
    cfg.segment("/companies", |cfg| {
        cfg.service(timeline::company_timeline);
        cfg.service(overview::company_overview);
    });
    cfg.segment("/contacts", |cfg| {
        cfg.service(timeline::contact_timeline);
        cfg.service(overview::contact_overview);
    });
    cfg.segment("/settings", |cfg| {
        cfg.service(commission_rates::get_commission_rates);
        cfg.service(commission_rates::set_commission_rates);
    });
    cfg.segment("/search", |cfg| {
        cfg.service(search::search);
    });
}
