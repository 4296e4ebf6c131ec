//! Settings kept as one JSON document each in the `settings` table (seeded by the migrations),
//! so that they change without a deploy.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::platform::db::DbConnection;
use crate::platform::records::{self, Record};
use crate::platform::schema::settings;
use crate::platform::stored::{stored_json, to_json};
use crate::{now, StoreError};

/// A settings document with its version.
#[derive(Debug, Clone)]
pub struct Document<T> {
    pub value: T,
    pub version: i64,
    pub updated_at: NaiveDateTime,
}

/// Reads the document `name`.
pub fn read<T: DeserializeOwned>(
    conn: &mut DbConnection,
    name: &str,
) -> Result<Document<T>, StoreError> {
    let (value, version, updated_at): (String, i64, NaiveDateTime) = settings::table
        .find(name)
        .select((settings::value, settings::version, settings::updated_at))
        .first(conn)?;
    Ok(Document {
        value: stored_json("settings", "value", &value)?,
        version,
        updated_at,
    })
}

/// Locks the document `name`, checks `If-Match`, lets `edit` change it and writes it one
/// version up.
pub fn change<T: Serialize + DeserializeOwned>(
    conn: &mut DbConnection,
    name: &str,
    expected_version: Option<i64>,
    edit: impl FnOnce(&mut T) -> Result<(), StoreError>,
) -> Result<Document<T>, StoreError> {
    let current: Document<T> =
        records::checkout(conn, Record::Setting, name, expected_version, read, |d| {
            d.version
        })?;
    let mut value = current.value;
    edit(&mut value)?;
    let version = current.version;
    records::written(
        diesel::update(
            settings::table
                .filter(settings::name.eq(name))
                .filter(settings::version.eq(version)),
        )
        .set((
            settings::value.eq(to_json(&value)),
            settings::version.eq(version + 1),
            settings::updated_at.eq(now()),
        ))
        .execute(conn)?,
        version,
    )?;
    read(conn, name)
}
