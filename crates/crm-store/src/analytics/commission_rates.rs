//! The commission rate per product profit tier, kept in the `settings` table as one JSON
//! document (seeded by the migration) so that it can change without a deploy.

use chrono::NaiveDateTime;
use crm_domain::analytics::profit::CommissionRates;
use diesel::prelude::*;

use crate::platform::db::DbConnection;
use crate::platform::records::{self, Record};
use crate::platform::schema::settings;
use crate::{now, StoreError};

const NAME: &str = "commission_rates";

#[derive(Debug, Clone)]
pub struct StoredRates {
    pub rates: CommissionRates,
    pub version: i64,
    pub updated_at: NaiveDateTime,
}

pub fn get(conn: &mut DbConnection) -> Result<StoredRates, StoreError> {
    let (value, version, updated_at): (String, i64, NaiveDateTime) = settings::table
        .find(NAME)
        .select((settings::value, settings::version, settings::updated_at))
        .first(conn)?;
    let rates = serde_json::from_str(&value)
        .map_err(|e| StoreError::Config(format!("setting {NAME}: {e}")))?;
    Ok(StoredRates {
        rates,
        version,
        updated_at,
    })
}

pub fn set(
    conn: &mut DbConnection,
    expected_version: Option<i64>,
    rates: CommissionRates,
) -> Result<StoredRates, StoreError> {
    rates.validate()?;
    let current = records::checkout(
        conn,
        Record::Setting,
        NAME,
        expected_version,
        |c, _| get(c),
        |r| r.version,
    )?;
    let value = serde_json::to_string(&rates)
        .map_err(|e| StoreError::Config(format!("setting {NAME}: {e}")))?;
    diesel::update(settings::table.find(NAME))
        .set((
            settings::value.eq(value),
            settings::version.eq(current.version + 1),
            settings::updated_at.eq(now()),
        ))
        .execute(conn)?;
    get(conn)
}
