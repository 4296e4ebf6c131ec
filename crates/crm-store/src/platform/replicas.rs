//! Where a PostgreSQL streaming replica stands against its primary, in positions of the
//! write-ahead log (LSNs).

use std::fmt;
use std::str::FromStr;

use crate::platform::db::DbConnection;
use crate::StoreError;

/// A position in the write-ahead log: `16/B374D848` as PostgreSQL prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Lsn(u64);

impl Lsn {
    /// Past every position: no replica holds it.
    pub const END: Lsn = Lsn(u64::MAX);
}

impl FromStr for Lsn {
    type Err = StoreError;

    fn from_str(text: &str) -> Result<Self, StoreError> {
        let unreadable = || StoreError::Config(format!("`{text}` is not a WAL position"));
        let (high, low) = text.split_once('/').ok_or_else(unreadable)?;
        let high = u32::from_str_radix(high, 16).map_err(|_| unreadable())?;
        let low = u32::from_str_radix(low, 16).map_err(|_| unreadable())?;
        Ok(Lsn((u64::from(high) << 32) | u64::from(low)))
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

#[derive(diesel::QueryableByName)]
struct Position {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    lsn: Option<String>,
}

fn position(conn: &mut DbConnection, query: &str) -> Result<Option<Lsn>, StoreError> {
    let row: Position = diesel::RunQueryDsl::get_result(diesel::sql_query(query), conn)?;
    row.lsn.map(|text| text.parse()).transpose()
}

/// How far the primary has written: every transaction committed before this call ends at or
/// before it.
pub fn written(conn: &mut DbConnection) -> Result<Lsn, StoreError> {
    position(conn, "SELECT pg_current_wal_lsn()::text AS lsn")?
        .ok_or_else(|| StoreError::Config("the primary reported no WAL position".into()))
}

/// How far a replica has replayed its primary's log; `None` on a server that is not a replica.
pub fn replayed(conn: &mut DbConnection) -> Result<Option<Lsn>, StoreError> {
    position(conn, "SELECT pg_last_wal_replay_lsn()::text AS lsn")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_read_and_order_as_postgres_prints_them() {
        let early: Lsn = "0/16B3748".parse().unwrap();
        let late: Lsn = "1/0".parse().unwrap();
        assert!(early < late);
        assert_eq!(early.to_string(), "0/16B3748");
        assert_eq!(
            "16/B374D848".parse::<Lsn>().unwrap().to_string(),
            "16/B374D848"
        );
        assert!("16B374D848".parse::<Lsn>().is_err());
        assert!("G/0".parse::<Lsn>().is_err());
    }
}
