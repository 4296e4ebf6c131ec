//! What an illegal action reports: the state it met and what would have been allowed.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {action} a {state} {document}; allowed: {}", if allowed.is_empty() { "none".to_owned() } else { allowed.join(", ") })]
pub struct IllegalTransition {
    pub document: &'static str,
    pub action: String,
    pub state: String,
    pub allowed: Vec<String>,
}
