//! Persistence: diesel schema and rows, one module per aggregate, the pool, migrations.
//!
//! Store functions take a connection and run inside the caller's transaction, so that a write
//! and its side effects commit together.

pub mod access;
pub mod analytics;
pub mod billing;
pub mod engagement;
pub mod events;
pub mod integrations;
pub mod marketing;
pub mod parties;
pub mod platform;
pub mod sales;
pub mod service;

pub use diesel::result::Error as DieselError;
pub use platform::db::{Backend, DatabaseUrl, DbConnection, Pool};
pub use platform::error::StoreError;

use chrono::{NaiveDateTime, SubsecRound, Utc};

/// The current time in UTC, truncated to microseconds: PostgreSQL keeps microseconds and
/// SQLite would keep nanoseconds, and cursors must compare equal on both.
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}

/// A new time-ordered id (UUIDv7), safe to generate on any node.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Tags are stored as a JSON array of strings.
fn tags_to_json(tags: &[String]) -> String {
    serde_json::Value::from(tags.to_vec()).to_string()
}

fn tags_from_json(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

/// The `LIKE` pattern that finds one tag inside the JSON array text. Tags cannot contain
/// quotes or backslashes (see `crm_domain::parties::tags`), so the quoted tag matches one whole element.
fn tag_pattern(tag: &str) -> String {
    crm_domain::platform::text::like_contains(&format!("\"{tag}\""))
}

/// Whether a referenced row is usable, from its `archived_at` looked up by id: a missing row or
/// an archived one is a violation of `field`, naming `what` it should have been.
fn ensure_live(
    archived_at: Option<Option<NaiveDateTime>>,
    field: &str,
    what: &str,
) -> Result<(), StoreError> {
    match archived_at {
        Some(None) => Ok(()),
        Some(Some(_)) => {
            Err(crm_domain::Violation::new(field, format!("{what} is archived")).into())
        }
        None => Err(crm_domain::Violation::new(field, format!("no such {what}")).into()),
    }
}
