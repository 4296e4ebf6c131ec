//! What an illegal action reports: the state it met and what would have been allowed.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {action} a {state} {document}; allowed: {}", if allowed.is_empty() { "none".to_owned() } else { allowed.join(", ") })]
pub struct IllegalTransition {
    pub document: &'static str,
    pub action: String,
    pub state: String,
    pub allowed: Vec<String>,
}

impl IllegalTransition {
    /// Refuses `action` on a `document` in `state`, naming the actions that state allows.
    pub fn refused<'a>(
        document: &'static str,
        action: &str,
        state: &str,
        allowed: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        IllegalTransition {
            document,
            action: action.to_owned(),
            state: state.to_owned(),
            allowed: allowed.into_iter().map(str::to_owned).collect(),
        }
    }
}
