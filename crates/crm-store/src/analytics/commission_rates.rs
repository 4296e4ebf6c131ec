//! The commission rate per product profit tier, a settings document.

use crm_domain::analytics::profit::CommissionRates;

use crate::platform::db::DbConnection;
use crate::platform::documents::{self, Document};
use crate::StoreError;

const NAME: &str = "commission_rates";

pub type StoredRates = Document<CommissionRates>;

pub fn get(conn: &mut DbConnection) -> Result<StoredRates, StoreError> {
    documents::read(conn, NAME)
}

pub fn set(
    conn: &mut DbConnection,
    expected_version: Option<i64>,
    rates: CommissionRates,
) -> Result<StoredRates, StoreError> {
    rates.validate()?;
    documents::change(conn, NAME, expected_version, |stored| {
        *stored = rates;
        Ok(())
    })
}
