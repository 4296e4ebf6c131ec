pub mod actions;
pub mod address;
pub mod auth;
pub mod clock;
pub mod error;
pub mod exchange_rates;
pub mod extract;
pub(crate) mod fields;
pub(crate) mod ids;
pub(crate) mod memory;
pub mod metrics;
pub mod middleware;
pub mod money;
pub mod openapi;
mod openapi_tighten;
pub mod ops;
pub mod pagination;
pub mod rate_limit;
pub mod replicas;
pub(crate) mod respond;
pub mod routing;
pub mod settings;
pub mod shape;
pub mod state;
pub(crate) mod strict_json;
use routing::Segmented;

/// The context's `/v1` routes; `crate::contexts` composes the contexts.
pub fn routes(cfg: &mut impl Segmented) {
    cfg.segment("/exchange-rates", exchange_rates::routes);
    cfg.segment("/settings", settings::routes);
    cfg.segment("/admin", clock::routes);
}
