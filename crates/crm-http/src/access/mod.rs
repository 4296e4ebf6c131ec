pub mod api_keys;
pub mod session;
pub mod users;
use crate::platform::routing::{Register, Segmented};

/// The context's `/v1` routes; `crate::contexts` composes the contexts.
pub fn routes(cfg: &mut impl Segmented) {
    cfg.segment("/auth", |cfg| {
        cfg.service(session::create_token);
        cfg.service(session::refresh);
        cfg.service(session::revoke);
    });
    cfg.segment("/users", |cfg| {
        cfg.service(users::list_users);
        cfg.service(users::create_user);
        cfg.service(users::get_user);
        cfg.service(users::update_user);
        cfg.service(users::delete_user);
    });
    cfg.segment("/api-keys", |cfg| {
        cfg.service(api_keys::list_api_keys);
        cfg.service(api_keys::create_api_key);
        cfg.service(api_keys::get_api_key);
        cfg.service(api_keys::delete_api_key);
    });
}
