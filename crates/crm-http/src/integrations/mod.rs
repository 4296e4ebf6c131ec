//! Shop integrations: connections to Shopify and WooCommerce stores, and the webhooks they
//! push orders and refunds through.

pub mod connections;
pub mod webhooks;
use crate::platform::routing::Segmented;

/// The context's `/v1` routes; `crate::contexts` composes the contexts.
pub fn routes(cfg: &mut impl Segmented) {
    cfg.segment("/integrations", connections::routes);
    cfg.segment("/integrations", webhooks::routes);
}
