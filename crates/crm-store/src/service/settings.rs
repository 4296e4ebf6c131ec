//! The desk's settings, one JSON document in `settings` (seeded by the migration).

use chrono::NaiveDateTime;
use crm_domain::service::settings::ServiceSettings;
use diesel::prelude::*;

use crate::platform::db::DbConnection;
use crate::platform::records::{self, Record};
use crate::platform::schema::settings;
use crate::platform::stored::{stored_json, to_json};
use crate::{now, StoreError};

const NAME: &str = "service";

#[derive(Debug, Clone)]
pub struct StoredServiceSettings {
    pub settings: ServiceSettings,
    pub version: i64,
    pub updated_at: NaiveDateTime,
}

pub fn get(conn: &mut DbConnection) -> Result<StoredServiceSettings, StoreError> {
    let (value, version, updated_at): (String, i64, NaiveDateTime) = settings::table
        .find(NAME)
        .select((settings::value, settings::version, settings::updated_at))
        .first(conn)?;
    Ok(StoredServiceSettings {
        settings: stored_json("settings", "value", &value)?,
        version,
        updated_at,
    })
}

pub fn update(
    conn: &mut DbConnection,
    expected_version: Option<i64>,
    edit: impl FnOnce(&mut ServiceSettings) -> Result<(), StoreError>,
) -> Result<StoredServiceSettings, StoreError> {
    let current = records::checkout(
        conn,
        Record::Setting,
        NAME,
        expected_version,
        |c, _| get(c),
        |r| r.version,
    )?;
    let mut changed = current.settings;
    edit(&mut changed)?;
    changed.validate()?;
    records::written(
        diesel::update(
            settings::table
                .filter(settings::name.eq(NAME))
                .filter(settings::version.eq(current.version)),
        )
        .set((
            settings::value.eq(to_json(&changed)),
            settings::version.eq(current.version + 1),
            settings::updated_at.eq(now()),
        ))
        .execute(conn)?,
        current.version,
    )?;
    get(conn)
}
