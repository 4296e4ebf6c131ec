//! Our own company's fiscal data: the issuer on every invoice.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::platform::address::Address;
use crate::platform::db::DbConnection;
use crate::platform::records::{self, Record};
use crate::platform::schema::company_settings;
use crate::{now, StoreError};

const ROW: &str = "company";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = company_settings)]
struct SettingsRow {
    legal_name: Option<String>,
    tax_id: Option<String>,
    address_line1: Option<String>,
    address_line2: Option<String>,
    address_city: Option<String>,
    address_region: Option<String>,
    address_postal_code: Option<String>,
    address_country: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    version: i64,
    updated_at: NaiveDateTime,
    fiscal_time_zone: String,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct CompanySettingsFields {
    pub legal_name: Option<String>,
    pub tax_id: Option<String>,
    pub address: Address,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// The IANA zone whose calendar dates and numbers our documents.
    pub fiscal_time_zone: String,
}

#[derive(Debug, Clone)]
pub struct CompanySettings {
    pub fields: CompanySettingsFields,
    pub version: i64,
    pub updated_at: NaiveDateTime,
}

pub fn get(conn: &mut DbConnection) -> Result<CompanySettings, StoreError> {
    let row: SettingsRow = company_settings::table
        .find(ROW)
        .select(SettingsRow::as_select())
        .first(conn)?;
    Ok(CompanySettings {
        fields: CompanySettingsFields {
            legal_name: row.legal_name,
            tax_id: row.tax_id,
            address: Address {
                line1: row.address_line1,
                line2: row.address_line2,
                city: row.address_city,
                region: row.address_region,
                postal_code: row.address_postal_code,
                country: row.address_country,
            },
            email: row.email,
            phone: row.phone,
            fiscal_time_zone: row.fiscal_time_zone,
        },
        version: row.version,
        updated_at: row.updated_at,
    })
}

pub fn update<F>(
    conn: &mut DbConnection,
    expected_version: Option<i64>,
    change: F,
) -> Result<CompanySettings, StoreError>
where
    F: FnOnce(&mut CompanySettingsFields) -> Result<(), StoreError>,
{
    let current = records::checkout(
        conn,
        Record::CompanySettings,
        ROW,
        expected_version,
        |c, _| get(c),
        |r| r.version,
    )?;
    let mut f = current.fields.clone();
    change(&mut f)?;
    diesel::update(company_settings::table.find(ROW))
        .set((
            company_settings::legal_name.eq(&f.legal_name),
            company_settings::tax_id.eq(&f.tax_id),
            company_settings::address_line1.eq(&f.address.line1),
            company_settings::address_line2.eq(&f.address.line2),
            company_settings::address_city.eq(&f.address.city),
            company_settings::address_region.eq(&f.address.region),
            company_settings::address_postal_code.eq(&f.address.postal_code),
            company_settings::address_country.eq(&f.address.country),
            company_settings::email.eq(&f.email),
            company_settings::phone.eq(&f.phone),
            company_settings::fiscal_time_zone.eq(&f.fiscal_time_zone),
            company_settings::version.eq(current.version + 1),
            company_settings::updated_at.eq(now()),
        ))
        .execute(conn)?;
    get(conn)
}
