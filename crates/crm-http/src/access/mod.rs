pub mod api_keys;
pub mod session;
pub mod users;
use crate::platform::routing::Segmented;

/// The context's `/v1` routes; `crate::contexts` composes the contexts.
pub fn routes(cfg: &mut impl Segmented) {
    cfg.segment("/auth", session::routes);
    cfg.segment("/users", users::routes);
    cfg.segment("/api-keys", api_keys::routes);
}
