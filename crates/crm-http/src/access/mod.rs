pub mod api_keys;
pub mod session;
pub mod users;
