//! Who did something, as records store it: `user:<id>` or `key:<id>`. One place writes and
//! reads the form, so that a reader after a user id never shows an API key's.

pub fn user_key(user_id: &str) -> String {
    format!("user:{user_id}")
}

pub fn api_key_key(key_id: &str) -> String {
    format!("key:{key_id}")
}

/// The user id in an actor key, or `None` for an API key.
pub fn user_of(actor: &str) -> Option<&str> {
    actor.strip_prefix("user:")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_users_key_names_a_user() {
        assert_eq!(user_of(&user_key("u1")), Some("u1"));
        assert_eq!(user_of(&api_key_key("k1")), None);
    }
}
