//! Events and webhooks: the event feed, webhook endpoints, the worker that delivers to them,
//! and the rendering of each event's `data`.

pub mod delivery;
#[allow(clippy::module_inception)]
pub mod events;
pub mod openapi;
pub mod render;
pub mod webhook_endpoints;
use crate::platform::routing::{Register, Segmented};

/// The context's `/v1` routes; `crate::contexts` composes the contexts.
pub fn routes(cfg: &mut impl Segmented) {
    cfg.segment("/events", |cfg| {
        cfg.service(events::list_events);
        cfg.service(events::get_event);
    });
    cfg.segment("/webhook-endpoints", |cfg| {
        cfg.service(webhook_endpoints::list_webhook_endpoints);
        cfg.service(webhook_endpoints::create_webhook_endpoint);
        cfg.service(webhook_endpoints::get_webhook_endpoint);
        cfg.service(webhook_endpoints::update_webhook_endpoint);
        cfg.service(webhook_endpoints::delete_webhook_endpoint);
        cfg.service(webhook_endpoints::rotate_webhook_secret);
        cfg.service(webhook_endpoints::enable_webhook_endpoint);
        cfg.service(webhook_endpoints::disable_webhook_endpoint);
        cfg.service(webhook_endpoints::test_webhook_endpoint);
        cfg.service(webhook_endpoints::list_webhook_deliveries);
        cfg.service(webhook_endpoints::replay_webhook_delivery);
        cfg.service(webhook_endpoints::replay_webhook_events);
    });
}
