pub mod campaigns;
pub mod churn;
pub mod commission_rates;
pub mod overview;
pub mod profit;
pub mod search;
pub mod timeline;
use crate::platform::routing::Segmented;

/// The context's `/v1` routes; `crate::contexts` composes the contexts.
pub fn routes(cfg: &mut impl Segmented) {
    cfg.segment("/campaigns", campaigns::routes);
    cfg.segment("/analytics", churn::routes);
    cfg.segment("/analytics", profit::routes);
    cfg.segment("/companies", timeline::companies_routes);
    cfg.segment("/companies", overview::companies_routes);
    cfg.segment("/contacts", timeline::contacts_routes);
    cfg.segment("/contacts", overview::contacts_routes);
    cfg.segment("/settings", commission_rates::routes);
    cfg.segment("/search", search::routes);
}
