//! Contacts: people, unique by email among active contacts, findable by phone.

use crate::events::outbox;
use chrono::NaiveDateTime;
use crm_domain::events::catalogue::EventType;
use crm_domain::parties::contacts::{consent_time, email_key, LifecycleStage};
use diesel::prelude::*;

use crate::platform::db::DbConnection;
use crate::platform::pagination::{finish, keyset, After, KeyValue, Page, PageRequest};
use crate::platform::records::{self, Record};
use crate::platform::schema::contacts;
use crate::{
    access::users, new_id, now, parties::companies, tag_pattern, tags_from_json, tags_to_json,
    StoreError,
};

// `None` inserts NULL rather than DEFAULT (no column has a default), so that SQLite takes many
// rows in one statement (`create_many`).
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = contacts, treat_none_as_null = true, treat_none_as_default_value = false)]
struct ContactRow {
    id: String,
    company_id: Option<String>,
    first_name: Option<String>,
    last_name: String,
    email: Option<String>,
    email_key: Option<String>,
    phone: Option<String>,
    title: Option<String>,
    lifecycle_stage: String,
    owner_id: Option<String>,
    tags: String,
    preferences: String,
    marketing_consent: bool,
    marketing_consent_at: Option<NaiveDateTime>,
    search_text: String,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    archived_at: Option<NaiveDateTime>,
}

/// What a client may write. `phone` is already in E.164.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactFields {
    pub company_id: Option<String>,
    pub first_name: Option<String>,
    pub last_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub title: Option<String>,
    pub lifecycle_stage: LifecycleStage,
    pub owner_id: Option<String>,
    pub tags: Vec<String>,
    pub preferences: serde_json::Value,
    pub marketing_consent: bool,
}

#[derive(Debug, Clone)]
pub struct Contact {
    pub id: String,
    pub fields: ContactFields,
    pub marketing_consent_at: Option<NaiveDateTime>,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub archived_at: Option<NaiveDateTime>,
}

impl ContactRow {
    fn new(id: String, fields: &ContactFields, at: NaiveDateTime) -> Self {
        let mut row = ContactRow {
            id,
            company_id: None,
            first_name: None,
            last_name: String::new(),
            email: None,
            email_key: None,
            phone: None,
            title: None,
            lifecycle_stage: String::new(),
            owner_id: None,
            tags: String::new(),
            preferences: String::new(),
            marketing_consent: false,
            marketing_consent_at: None,
            search_text: String::new(),
            version: 1,
            created_at: at,
            updated_at: at,
            archived_at: None,
        };
        row.set_fields(fields, at);
        row
    }

    fn set_fields(&mut self, f: &ContactFields, at: NaiveDateTime) {
        self.company_id = f.company_id.clone();
        self.first_name = f.first_name.clone();
        self.last_name = f.last_name.clone();
        self.email = f.email.clone();
        self.email_key = f.email.as_deref().map(email_key);
        self.phone = f.phone.clone();
        self.title = f.title.clone();
        self.lifecycle_stage = f.lifecycle_stage.as_str().to_owned();
        self.owner_id = f.owner_id.clone();
        self.tags = tags_to_json(&f.tags);
        self.preferences = f.preferences.to_string();
        self.marketing_consent_at =
            consent_time(self.marketing_consent_at, f.marketing_consent, at);
        self.marketing_consent = f.marketing_consent;
        self.search_text = [
            f.first_name.as_ref(),
            Some(&f.last_name),
            f.email.as_ref(),
            f.phone.as_ref(),
        ]
        .into_iter()
        .flatten()
        .map(|s| s.to_lowercase())
        .collect::<Vec<_>>()
        .join(" ");
    }

    fn fields(&self) -> ContactFields {
        ContactFields {
            company_id: self.company_id.clone(),
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            email: self.email.clone(),
            phone: self.phone.clone(),
            title: self.title.clone(),
            lifecycle_stage: self
                .lifecycle_stage
                .parse()
                .unwrap_or(LifecycleStage::Prospect),
            owner_id: self.owner_id.clone(),
            tags: tags_from_json(&self.tags),
            preferences: serde_json::from_str(&self.preferences).unwrap_or_default(),
            marketing_consent: self.marketing_consent,
        }
    }

    fn into_contact(self) -> Contact {
        Contact {
            fields: self.fields(),
            id: self.id,
            marketing_consent_at: self.marketing_consent_at,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
            archived_at: self.archived_at,
        }
    }
}

/// Checks the references and the unique email of a contact about to be written.
fn check_write(
    conn: &mut DbConnection,
    fields: &ContactFields,
    own_id: &str,
) -> Result<(), StoreError> {
    if let Some(company_id) = &fields.company_id {
        companies::ensure_active(conn, company_id, "company_id")?;
    }
    if let Some(owner_id) = &fields.owner_id {
        users::ensure_active(conn, owner_id, "owner_id")?;
    }
    if let Some(email) = &fields.email {
        let existing: Option<String> = contacts::table
            .filter(contacts::email_key.eq(email_key(email)))
            .filter(contacts::archived_at.is_null())
            .filter(contacts::id.ne(own_id))
            .select(contacts::id)
            .first(conn)
            .optional()?;
        if let Some(existing_id) = existing {
            return Err(StoreError::Conflict {
                message: format!("a contact with email {email} already exists"),
                existing_id: Some(existing_id),
            });
        }
    }
    Ok(())
}

/// Maps the unique-index error of a concurrent duplicate (which the check above cannot see)
/// to the same conflict.
fn map_write_error(error: diesel::result::Error) -> StoreError {
    if StoreError::is_unique_violation(&error) {
        StoreError::Conflict {
            message: "a contact with this email already exists".into(),
            existing_id: None,
        }
    } else {
        error.into()
    }
}

pub fn create(conn: &mut DbConnection, fields: ContactFields) -> Result<Contact, StoreError> {
    let id = new_id();
    check_write(conn, &fields, &id)?;
    let row = ContactRow::new(id, &fields, now());
    diesel::insert_into(contacts::table)
        .values(&row)
        .execute(conn)
        .map_err(map_write_error)?;
    outbox::record(conn, EventType::ContactCreated, &row.id)?;
    Ok(row.into_contact())
}

/// Inserts contacts, each created at its own time, with multi-row INSERTs; returns their ids.
/// For bulk loads (`demo`), whose caller has checked the companies, owners and emails.
pub fn create_many(
    conn: &mut DbConnection,
    contacts: &[(ContactFields, NaiveDateTime)],
) -> Result<Vec<String>, StoreError> {
    let rows: Vec<ContactRow> = contacts
        .iter()
        .map(|(fields, at)| ContactRow::new(new_id(), fields, *at))
        .collect();
    crate::platform::db::insert_batch!(conn, contacts::table, rows);
    Ok(rows.into_iter().map(|r| r.id).collect())
}

fn load(conn: &mut DbConnection, id: &str) -> Result<ContactRow, StoreError> {
    Ok(contacts::table
        .find(id)
        .select(ContactRow::as_select())
        .first(conn)?)
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<Contact, StoreError> {
    load(conn, id).map(ContactRow::into_contact)
}

/// The company of a contact, if it exists; `NotFound` when the contact does not.
pub fn company_of(conn: &mut DbConnection, id: &str) -> Result<Option<String>, StoreError> {
    Ok(contacts::table
        .find(id)
        .select(contacts::company_id)
        .first(conn)?)
}

pub fn ensure_active(conn: &mut DbConnection, id: &str, field: &str) -> Result<(), StoreError> {
    let found: Option<Option<NaiveDateTime>> = contacts::table
        .find(id)
        .select(contacts::archived_at)
        .first(conn)
        .optional()?;
    match found {
        Some(None) => Ok(()),
        Some(Some(_)) => Err(crm_domain::Violation::new(field, "contact is archived").into()),
        None => Err(crm_domain::Violation::new(field, "no such contact").into()),
    }
}

pub fn update<F>(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    change: F,
) -> Result<Contact, StoreError>
where
    F: FnOnce(&mut ContactFields) -> Result<(), StoreError>,
{
    let mut row = records::checkout(conn, Record::Contact, id, expected_version, load, |r| {
        r.version
    })?;
    let mut fields = row.fields();
    change(&mut fields)?;
    check_write(conn, &fields, id)?;
    let previous_version = row.version;
    let at = now();
    row.set_fields(&fields, at);
    row.version += 1;
    row.updated_at = at;
    records::written(
        diesel::update(
            contacts::table
                .filter(contacts::id.eq(id))
                .filter(contacts::version.eq(previous_version)),
        )
        .set(&row)
        .execute(conn)
        .map_err(map_write_error)?,
        previous_version,
    )?;
    outbox::record(conn, EventType::ContactUpdated, id)?;
    Ok(row.into_contact())
}

/// Archives the contact, which frees its email for a new contact.
pub fn archive(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
) -> Result<(), StoreError> {
    let row = records::checkout(conn, Record::Contact, id, expected_version, load, |r| {
        r.version
    })?;
    if row.archived_at.is_none() {
        let at = now();
        diesel::update(contacts::table.filter(contacts::id.eq(id)))
            .set((
                contacts::archived_at.eq(Some(at)),
                contacts::updated_at.eq(at),
                contacts::version.eq(row.version + 1),
            ))
            .execute(conn)?;
        outbox::record(conn, EventType::ContactArchived, id)?;
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactSort {
    CreatedAt,
    UpdatedAt,
    LastName,
}

#[derive(Debug, Clone, Default)]
pub struct ContactFilter {
    /// Lower-cased text to find in the name, email or phone.
    pub q: Option<String>,
    pub email: Option<String>,
    /// E.164.
    pub phone: Option<String>,
    pub company_id: Option<String>,
    pub owner_id: Option<String>,
    pub lifecycle_stage: Option<LifecycleStage>,
    pub tag: Option<String>,
    pub created_after: Option<NaiveDateTime>,
    pub created_before: Option<NaiveDateTime>,
    pub include_archived: bool,
}

pub fn list(
    conn: &mut DbConnection,
    filter: &ContactFilter,
    page: &PageRequest<ContactSort>,
) -> Result<Page<Contact>, StoreError> {
    let mut query = contacts::table.select(ContactRow::as_select()).into_boxed();
    if !filter.include_archived {
        query = query.filter(contacts::archived_at.is_null());
    }
    if let Some(q) = &filter.q {
        query =
            crate::platform::pagination::substring_search!(query, conn, contacts::search_text, q);
    }
    if let Some(email) = &filter.email {
        query = query.filter(contacts::email_key.eq(email_key(email)));
    }
    if let Some(phone) = &filter.phone {
        query = query.filter(contacts::phone.eq(phone.clone()));
    }
    if let Some(company_id) = &filter.company_id {
        query = query.filter(contacts::company_id.eq(company_id.clone()));
    }
    if let Some(owner_id) = &filter.owner_id {
        query = query.filter(contacts::owner_id.eq(owner_id.clone()));
    }
    if let Some(stage) = filter.lifecycle_stage {
        query = query.filter(contacts::lifecycle_stage.eq(stage.as_str()));
    }
    if let Some(tag) = &filter.tag {
        query = query.filter(contacts::tags.like(tag_pattern(tag)).escape('\\'));
    }
    if let Some(after) = filter.created_after {
        query = query.filter(contacts::created_at.ge(after));
    }
    if let Some(before) = filter.created_before {
        query = query.filter(contacts::created_at.lt(before));
    }
    let rows: Vec<ContactRow> = match page.sort {
        ContactSort::CreatedAt => {
            keyset!(query, contacts::created_at, contacts::id, page, time).load(conn)?
        }
        ContactSort::UpdatedAt => {
            keyset!(query, contacts::updated_at, contacts::id, page, time).load(conn)?
        }
        ContactSort::LastName => {
            keyset!(query, contacts::last_name, contacts::id, page, text).load(conn)?
        }
    };
    let sort = page.sort;
    Ok(finish(rows, page.limit, |row| After {
        key: match sort {
            ContactSort::CreatedAt => KeyValue::Time(row.created_at),
            ContactSort::UpdatedAt => KeyValue::Time(row.updated_at),
            ContactSort::LastName => KeyValue::Text(row.last_name.clone()),
        },
        id: row.id.clone(),
    })
    .map(ContactRow::into_contact))
}

/// The live contact with this email (compared case-insensitively), if any.
pub fn find_active_by_email(
    conn: &mut DbConnection,
    email: &str,
) -> Result<Option<Contact>, StoreError> {
    let row: Option<ContactRow> = contacts::table
        .filter(contacts::email_key.eq(email_key(email)))
        .filter(contacts::archived_at.is_null())
        .select(ContactRow::as_select())
        .first(conn)
        .optional()?;
    Ok(row.map(ContactRow::into_contact))
}

/// The oldest live contact with this E.164 phone number, if any.
pub fn find_active_by_phone(
    conn: &mut DbConnection,
    phone: &str,
) -> Result<Option<Contact>, StoreError> {
    let row: Option<ContactRow> = contacts::table
        .filter(contacts::phone.eq(phone))
        .filter(contacts::archived_at.is_null())
        .order(contacts::created_at.asc())
        .select(ContactRow::as_select())
        .first(conn)
        .optional()?;
    Ok(row.map(ContactRow::into_contact))
}
