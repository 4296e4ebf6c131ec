//! The fields of the objects that take custom fields: built-in columns and custom fields, as the schema
//! endpoint describes them and admins change them.

use crm_domain::platform::custom_fields::{CustomField, CustomObject};
use crm_domain::Violations;

use crate::parties::views::table_of;
use crate::parties::{companies, contacts};
use crate::platform::custom_fields::{self as custom, Definition};
use crate::platform::db::DbConnection;
use crate::platform::query::Table;
use crate::sales::{leads, opportunities, orders};
use crate::StoreError;

/// An object's built-in columns and its custom fields, archived ones included.
pub fn describe(
    conn: &mut DbConnection,
    object: CustomObject,
) -> Result<(&'static Table, Vec<Definition>), StoreError> {
    let table = table_of(object).map_err(|_| StoreError::NotFound)?;
    Ok((table, custom::list(conn, object)?))
}

fn built_in(object: CustomObject) -> Result<Vec<&'static str>, StoreError> {
    match object {
        CustomObject::Contacts => Ok(contacts::built_in_names()),
        CustomObject::Companies => Ok(companies::built_in_names()),
        CustomObject::Leads => Ok(leads::built_in_names()),
        CustomObject::Opportunities => Ok(opportunities::built_in_names()),
        CustomObject::Orders => Ok(orders::built_in_names()),
    }
}

/// The custom fields of an object that has them.
pub fn list(conn: &mut DbConnection, object: CustomObject) -> Result<Vec<Definition>, StoreError> {
    built_in(object)?;
    custom::list(conn, object)
}

pub fn get(
    conn: &mut DbConnection,
    object: CustomObject,
    key: &str,
) -> Result<Definition, StoreError> {
    built_in(object)?;
    custom::get(conn, object, key)
}

/// Adds a custom field, whose key may not be a built-in name.
pub fn create(
    conn: &mut DbConnection,
    object: CustomObject,
    field: CustomField,
) -> Result<Definition, StoreError> {
    let names = built_in(object)?;
    custom::create(conn, object, field, &names)
}

/// Changes a field; `default` is read with the changed definition.
pub fn update(
    conn: &mut DbConnection,
    object: CustomObject,
    key: &str,
    expected_version: Option<i64>,
    change: impl FnOnce(&mut CustomField) -> Result<(), Violations>,
) -> Result<Definition, StoreError> {
    built_in(object)?;
    custom::update(conn, object, key, expected_version, |field| {
        change(field).map_err(StoreError::from)
    })
}

pub fn archive(conn: &mut DbConnection, object: CustomObject, key: &str) -> Result<(), StoreError> {
    built_in(object)?;
    custom::archive(conn, object, key)
}
