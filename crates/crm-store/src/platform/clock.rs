//! The service clock: real time, or, on a test deployment, an instant that an admin froze in
//! the database so that every node reads the same `now`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::platform::db::{lock_key, DbConnection};
use crate::platform::schema::settings;
use crate::platform::stored::{stored_json, to_json};
use crate::{now, StoreError};

const NAME: &str = "test_clock";

/// Where service-desk times come from. Tokens and logs always use real time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    Real,
    /// Real time unless an admin froze it (`CRM_TEST_CLOCK=true`).
    Test,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Frozen {
    now: NaiveDateTime,
}

impl Clock {
    pub fn now(self, conn: &mut DbConnection) -> Result<NaiveDateTime, StoreError> {
        match self {
            Clock::Real => Ok(now()),
            Clock::Test => Ok(frozen(conn)?.unwrap_or_else(now)),
        }
    }
}

/// The frozen instant, if the clock is frozen.
pub fn frozen(conn: &mut DbConnection) -> Result<Option<NaiveDateTime>, StoreError> {
    let value: Option<String> = settings::table
        .find(NAME)
        .select(settings::value)
        .first(conn)
        .optional()?;
    value
        .map(|v| stored_json::<Frozen>("settings", "value", &v).map(|f| f.now))
        .transpose()
}

/// Freezes the clock of every node at `at`; run in a write transaction.
pub fn freeze(conn: &mut DbConnection, at: NaiveDateTime) -> Result<(), StoreError> {
    // Two freezes at once would both find no row and both insert one.
    lock_key(conn, NAME)?;
    resume(conn)?;
    diesel::insert_into(settings::table)
        .values((
            settings::name.eq(NAME),
            settings::value.eq(to_json(&Frozen { now: at })),
            settings::version.eq(1_i64),
            settings::updated_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Lets every node's clock run in real time again.
pub fn resume(conn: &mut DbConnection) -> Result<(), StoreError> {
    diesel::delete(settings::table.find(NAME)).execute(conn)?;
    Ok(())
}
