//! Events and webhooks: the event feed, webhook endpoints, the worker that delivers to them,
//! and the rendering of each event's `data`.

pub mod delivery;
#[allow(clippy::module_inception)]
pub mod events;
pub mod openapi;
pub mod render;
pub mod webhook_endpoints;
use crate::platform::routing::Segmented;

/// The context's `/v1` routes; `crate::contexts` composes the contexts.
pub fn routes(cfg: &mut impl Segmented) {
    cfg.segment("/events", events::routes);
    cfg.segment("/webhook-endpoints", webhook_endpoints::routes);
}
