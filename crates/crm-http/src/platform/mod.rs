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
use routing::{Register, Segmented};

/// The context's `/v1` routes; `crate::contexts` composes the contexts.
pub fn routes(cfg: &mut impl Segmented) {
    cfg.segment("/exchange-rates", |cfg| {
        cfg.service(exchange_rates::list_exchange_rates);
        cfg.service(exchange_rates::put_exchange_rate);
        cfg.service(exchange_rates::delete_exchange_rate);
    });
    cfg.segment("/settings", |cfg| {
        cfg.service(settings::get_company_settings);
        cfg.service(settings::update_company_settings);
    });
    cfg.segment("/admin", |cfg| {
        cfg.service(clock::get_clock);
        cfg.service(clock::freeze_clock);
        cfg.service(clock::resume_clock);
    });
}
