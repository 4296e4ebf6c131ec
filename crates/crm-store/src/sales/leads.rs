//! Leads: prospects not yet known as customers, until they are converted.

use crate::events::outbox;
use crate::platform::query::{sql_text, FixedSql};
use chrono::NaiveDateTime;
use crm_domain::events::catalogue::EventType;
use crm_domain::sales::leads::{transition, LeadAction, LeadSource, LeadStatus};
use diesel::prelude::*;

use crate::marketing::campaigns;
use crate::parties::customers::{self, CustomerRef};
use crate::platform::counters;
use crate::platform::custom_fields as custom;
use crate::platform::custom_fields::FieldCache;
use crate::platform::db::{natively, read_transaction, DbConnection};
use crate::platform::query::{
    choices, json_text, planned, Column, ColumnKind, Dialect, ListQuery, Listed, Table,
};
use crate::platform::records::{self, Record};
use crate::platform::schema::leads;
use crate::platform::stored::stored;
use crate::sales::quotes::{self, QuoteDraft};
use crate::sales::related::{self, Embed, Embedded, Pointers};
use crate::{access::users, new_id, now, StoreError};
use crm_domain::platform::custom_fields::{self as custom_values, CustomField, CustomObject};
use crm_domain::platform::filter::FieldValue;
use serde_json::{Map, Value};

sql_text!(LeadCustomFields: diesel::sql_types::Text = "CAST(leads.custom_fields AS TEXT)");
sql_text!(LeadFieldsStamp: diesel::sql_types::Nullable<diesel::sql_types::BigInt> = custom::fields_stamp!("leads"));

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = leads, treat_none_as_null = true)]
struct LeadRow {
    id: String,
    source: String,
    status: String,
    owner_id: Option<String>,
    score: Option<i64>,
    estimated_value_minor: Option<i64>,
    estimated_value_currency: Option<String>,
    notes: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    company_name: Option<String>,
    disqualify_reason: Option<String>,
    converted_contact_id: Option<String>,
    converted_company_id: Option<String>,
    converted_quote_id: Option<String>,
    converted_at: Option<NaiveDateTime>,
    search_text: String,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    archived_at: Option<NaiveDateTime>,
    #[diesel(
        select_expression = FixedSql::<LeadCustomFields>::new(),
        select_expression_type = FixedSql<LeadCustomFields>,
        skip_insertion,
        skip_update
    )]
    custom_fields: String,
    campaign_id: Option<String>,
}

/// What a client may write. `phone` is E.164; the value is (minor units, currency).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadFields {
    pub source: LeadSource,
    pub owner_id: Option<String>,
    pub score: Option<i64>,
    pub estimated_value: Option<(i64, String)>,
    pub notes: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub company_name: Option<String>,
    /// The campaign that brought it; its opportunity and quote take it on conversion.
    pub campaign_id: Option<String>,
    /// Stored custom values, in canonical form.
    pub custom_fields: Map<String, Value>,
    /// What the client wrote under `custom_fields`, applied by the write.
    pub custom_written: Option<Value>,
}

#[derive(Debug, Clone)]
pub struct Lead {
    pub id: String,
    pub fields: LeadFields,
    /// The custom values clients see.
    pub custom_fields: Map<String, Value>,
    pub status: LeadStatus,
    pub disqualify_reason: Option<String>,
    pub converted_contact_id: Option<String>,
    pub converted_company_id: Option<String>,
    pub converted_quote_id: Option<String>,
    pub converted_at: Option<NaiveDateTime>,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub archived_at: Option<NaiveDateTime>,
}

impl LeadRow {
    fn fields(&self) -> Result<LeadFields, StoreError> {
        Ok(LeadFields {
            source: stored("leads", "source", &self.source)?,
            owner_id: self.owner_id.clone(),
            score: self.score,
            estimated_value: self
                .estimated_value_minor
                .zip(self.estimated_value_currency.clone()),
            notes: self.notes.clone(),
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            email: self.email.clone(),
            phone: self.phone.clone(),
            company_name: self.company_name.clone(),
            campaign_id: self.campaign_id.clone(),
            custom_fields: custom::stored_values("leads", &self.custom_fields)?,
            custom_written: None,
        })
    }

    fn set_fields(&mut self, f: LeadFields) {
        self.search_text = [
            &f.first_name,
            &f.last_name,
            &f.email,
            &f.phone,
            &f.company_name,
        ]
        .into_iter()
        .flatten()
        .map(|s| s.to_lowercase())
        .collect::<Vec<_>>()
        .join(" ");
        self.source = f.source.as_str().to_owned();
        self.owner_id = f.owner_id;
        self.score = f.score;
        self.estimated_value_minor = f.estimated_value.as_ref().map(|v| v.0);
        self.estimated_value_currency = f.estimated_value.map(|v| v.1);
        self.notes = f.notes;
        self.first_name = f.first_name;
        self.last_name = f.last_name;
        self.email = f.email;
        self.phone = f.phone;
        self.campaign_id = f.campaign_id;
        self.company_name = f.company_name;
        self.custom_fields = Value::Object(f.custom_fields).to_string();
    }

    fn into_lead(self, defs: &[CustomField]) -> Result<Lead, StoreError> {
        let fields = self.fields()?;
        Ok(Lead {
            custom_fields: custom_values::visible(defs, &fields.custom_fields, false),
            fields,
            status: stored("leads", "status", &self.status)?,
            id: self.id,
            disqualify_reason: self.disqualify_reason,
            converted_contact_id: self.converted_contact_id,
            converted_company_id: self.converted_company_id,
            converted_quote_id: self.converted_quote_id,
            converted_at: self.converted_at,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
            archived_at: self.archived_at,
        })
    }

    /// What the filter language reads at `path`.
    fn value(&self, path: &str, defs: &[CustomField]) -> FieldValue {
        match path {
            "id" => FieldValue::text(Some(&self.id)),
            "source" => FieldValue::text(Some(&self.source)),
            "status" => FieldValue::text(Some(&self.status)),
            "owner_id" => FieldValue::text(self.owner_id.as_deref()),
            "campaign_id" => FieldValue::text(self.campaign_id.as_deref()),
            "score" => FieldValue::integer(self.score),
            "estimated_value.amount_minor" => FieldValue::integer(self.estimated_value_minor),
            "estimated_value.currency" => {
                FieldValue::text(self.estimated_value_currency.as_deref())
            }
            "first_name" => FieldValue::text(self.first_name.as_deref()),
            "last_name" => FieldValue::text(self.last_name.as_deref()),
            "email" => FieldValue::text(self.email.as_deref()),
            "phone" => FieldValue::text(self.phone.as_deref()),
            "company_name" => FieldValue::text(self.company_name.as_deref()),
            "converted_at" => FieldValue::instant(self.converted_at),
            "created_at" => FieldValue::instant(Some(self.created_at)),
            "updated_at" => FieldValue::instant(Some(self.updated_at)),
            "archived_at" => FieldValue::instant(self.archived_at),
            _ => custom::stored_path_value("leads", &self.custom_fields, path, defs),
        }
    }
}

/// What lists of leads filter and sort on.
pub const TABLE: Table = Table {
    object: "leads",
    joins: &[],
    relations: &[("owner", "owner_id", "users")],
    columns: &[
        Column::ID,
        Column::new(
            "source",
            "source",
            ColumnKind::Choice(|| choices(LeadSource::ALL, |v| v.as_str())),
        )
        .sortable()
        .not_null(),
        Column::new(
            "status",
            "status",
            ColumnKind::Choice(|| choices(LeadStatus::ALL, |v| v.as_str())),
        )
        .sortable()
        .indexed()
        .not_null(),
        Column::new("owner_id", "owner_id", ColumnKind::Text).indexed(),
        Column::new("campaign_id", "campaign_id", ColumnKind::Text).indexed(),
        Column::new("score", "score", ColumnKind::Integer).sortable(),
        Column::new(
            "estimated_value.amount_minor",
            "estimated_value_minor",
            ColumnKind::Integer,
        )
        .sortable(),
        Column::new(
            "estimated_value.currency",
            "estimated_value_currency",
            ColumnKind::Text,
        ),
        Column::new("first_name", "first_name", ColumnKind::Text).sortable(),
        Column::new("last_name", "last_name", ColumnKind::Text).sortable(),
        Column::new("email", "email", ColumnKind::Text).sortable(),
        Column::new("phone", "phone", ColumnKind::Text),
        Column::new("company_name", "company_name", ColumnKind::Text).sortable(),
        Column::new("converted_at", "converted_at", ColumnKind::Instant).sortable(),
        Column::CREATED_AT,
        Column::UPDATED_AT,
        Column::ARCHIVED_AT,
    ],
};

/// The built-in names custom field keys may not take.
pub fn built_in_names() -> Vec<&'static str> {
    TABLE
        .columns
        .iter()
        .map(|c| c.path)
        .chain([
            "estimated_value",
            "notes",
            "disqualify_reason",
            "converted_contact_id",
            "converted_company_id",
            "converted_quote_id",
            "version",
            "custom_fields",
        ])
        .collect()
}

/// Checks the owner and the custom values of a lead about to be written.
fn check_write(
    conn: &mut DbConnection,
    f: &mut LeadFields,
    defs: &[CustomField],
    own_id: &str,
    creating: bool,
) -> Result<(), StoreError> {
    f.custom_fields = custom_values::apply(
        defs,
        &f.custom_fields,
        f.custom_written.take().as_ref(),
        creating,
    )?;
    custom::check_unique(conn, CustomObject::Leads, defs, &f.custom_fields, own_id)?;
    if let Some(id) = &f.owner_id {
        users::ensure_active(conn, id, "owner_id")?;
    }
    if let Some(id) = &f.campaign_id {
        campaigns::ensure_exists(conn, id, "campaign_id")?;
    }
    if f.email.is_none() && f.phone.is_none() && f.last_name.is_none() && f.company_name.is_none() {
        return Err(crm_domain::Violation::new(
            "email",
            "a lead needs at least an email, a phone, a last name or a company name",
        )
        .into());
    }
    Ok(())
}

pub fn create(conn: &mut DbConnection, mut fields: LeadFields) -> Result<Lead, StoreError> {
    let id = new_id();
    let defs = custom::fields_for_write(conn, CustomObject::Leads)?;
    check_write(conn, &mut fields, &defs, &id, true)?;
    let at = now();
    let mut row = LeadRow {
        id,
        source: String::new(),
        status: LeadStatus::New.as_str().to_owned(),
        owner_id: None,
        score: None,
        estimated_value_minor: None,
        estimated_value_currency: None,
        notes: None,
        first_name: None,
        last_name: None,
        email: None,
        phone: None,
        company_name: None,
        disqualify_reason: None,
        converted_contact_id: None,
        converted_company_id: None,
        converted_quote_id: None,
        converted_at: None,
        search_text: String::new(),
        version: 1,
        created_at: at,
        updated_at: at,
        archived_at: None,
        custom_fields: String::new(),
        campaign_id: None,
    };
    row.set_fields(fields);
    let custom_fields = json_text(Dialect::of(conn), row.custom_fields.clone());
    diesel::insert_into(leads::table)
        .values((&row, leads::custom_fields.eq(custom_fields)))
        .execute(conn)
        .map_err(|e| map_write_error(e, &defs))?;
    outbox::record(conn, EventType::LeadCreated, &row.id)?;
    row.into_lead(&defs)
}

/// A concurrent write of a `unique` custom value, which the check cannot see, meets its index.
fn map_write_error(error: diesel::result::Error, defs: &[CustomField]) -> StoreError {
    custom::unique_index_conflict(CustomObject::Leads, defs, &error).unwrap_or_else(|| error.into())
}

fn load(conn: &mut DbConnection, id: &str) -> Result<LeadRow, StoreError> {
    Ok(natively!(conn, |native| leads::table
        .find(id)
        .select(LeadRow::as_select())
        .first(native))?)
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<Lead, StoreError> {
    let row = load(conn, id)?;
    row.into_lead(&custom::fields(conn, CustomObject::Leads)?)
}

/// A lead with the records `embed` asks for; with none, in one statement while `fields` holds
/// the current definitions.
pub fn get_expanded(
    conn: &mut DbConnection,
    fields: &FieldCache,
    id: &str,
    embed: Embed,
) -> Result<(Lead, Embedded), StoreError> {
    if embed != Embed::default() {
        return read_transaction(conn, |conn| related::get_expanded(conn, id, embed, get));
    }
    let lead = fields.read_record(
        conn,
        CustomObject::Leads,
        |conn| {
            Ok(natively!(conn, |native| leads::table
                .find(id)
                .select((LeadRow::as_select(), FixedSql::<LeadFieldsStamp>::new()))
                .first(native))?)
        },
        LeadRow::into_lead,
    )?;
    Ok((lead, Embedded::default()))
}

fn save(
    conn: &mut DbConnection,
    row: &mut LeadRow,
    previous_version: i64,
    defs: &[CustomField],
) -> Result<(), StoreError> {
    row.version = previous_version + 1;
    row.updated_at = now();
    records::update_with_custom_fields!(conn, leads, &row.id, previous_version, &*row, |e| {
        map_write_error(e, defs)
    })
}

/// Edits a lead; a converted lead is read-only.
pub fn update<F>(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    change: F,
) -> Result<Lead, StoreError>
where
    F: FnOnce(&mut LeadFields) -> Result<(), StoreError>,
{
    // The definitions before the record, in the order a change of definition takes them.
    let defs = custom::fields_for_write(conn, CustomObject::Leads)?;
    let mut row = records::checkout(conn, Record::Lead, id, expected_version, load, |r| {
        r.version
    })?;
    let status: LeadStatus = stored("leads", "status", &row.status)?;
    transition(status, LeadAction::Edit)?;
    let mut fields = row.fields()?;
    change(&mut fields)?;
    check_write(conn, &mut fields, &defs, id, false)?;
    let previous = row.version;
    row.set_fields(fields);
    save(conn, &mut row, previous, &defs)?;
    outbox::record(conn, EventType::LeadUpdated, id)?;
    row.into_lead(&defs)
}

/// `assign` (to `owner_id`), `qualify` or `disqualify` (with `reason`).
pub fn act(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    action: LeadAction,
    owner_id: Option<String>,
    reason: Option<String>,
) -> Result<Lead, StoreError> {
    let mut row = records::checkout(conn, Record::Lead, id, expected_version, load, |r| {
        r.version
    })?;
    let status: LeadStatus = stored("leads", "status", &row.status)?;
    let next = transition(status, action)?;
    if action == LeadAction::Assign {
        if let Some(owner) = &owner_id {
            users::ensure_active(conn, owner, "owner_id")?;
        }
        row.owner_id = owner_id;
    }
    if action == LeadAction::Disqualify {
        row.disqualify_reason = reason;
    }
    row.status = next.as_str().to_owned();
    let previous = row.version;
    let defs = custom::fields(conn, CustomObject::Leads)?;
    save(conn, &mut row, previous, &defs)?;
    let event = match action {
        LeadAction::Assign => EventType::LeadAssigned,
        LeadAction::Qualify => EventType::LeadQualified,
        LeadAction::Disqualify => EventType::LeadDisqualified,
        LeadAction::Convert => EventType::LeadConverted,
        LeadAction::Edit => EventType::LeadUpdated,
    };
    outbox::record(conn, event, id)?;
    row.into_lead(&defs)
}

pub struct Conversion {
    pub lead: Lead,
    pub opportunity_id: Option<String>,
    pub contact_id: Option<String>,
    pub contact_created: bool,
    pub company_id: Option<String>,
    pub company_created: bool,
    pub quote_id: Option<String>,
}

/// What became of a web-form submission.
pub enum Intake {
    Created(Box<Lead>),
    /// Over the limit of its minute: no lead.
    Throttled,
    /// Refused by a rule of the store; it still counts against the limit.
    Refused(StoreError),
}

/// Counts a web-form submission in its rate `bucket` and, within `limit`, creates its lead.
/// The count commits even when the lead is refused, so that bad submissions use up the limit
/// too.
pub fn intake(
    conn: &mut DbConnection,
    bucket: &str,
    limit: i64,
    fields: LeadFields,
) -> Result<Intake, StoreError> {
    if counters::next(conn, bucket)? > limit {
        return Ok(Intake::Throttled);
    }
    // A savepoint, so that a refused lead rolls back alone and leaves the count.
    Ok(match conn.transaction(|c| create(c, fields)) {
        Ok(lead) => Intake::Created(Box::new(lead)),
        Err(error) => Intake::Refused(error),
    })
}

/// Converts the lead: links the contact with its email or phone, or creates one (and a company
/// when the lead names one), and optionally a draft quote from `quote`.
pub fn convert(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    quote: Option<QuoteDraft>,
    opportunity: Option<crate::sales::opportunities::OpportunityFields>,
    user_id: Option<&str>,
) -> Result<Conversion, StoreError> {
    let mut row = records::checkout(conn, Record::Lead, id, expected_version, load, |r| {
        r.version
    })?;
    let status: LeadStatus = stored("leads", "status", &row.status)?;
    let next = transition(status, LeadAction::Convert)?;
    let customer = CustomerRef {
        email: row.email.clone(),
        first_name: row.first_name.clone(),
        last_name: row.last_name.clone().or_else(|| row.company_name.clone()),
        phone: row.phone.clone(),
        company_name: row.company_name.clone(),
    };
    let matched = customers::match_or_create(conn, &customer, None, true, None)?;
    let opportunity_id = match opportunity {
        Some(mut fields) => {
            fields.company_id = matched.company_id.clone().ok_or_else(|| {
                StoreError::from(crm_domain::Violation::new(
                    "opportunity",
                    "an opportunity needs a company: give the lead a company name",
                ))
            })?;
            fields.contact_id = matched.contact_id.clone();
            fields.lead_id = Some(row.id.clone());
            fields.owner_id = fields.owner_id.or_else(|| row.owner_id.clone());
            fields.campaign_id = fields.campaign_id.or_else(|| row.campaign_id.clone());
            Some(crate::sales::opportunities::create(conn, fields, user_id)?.id)
        }
        None => None,
    };
    let quote_id = match quote {
        Some(mut draft) => {
            draft.opportunity_id = draft.opportunity_id.or_else(|| opportunity_id.clone());
            draft.company_id = matched.company_id.clone();
            draft.contact_id = matched.contact_id.clone();
            draft.owner_id = draft.owner_id.or_else(|| row.owner_id.clone());
            draft.campaign_id = draft.campaign_id.or_else(|| row.campaign_id.clone());
            let fields = quotes::resolve(conn, draft)?;
            Some(quotes::create(conn, fields)?.id)
        }
        None => None,
    };
    row.status = next.as_str().to_owned();
    row.converted_contact_id = matched.contact_id.clone();
    row.converted_company_id = matched.company_id.clone();
    row.converted_quote_id = quote_id.clone();
    row.converted_at = Some(now());
    let previous = row.version;
    let defs = custom::fields(conn, CustomObject::Leads)?;
    save(conn, &mut row, previous, &defs)?;
    outbox::record(conn, EventType::LeadConverted, id)?;
    Ok(Conversion {
        lead: row.into_lead(&defs)?,
        opportunity_id,
        contact_id: matched.contact_id,
        contact_created: matched.contact_created,
        company_id: matched.company_id,
        company_created: matched.company_created,
        quote_id,
    })
}

pub fn archive(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
) -> Result<(), StoreError> {
    let row = records::checkout(conn, Record::Lead, id, expected_version, load, |r| {
        r.version
    })?;
    if row.archived_at.is_none() {
        records::archive(conn, Record::Lead, id, row.version)?;
        outbox::record(conn, EventType::LeadArchived, id)?;
    }
    Ok(())
}

#[derive(Debug, Clone, Default)]
pub struct LeadFilter {
    pub status: Option<LeadStatus>,
    pub source: Option<LeadSource>,
    pub owner_id: Option<String>,
    /// Lower-cased text to find in the name, email, phone or company name.
    pub q: Option<String>,
    pub created_after: Option<NaiveDateTime>,
    pub created_before: Option<NaiveDateTime>,
    pub include_archived: bool,
}

pub fn list(
    conn: &mut DbConnection,
    filter: &LeadFilter,
    query: &ListQuery,
) -> Result<Listed<Lead>, StoreError> {
    let defs = custom::fields(conn, CustomObject::Leads)?;
    let plan = TABLE.plan(Dialect::of(conn), &defs, query)?;
    let mut rows = leads::table.select(LeadRow::as_select()).into_boxed();
    if !filter.include_archived {
        rows = rows.filter(leads::archived_at.is_null());
    }
    if let Some(v) = filter.status {
        rows = rows.filter(leads::status.eq(v.as_str()));
    }
    if let Some(v) = filter.source {
        rows = rows.filter(leads::source.eq(v.as_str()));
    }
    if let Some(v) = &filter.owner_id {
        rows = rows.filter(leads::owner_id.eq(v.clone()));
    }
    if let Some(q) = &filter.q {
        rows = crate::platform::pagination::substring_search!(rows, conn, leads::search_text, q);
    }
    if let Some(v) = filter.created_after {
        rows = rows.filter(leads::created_at.ge(v));
    }
    if let Some(v) = filter.created_before {
        rows = rows.filter(leads::created_at.lt(v));
    }
    let rows: Vec<LeadRow> = planned!(rows, plan).load(conn)?;
    plan.page(
        rows,
        |row, path| row.value(path, &defs),
        |row| row.id.clone(),
    )
    .try_map(|row| row.into_lead(&defs))
}

impl related::PointsAt for Lead {
    fn point(&self, pointers: &mut Pointers) {
        pointers.add(None, None, self.fields.owner_id.as_deref());
    }
}
