pub mod api_keys;
pub mod login_failures;
pub mod refresh_tokens;
pub mod sessions;
pub mod users;
