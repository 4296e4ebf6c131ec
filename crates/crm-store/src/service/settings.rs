//! The desk's settings, a settings document.

use crm_domain::service::settings::ServiceSettings;

use crate::platform::db::DbConnection;
use crate::platform::documents::{self, Document};
use crate::StoreError;

const NAME: &str = "service";

pub type StoredServiceSettings = Document<ServiceSettings>;

pub fn get(conn: &mut DbConnection) -> Result<StoredServiceSettings, StoreError> {
    documents::read(conn, NAME)
}

pub fn update(
    conn: &mut DbConnection,
    expected_version: Option<i64>,
    edit: impl FnOnce(&mut ServiceSettings) -> Result<(), StoreError>,
) -> Result<StoredServiceSettings, StoreError> {
    documents::change(conn, NAME, expected_version, |settings| {
        edit(settings)?;
        Ok(settings.validate()?)
    })
}
