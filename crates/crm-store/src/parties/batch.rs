//! Batch upserts of contacts and companies: each item finds its live record by a key (an email,
//! a tax id, or the value of a unique custom field such as an external id) and creates it,
//! changes it, or leaves it exactly as it is.
//!
//! One call handles one item inside the caller's transaction; the caller runs one transaction
//! per item, so that a bad item never undoes the others and a later item sees the earlier
//! ones. The key is locked (`lock_key`) before the lookup: two batches sending the same new key
//! at once never both create it, the second waits and finds what the first created.

use crm_domain::access::permissions::Reach;
use crm_domain::parties::contacts::email_key;
use crm_domain::platform::custom_fields::{self as custom_values, CustomField, CustomObject};
use crm_domain::Violation;
use diesel::prelude::*;
use diesel::sql_types;
use serde_json::{Map, Value};

use crate::parties::companies::{self, Company, CompanyFields};
use crate::parties::contacts::{self, Contact, ContactFields};
use crate::platform::custom_fields as custom;
use crate::platform::db::{lock_key, DbConnection};
use crate::platform::query::Dialect;
use crate::platform::records::{self, Record};
use crate::platform::schema::companies as company_rows;
use crate::StoreError;

/// What an upsert did with its item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    /// No live record had the key: a new one holds the item.
    Created,
    /// The record had the key, and the item changed it.
    Updated,
    /// The record had the key and already held every value of the item: nothing was written.
    Unchanged,
}

impl Upserted {
    pub fn as_str(self) -> &'static str {
        match self {
            Upserted::Created => "created",
            Upserted::Updated => "updated",
            Upserted::Unchanged => "unchanged",
        }
    }
}

/// What finds the contact of an item.
#[derive(Debug, Clone, PartialEq)]
pub enum ContactKey {
    /// The email, compared case-insensitively.
    Email(String),
    /// The value of a unique custom field, as the client wrote it.
    Custom { key: String, value: Value },
}

/// What finds the company of an item.
#[derive(Debug, Clone, PartialEq)]
pub enum CompanyKey {
    /// The tax id, exactly; among several live companies with it, the oldest.
    TaxId(String),
    /// The value of a unique custom field, as the client wrote it.
    Custom { key: String, value: Value },
}

/// The live unique custom field `key` of `object`, which a batch may match on; anything else
/// is a violation naming `match_on`.
pub fn match_field(
    conn: &mut DbConnection,
    object: CustomObject,
    key: &str,
) -> Result<CustomField, StoreError> {
    let defs = custom::fields(conn, object)?;
    unique_field(&defs, object, key)
}

fn unique_field(
    defs: &[CustomField],
    object: CustomObject,
    key: &str,
) -> Result<CustomField, StoreError> {
    defs.iter()
        .find(|f| f.key == key && f.unique && !f.archived)
        .cloned()
        .ok_or_else(|| {
            Violation::new(
                "match_on",
                format!("`custom.{key}` is not a unique custom field of {object}"),
            )
            .into()
        })
}

/// Creates the contact `key` finds none of with `create`, or changes the one it finds with
/// `change` (a merge of the item's fields): `Unchanged`, writing nothing, when the change would
/// leave every value, custom ones included, as stored.
pub fn upsert_contact(
    conn: &mut DbConnection,
    key: &ContactKey,
    create: impl FnOnce() -> Result<ContactFields, StoreError>,
    change: impl FnOnce(&mut ContactFields) -> Result<(), StoreError>,
) -> Result<(Upserted, Contact), StoreError> {
    let found = match key {
        ContactKey::Email(email) => {
            // The key `customers::match_or_create` takes too, so that an order's customer and
            // a batch never both create the contact of one email.
            lock_key(conn, &format!("contact-email:{}", email_key(email)))?;
            contacts::find_active_by_email(conn, email)?.map(|contact| contact.id)
        }
        ContactKey::Custom { key, value } => {
            find_by_custom(conn, CustomObject::Contacts, key, value)?
        }
    };
    let Some(id) = found else {
        return Ok((Upserted::Created, contacts::create(conn, create()?)?));
    };
    records::lock(conn, Record::Contact, &id)?;
    let stored = contacts::get(conn, &id)?;
    if stored.archived_at.is_some() {
        // Archived between the lookup and the lock: its key is free again.
        return Ok((Upserted::Created, contacts::create(conn, create()?)?));
    }
    let write = |conn: &mut DbConnection, next: ContactFields| {
        contacts::update(conn, &id, None, |f| {
            *f = next;
            Ok(())
        })
    };
    change_unless_same(
        conn,
        CustomObject::Contacts,
        (stored, |s: &Contact| &s.fields),
        change,
        |f: &mut ContactFields| (&mut f.custom_fields, &mut f.custom_written),
        write,
    )
}

/// Creates the company `key` finds none of with `create`, or changes the one it finds with
/// `change`: `Unchanged`, writing nothing, when the change would leave every value as stored.
pub fn upsert_company(
    conn: &mut DbConnection,
    key: &CompanyKey,
    create: impl FnOnce() -> Result<CompanyFields, StoreError>,
    change: impl FnOnce(&mut CompanyFields) -> Result<(), StoreError>,
) -> Result<(Upserted, Company), StoreError> {
    let found = match key {
        CompanyKey::TaxId(tax_id) => {
            lock_key(conn, &format!("company-tax-id:{tax_id}"))?;
            live_company_with_tax_id(conn, tax_id)?
        }
        CompanyKey::Custom { key, value } => {
            find_by_custom(conn, CustomObject::Companies, key, value)?
        }
    };
    let Some(id) = found else {
        return Ok((Upserted::Created, companies::create(conn, create()?)?));
    };
    records::lock(conn, Record::Company, &id)?;
    let stored = companies::get(conn, &id, Reach::All, None)?;
    if stored.archived_at.is_some() {
        return Ok((Upserted::Created, companies::create(conn, create()?)?));
    }
    let write = |conn: &mut DbConnection, next: CompanyFields| {
        companies::update(conn, &id, None, |f| {
            *f = next;
            Ok(())
        })
    };
    change_unless_same(
        conn,
        CustomObject::Companies,
        (stored, |s: &Company| &s.fields),
        change,
        |f: &mut CompanyFields| (&mut f.custom_fields, &mut f.custom_written),
        write,
    )
}

/// Changes a stored record's fields with `change` and writes them with `write`, unless its
/// custom values, applied as a write applies them, leave every value as stored.
fn change_unless_same<F: Clone + PartialEq, R>(
    conn: &mut DbConnection,
    object: CustomObject,
    (stored, fields_of): (R, impl Fn(&R) -> &F),
    change: impl FnOnce(&mut F) -> Result<(), StoreError>,
    custom: impl Fn(&mut F) -> (&mut Map<String, Value>, &mut Option<Value>),
    write: impl FnOnce(&mut DbConnection, F) -> Result<R, StoreError>,
) -> Result<(Upserted, R), StoreError> {
    let mut next = fields_of(&stored).clone();
    change(&mut next)?;
    let defs = custom::fields_for_write(conn, object)?;
    let mut after = next.clone();
    let (values, written) = custom(&mut after);
    *values = custom_values::apply(&defs, values, written.take().as_ref(), false)?;
    if after == *fields_of(&stored) {
        return Ok((Upserted::Unchanged, stored));
    }
    Ok((Upserted::Updated, write(conn, next)?))
}

/// The oldest live company with exactly this tax id.
fn live_company_with_tax_id(
    conn: &mut DbConnection,
    tax_id: &str,
) -> Result<Option<String>, StoreError> {
    Ok(company_rows::table
        .filter(company_rows::tax_id.eq(tax_id))
        .filter(company_rows::archived_at.is_null())
        .order((company_rows::created_at.asc(), company_rows::id.asc()))
        .select(company_rows::id)
        .first(conn)
        .optional()?)
}

#[derive(QueryableByName)]
struct Found {
    #[diesel(sql_type = sql_types::Text)]
    id: String,
}

/// Locks the value of the unique custom field `key` as `written`, then finds the live record
/// of `object` (contacts or companies) holding it, compared in canonical form as
/// `custom_fields::check_unique` compares.
fn find_by_custom(
    conn: &mut DbConnection,
    object: CustomObject,
    key: &str,
    written: &Value,
) -> Result<Option<String>, StoreError> {
    let defs = custom::fields_for_write(conn, object)?;
    let field = unique_field(&defs, object, key)?;
    let canonical = field
        .read(written)
        .map_err(|why| Violation::new(custom_values::path(&field.key), why))?;
    let text = match canonical {
        Value::String(s) => s,
        other => other.to_string(),
    };
    let table = custom::table_of(object);
    lock_key(conn, &format!("{table}-custom:{}:{text}", field.key))?;
    // The key is a stored definition's (checked by `check_key`), never the client's text.
    let sql = match Dialect::of(conn) {
        Dialect::Postgres => format!(
            "SELECT id FROM {table} WHERE (custom_fields ->> '{}') = $1 \
             AND archived_at IS NULL ORDER BY created_at, id LIMIT 1",
            field.key
        ),
        Dialect::Sqlite => format!(
            "SELECT id FROM {table} WHERE CAST(json_extract(custom_fields, '$.{}') AS TEXT) = ? \
             AND archived_at IS NULL ORDER BY created_at, id LIMIT 1",
            field.key
        ),
    };
    let found: Option<Found> = diesel::sql_query(sql)
        .bind::<sql_types::Text, _>(&text)
        .get_result(conn)
        .optional()?;
    Ok(found.map(|f| f.id))
}
