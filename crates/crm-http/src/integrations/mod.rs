//! Shop integrations: connections to Shopify and WooCommerce stores, and the webhooks they
//! push orders and refunds through.

pub mod connections;
pub mod webhooks;
use crate::platform::routing::{Register, Segmented};

/// The context's `/v1` routes; `crate::contexts` composes the contexts.
pub fn routes(cfg: &mut impl Segmented) {
    cfg.segment("/integrations", |cfg| {
        cfg.service(connections::list_connections);
        cfg.service(connections::create_connection);
        cfg.service(connections::get_connection);
        cfg.service(connections::update_connection);
        cfg.service(connections::delete_connection);
        cfg.service(connections::list_ingestions);
        cfg.service(webhooks::receive_shopify_webhook);
        cfg.service(webhooks::receive_woocommerce_webhook);
    });
}
