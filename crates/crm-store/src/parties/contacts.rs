//! Contacts: people, unique by email among active contacts, findable by phone.

use crate::events::outbox;
use crate::marketing::consents;
use crate::platform::query::{sql_text, FixedSql};
use chrono::{NaiveDate, NaiveDateTime};
use crm_domain::events::catalogue::EventType;
use crm_domain::marketing::campaigns::ConsentChannel;
use crm_domain::marketing::consent::{ConsentStatus, LawfulBasis};
use crm_domain::parties::contacts::{consent_time, email_key, LifecycleStage};
use crm_domain::parties::duplicates::{email_base, name_key};
use diesel::prelude::*;

use crate::parties::companies::{load_related, Expand, Related};
use crate::platform::custom_fields as custom;
use crate::platform::custom_fields::FieldCache;
use crate::platform::db::{natively, read_transaction, DbConnection};
use crate::platform::query::{
    choices, json_text, Column, ColumnKind, Dialect, Join, ListQuery, Listed, Table,
};
use crate::platform::records::{self, Record};
use crate::platform::schema::contacts;
use crate::platform::stored::{stored, stored_json};
use crate::{
    access::users, new_id, now, parties::companies, tag_pattern, tags_from_json, tags_to_json,
    StoreError,
};
use crm_domain::platform::custom_fields::{self as custom_values, CustomField, CustomObject};
use crm_domain::platform::filter::{FieldValue, Scalar};
use serde_json::{Map, Value};

sql_text!(ContactCustomFields: diesel::sql_types::Text = "CAST(contacts.custom_fields AS TEXT)");
sql_text!(ContactLastOrderAt: diesel::sql_types::Nullable<diesel::sql_types::Timestamp> = LAST_ORDER_AT);
sql_text!(ContactFieldsStamp: diesel::sql_types::Nullable<diesel::sql_types::BigInt> = custom::fields_stamp!("contacts"));

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
    /// The contact this one was merged into: it takes no more writes, and its `GET` redirects.
    merged_into_id: Option<String>,
    /// Duplicate keys (`crm_domain::parties::duplicates`), kept on every write.
    email_base: Option<String>,
    name_key: Option<String>,
    birthday: Option<NaiveDate>,
    locale: Option<String>,
    #[diesel(
        select_expression = FixedSql::<ContactCustomFields>::new(),
        select_expression_type = FixedSql<ContactCustomFields>,
        skip_insertion,
        skip_update
    )]
    custom_fields: String,
    /// Read, never written: the newest order's time, one probe of the orders' (contact_id,
    /// ordered_at) index.
    #[diesel(
        select_expression = FixedSql::<ContactLastOrderAt>::new(),
        select_expression_type = FixedSql<ContactLastOrderAt>,
        skip_insertion,
        skip_update
    )]
    last_order_at: Option<NaiveDateTime>,
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
    pub birthday: Option<NaiveDate>,
    /// A BCP 47 tag, such as `es-ES`; greeting rules pick contacts by it.
    pub locale: Option<String>,
    /// Stored custom values, in canonical form.
    pub custom_fields: Map<String, Value>,
    /// What the client wrote under `custom_fields`, applied by the write.
    pub custom_written: Option<Value>,
}

impl Default for ContactFields {
    /// A prospect with nothing known yet, whose preferences are an empty object.
    fn default() -> Self {
        ContactFields {
            company_id: None,
            first_name: None,
            last_name: String::new(),
            email: None,
            phone: None,
            title: None,
            lifecycle_stage: LifecycleStage::default(),
            owner_id: None,
            tags: Vec::new(),
            preferences: Value::Object(Map::new()),
            marketing_consent: false,
            birthday: None,
            locale: None,
            custom_fields: Map::new(),
            custom_written: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Contact {
    pub id: String,
    /// When the newest order was placed; read-only.
    pub last_order_at: Option<NaiveDateTime>,
    pub fields: ContactFields,
    /// The custom values clients see.
    pub custom_fields: Map<String, Value>,
    pub marketing_consent_at: Option<NaiveDateTime>,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub archived_at: Option<NaiveDateTime>,
    /// The contact this one was merged into.
    pub merged_into_id: Option<String>,
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
            merged_into_id: None,
            email_base: None,
            name_key: None,
            birthday: None,
            locale: None,
            custom_fields: String::new(),
            last_order_at: None,
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
        self.email_base = f.email.as_deref().map(email_base);
        self.name_key = name_key(f.first_name.as_deref(), &f.last_name);
        self.phone = f.phone.clone();
        self.title = f.title.clone();
        self.lifecycle_stage = f.lifecycle_stage.as_str().to_owned();
        self.owner_id = f.owner_id.clone();
        self.tags = tags_to_json(&f.tags);
        self.preferences = f.preferences.to_string();
        self.marketing_consent_at =
            consent_time(self.marketing_consent_at, f.marketing_consent, at);
        self.marketing_consent = f.marketing_consent;
        self.birthday = f.birthday;
        self.locale = f.locale.clone();
        self.custom_fields = Value::Object(f.custom_fields.clone()).to_string();
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

    fn fields(&self) -> Result<ContactFields, StoreError> {
        Ok(ContactFields {
            company_id: self.company_id.clone(),
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            email: self.email.clone(),
            phone: self.phone.clone(),
            title: self.title.clone(),
            lifecycle_stage: stored("contacts", "lifecycle_stage", &self.lifecycle_stage)?,
            owner_id: self.owner_id.clone(),
            tags: tags_from_json(&self.tags),
            preferences: stored_json("contacts", "preferences", &self.preferences)?,
            marketing_consent: self.marketing_consent,
            birthday: self.birthday,
            locale: self.locale.clone(),
            custom_fields: custom::stored_values("contacts", &self.custom_fields)?,
            custom_written: None,
        })
    }

    fn into_contact(self, defs: &[CustomField]) -> Result<Contact, StoreError> {
        let fields = self.fields()?;
        Ok(Contact {
            last_order_at: self.last_order_at,
            custom_fields: custom_values::visible(defs, &fields.custom_fields, false),
            fields,
            id: self.id,
            marketing_consent_at: self.marketing_consent_at,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
            archived_at: self.archived_at,
            merged_into_id: self.merged_into_id,
        })
    }

    /// What the filter language reads at `path`.
    fn value(&self, path: &str, defs: &[CustomField]) -> FieldValue {
        match path {
            "id" => FieldValue::text(Some(&self.id)),
            "first_name" => FieldValue::text(self.first_name.as_deref()),
            "last_name" => FieldValue::text(Some(&self.last_name)),
            "email" => FieldValue::text(self.email.as_deref()),
            "phone" => FieldValue::text(self.phone.as_deref()),
            "title" => FieldValue::text(self.title.as_deref()),
            "company_id" => FieldValue::text(self.company_id.as_deref()),
            "owner_id" => FieldValue::text(self.owner_id.as_deref()),
            "lifecycle_stage" => FieldValue::text(Some(&self.lifecycle_stage)),
            "marketing_consent" => FieldValue::One(Scalar::Boolean(self.marketing_consent)),
            "locale" => FieldValue::text(self.locale.as_deref()),
            "birthday" => self
                .birthday
                .map_or(FieldValue::Null, |d| FieldValue::One(Scalar::Date(d))),
            "created_at" => FieldValue::instant(Some(self.created_at)),
            "updated_at" => FieldValue::instant(Some(self.updated_at)),
            "archived_at" => FieldValue::instant(self.archived_at),
            "last_order_at" => FieldValue::instant(self.last_order_at),
            "tags" => FieldValue::Many(
                tags_from_json(&self.tags)
                    .into_iter()
                    .map(Scalar::Text)
                    .collect(),
            ),
            _ => custom::stored_path_value("contacts", &self.custom_fields, path, defs),
        }
    }
}

/// When the newest order was placed.
const LAST_ORDER_AT: &str =
    "(SELECT max(o.ordered_at) FROM orders o WHERE o.contact_id = contacts.id)";

/// The status of the contact's latest consent event on a channel, null without one.
macro_rules! consent {
    ($channel:literal) => {
        concat!(
            "(SELECT cc.status FROM contact_consents cc WHERE cc.contact_id = contacts.id",
            " AND cc.channel = '",
            $channel,
            "' ORDER BY cc.at DESC, cc.id DESC LIMIT 1)"
        )
    };
}

/// What lists of contacts filter and sort on.
pub const TABLE: Table = Table {
    object: "contacts",
    relations: &[
        ("company", "company_id", "companies"),
        ("owner", "owner_id", "users"),
    ],
    joins: &[Join {
        prefix: "company",
        key: "company_id",
        table: &companies::TABLE,
    }],
    columns: &[
        Column::ID,
        Column::new("first_name", "first_name", ColumnKind::Text).sortable(),
        Column::new("last_name", "last_name", ColumnKind::Text)
            .sortable()
            .indexed()
            .not_null()
            .required(),
        Column::new("email", "email", ColumnKind::Text)
            .sortable()
            .indexed(),
        Column::new("phone", "phone", ColumnKind::Text).indexed(),
        Column::new("title", "title", ColumnKind::Text),
        Column::new("locale", "locale", ColumnKind::Text),
        Column::new("birthday", "birthday", ColumnKind::Date),
        Column::new("company_id", "company_id", ColumnKind::Text).indexed(),
        Column::new("owner_id", "owner_id", ColumnKind::Text).indexed(),
        Column::new(
            "lifecycle_stage",
            "lifecycle_stage",
            ColumnKind::Choice(|| choices(LifecycleStage::ALL, |v| v.as_str())),
        )
        .sortable()
        .not_null(),
        Column::new("tags", "tags", ColumnKind::Tags).not_null(),
        Column::new(
            "marketing_consent",
            "marketing_consent",
            ColumnKind::Boolean,
        )
        .not_null(),
        Column::CREATED_AT,
        Column::UPDATED_AT.indexed(),
        Column::ARCHIVED_AT,
        Column::new("last_order_at", LAST_ORDER_AT, ColumnKind::Instant).sortable(),
        Column::new(
            "consent.email",
            consent!("email"),
            ColumnKind::Choice(|| choices(ConsentStatus::ALL, |v| v.as_str())),
        ),
        Column::new(
            "consent.phone",
            consent!("phone"),
            ColumnKind::Choice(|| choices(ConsentStatus::ALL, |v| v.as_str())),
        ),
        Column::new(
            "consent.sms",
            consent!("sms"),
            ColumnKind::Choice(|| choices(ConsentStatus::ALL, |v| v.as_str())),
        ),
        Column::new(
            "consent.post",
            consent!("post"),
            ColumnKind::Choice(|| choices(ConsentStatus::ALL, |v| v.as_str())),
        ),
    ],
};

/// The built-in names custom field keys may not take.
pub fn built_in_names() -> Vec<&'static str> {
    TABLE
        .columns
        .iter()
        .map(|c| c.path)
        .chain(["preferences", "version", "custom_fields"])
        .collect()
}

/// Checks the references and the unique email of a contact about to be written.
fn check_write(
    conn: &mut DbConnection,
    fields: &mut ContactFields,
    defs: &[CustomField],
    own_id: &str,
    creating: bool,
) -> Result<(), StoreError> {
    fields.custom_fields = custom_values::apply(
        defs,
        &fields.custom_fields,
        fields.custom_written.take().as_ref(),
        creating,
    )?;
    custom::check_unique(
        conn,
        CustomObject::Contacts,
        defs,
        &fields.custom_fields,
        own_id,
    )?;
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
fn map_write_error(error: diesel::result::Error, defs: &[CustomField]) -> StoreError {
    if let Some(conflict) = custom::unique_index_conflict(CustomObject::Contacts, defs, &error) {
        conflict
    } else if StoreError::is_unique_violation(&error) {
        StoreError::Conflict {
            message: "a contact with this email already exists".into(),
            existing_id: None,
        }
    } else {
        error.into()
    }
}

/// The consent event of a write of `marketing_consent`, which is the summary of email.
fn email_consent(granted: bool, at: NaiveDateTime) -> consents::ConsentEvent {
    consents::ConsentEvent {
        channel: ConsentChannel::Email,
        status: if granted {
            ConsentStatus::Granted
        } else {
            ConsentStatus::Withdrawn
        },
        lawful_basis: LawfulBasis::Consent,
        source: "contact".to_owned(),
        at,
        recorded_by: None,
    }
}

pub fn create(conn: &mut DbConnection, mut fields: ContactFields) -> Result<Contact, StoreError> {
    let id = new_id();
    let defs = custom::fields_for_write(conn, CustomObject::Contacts)?;
    check_write(conn, &mut fields, &defs, &id, true)?;
    let row = ContactRow::new(id, &fields, now());
    let custom_fields = json_text(Dialect::of(conn), row.custom_fields.clone());
    diesel::insert_into(contacts::table)
        .values((&row, contacts::custom_fields.eq(custom_fields)))
        .execute(conn)
        .map_err(|e| map_write_error(e, &defs))?;
    if row.marketing_consent {
        consents::append(conn, &row.id, &email_consent(true, row.created_at))?;
    }
    outbox::record(conn, EventType::ContactCreated, &row.id)?;
    row.into_contact(&custom::fields(conn, CustomObject::Contacts)?)
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
    let given: Vec<(String, consents::ConsentEvent)> = rows
        .iter()
        .filter(|r| r.marketing_consent)
        .map(|r| (r.id.clone(), email_consent(true, r.created_at)))
        .collect();
    consents::append_many(conn, &given)?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

fn load(conn: &mut DbConnection, id: &str) -> Result<ContactRow, StoreError> {
    Ok(natively!(conn, |native| contacts::table
        .find(id)
        .select(ContactRow::as_select())
        .first(native))?)
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<Contact, StoreError> {
    let row = load(conn, id)?;
    row.into_contact(&custom::fields(conn, CustomObject::Contacts)?)
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
    write(conn, id, expected_version, change, None)
}

/// The survivor of a merge takes `fields`, and with them the consent time of the record whose
/// email it keeps (`consent_at`); its caller holds the lock.
pub(crate) fn absorb(
    conn: &mut DbConnection,
    id: &str,
    fields: ContactFields,
    consent_at: Option<NaiveDateTime>,
) -> Result<Contact, StoreError> {
    write(
        conn,
        id,
        None,
        move |stored| {
            *stored = fields;
            Ok(())
        },
        Some(consent_at),
    )
}

fn write<F>(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    change: F,
    consent_at: Option<Option<NaiveDateTime>>,
) -> Result<Contact, StoreError>
where
    F: FnOnce(&mut ContactFields) -> Result<(), StoreError>,
{
    // The definitions before the record, in the order a change of definition takes them.
    let defs = custom::fields_for_write(conn, CustomObject::Contacts)?;
    let mut row = records::checkout(conn, Record::Contact, id, expected_version, load, |r| {
        r.version
    })?;
    records::refuse_merged(row.merged_into_id.as_deref())?;
    if let Some(at) = consent_at {
        row.marketing_consent_at = at;
    }
    let mut fields = row.fields()?;
    change(&mut fields)?;
    check_write(conn, &mut fields, &defs, id, false)?;
    let previous_version = row.version;
    let consented_before = row.marketing_consent;
    let at = now();
    row.set_fields(&fields, at);
    row.version += 1;
    row.updated_at = at;
    records::update_with_custom_fields!(conn, contacts, id, previous_version, &row, |e| {
        map_write_error(e, &defs)
    })?;
    if row.marketing_consent != consented_before {
        consents::append(conn, id, &email_consent(row.marketing_consent, at))?;
    }
    outbox::record(conn, EventType::ContactUpdated, id)?;
    row.into_contact(&custom::fields(conn, CustomObject::Contacts)?)
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
    records::refuse_merged(row.merged_into_id.as_deref())?;
    if row.archived_at.is_none() {
        records::archive(conn, Record::Contact, id, row.version)?;
        outbox::record(conn, EventType::ContactArchived, id)?;
    }
    Ok(())
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
    query: &ListQuery,
) -> Result<Listed<Contact>, StoreError> {
    let defs = custom::fields(conn, CustomObject::Contacts)?;
    list_with(conn, &defs, filter, query)
}

/// How many live contacts `query`'s filter matches, in one `COUNT(*)`.
pub fn count_live(conn: &mut DbConnection, query: &ListQuery) -> Result<i64, StoreError> {
    let defs = custom::fields(conn, CustomObject::Contacts)?;
    let plan = TABLE.plan(Dialect::of(conn), &defs, query)?;
    let mut rows = contacts::table
        .filter(contacts::archived_at.is_null())
        .into_boxed();
    if let Some(condition) = plan.condition {
        rows = rows.filter(condition);
    }
    Ok(rows.count().get_result(conn)?)
}

/// The custom fields of contacts, and of companies when they are embedded, in one query.
fn field_sets(
    conn: &mut DbConnection,
    expand: Expand,
) -> Result<(Vec<CustomField>, Vec<CustomField>), StoreError> {
    if !expand.company {
        return Ok((custom::fields(conn, CustomObject::Contacts)?, Vec::new()));
    }
    let mut sets = custom::fields_of(conn, &[CustomObject::Contacts, CustomObject::Companies])?;
    Ok((
        sets.remove(&CustomObject::Contacts).unwrap_or_default(),
        sets.remove(&CustomObject::Companies).unwrap_or_default(),
    ))
}

/// A page of contacts with the records it points at.
pub fn list_expanded(
    conn: &mut DbConnection,
    filter: &ContactFilter,
    query: &ListQuery,
    expand: Expand,
) -> Result<(Listed<Contact>, Related), StoreError> {
    let (defs, company_defs) = field_sets(conn, expand)?;
    let page = list_with(conn, &defs, filter, query)?;
    let companies = page
        .items
        .iter()
        .filter_map(|c| c.fields.company_id.clone())
        .collect();
    let owners = page
        .items
        .iter()
        .filter_map(|c| c.fields.owner_id.clone())
        .collect();
    let related = load_related(conn, expand, companies, owners, &company_defs)?;
    Ok((page, related))
}

/// One contact with the records it points at.
pub fn get_expanded(
    conn: &mut DbConnection,
    fields: &FieldCache,
    id: &str,
    expand: Expand,
) -> Result<(Contact, Related), StoreError> {
    if expand == Expand::default() {
        return Ok((get_whole(conn, fields, id)?, Related::default()));
    }
    read_transaction(conn, |conn| {
        let (defs, company_defs) = field_sets(conn, expand)?;
        let contact = load(conn, id)?.into_contact(&defs)?;
        let related = load_related(
            conn,
            expand,
            contact.fields.company_id.clone().into_iter().collect(),
            contact.fields.owner_id.clone().into_iter().collect(),
            &company_defs,
        )?;
        Ok((contact, related))
    })
}

/// A contact with nothing embedded, in one statement while `fields` holds the current
/// definitions.
fn get_whole(
    conn: &mut DbConnection,
    fields: &FieldCache,
    id: &str,
) -> Result<Contact, StoreError> {
    fields.read_record(
        conn,
        CustomObject::Contacts,
        |conn| {
            Ok(natively!(conn, |native| contacts::table
                .find(id)
                .select((
                    ContactRow::as_select(),
                    FixedSql::<ContactFieldsStamp>::new()
                ))
                .first(native))?)
        },
        ContactRow::into_contact,
    )
}

fn list_with(
    conn: &mut DbConnection,
    defs: &[CustomField],
    filter: &ContactFilter,
    query: &ListQuery,
) -> Result<Listed<Contact>, StoreError> {
    let plan = TABLE.plan(Dialect::of(conn), defs, query)?;
    let mut rows = contacts::table.select(ContactRow::as_select()).into_boxed();
    if !filter.include_archived {
        rows = rows.filter(contacts::archived_at.is_null());
    }
    if let Some(q) = &filter.q {
        rows = crate::platform::pagination::substring_search!(rows, conn, contacts::search_text, q);
    }
    if let Some(email) = &filter.email {
        rows = rows.filter(contacts::email_key.eq(email_key(email)));
    }
    if let Some(phone) = &filter.phone {
        rows = rows.filter(contacts::phone.eq(phone.clone()));
    }
    if let Some(company_id) = &filter.company_id {
        rows = rows.filter(contacts::company_id.eq(company_id.clone()));
    }
    if let Some(owner_id) = &filter.owner_id {
        rows = rows.filter(contacts::owner_id.eq(owner_id.clone()));
    }
    if let Some(stage) = filter.lifecycle_stage {
        rows = rows.filter(contacts::lifecycle_stage.eq(stage.as_str()));
    }
    if let Some(tag) = &filter.tag {
        rows = rows.filter(contacts::tags.like(tag_pattern(tag)).escape('\\'));
    }
    if let Some(after) = filter.created_after {
        rows = rows.filter(contacts::created_at.ge(after));
    }
    if let Some(before) = filter.created_before {
        rows = rows.filter(contacts::created_at.lt(before));
    }
    let rows: Vec<ContactRow> = crate::platform::query::planned!(rows, plan).load(conn)?;
    plan.page(
        rows,
        |row, path| row.value(path, defs),
        |row| row.id.clone(),
    )
    .try_map(|row| row.into_contact(defs))
}

/// The contacts among `ids`, in one query.
pub fn by_ids(
    conn: &mut DbConnection,
    ids: &[String],
    defs: &[CustomField],
) -> Result<Vec<Contact>, StoreError> {
    let rows: Vec<ContactRow> = contacts::table
        .filter(contacts::id.eq_any(ids))
        .select(ContactRow::as_select())
        .load(conn)?;
    rows.into_iter().map(|row| row.into_contact(defs)).collect()
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
    let defs = custom::fields(conn, CustomObject::Contacts)?;
    row.map(|row| row.into_contact(&defs)).transpose()
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
    let defs = custom::fields(conn, CustomObject::Contacts)?;
    row.map(|row| row.into_contact(&defs)).transpose()
}
