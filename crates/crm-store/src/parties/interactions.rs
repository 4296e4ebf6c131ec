//! Interactions: logged or planned touch points.

use chrono::NaiveDateTime;
use crm_domain::events::catalogue::EventType;
use crm_domain::parties::interactions::{check_subject_and_time, Direction, InteractionKind};
use diesel::prelude::*;

use crate::events::outbox;
use crate::parties::timeline::subject_page;
use crate::platform::db::DbConnection;
use crate::platform::pagination::{finish, keyset, After, KeyValue, Page, PageRequest};
use crate::platform::records::{self, Record};
use crate::platform::schema::interactions;
use crate::platform::stored::{stored, stored_opt};
use crate::{access::users, new_id, now, parties::companies, parties::contacts, StoreError};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = interactions, treat_none_as_null = true)]
pub(crate) struct InteractionRow {
    pub(crate) id: String,
    pub(crate) contact_id: Option<String>,
    pub(crate) company_id: Option<String>,
    pub(crate) kind: String,
    direction: Option<String>,
    pub(crate) subject: Option<String>,
    body: Option<String>,
    occurred_at: Option<NaiveDateTime>,
    scheduled_for: Option<NaiveDateTime>,
    pub(crate) timeline_at: NaiveDateTime,
    pub(crate) user_id: Option<String>,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    archived_at: Option<NaiveDateTime>,
}

/// What a client may write.
#[derive(Debug, Clone, PartialEq)]
pub struct InteractionFields {
    pub contact_id: Option<String>,
    pub company_id: Option<String>,
    pub kind: InteractionKind,
    pub direction: Option<Direction>,
    pub subject: Option<String>,
    pub body: Option<String>,
    pub occurred_at: Option<NaiveDateTime>,
    pub scheduled_for: Option<NaiveDateTime>,
    pub user_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Interaction {
    pub id: String,
    pub fields: InteractionFields,
    /// When it happened, else when it is planned for: its place on a timeline.
    pub at: NaiveDateTime,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub archived_at: Option<NaiveDateTime>,
}

impl InteractionRow {
    fn fields(&self) -> Result<InteractionFields, StoreError> {
        Ok(InteractionFields {
            contact_id: self.contact_id.clone(),
            company_id: self.company_id.clone(),
            kind: stored("interactions", "kind", &self.kind)?,
            direction: stored_opt("interactions", "direction", self.direction.as_deref())?,
            subject: self.subject.clone(),
            body: self.body.clone(),
            occurred_at: self.occurred_at,
            scheduled_for: self.scheduled_for,
            user_id: self.user_id.clone(),
        })
    }

    fn set_fields(&mut self, f: InteractionFields, at: NaiveDateTime) {
        self.contact_id = f.contact_id;
        self.company_id = f.company_id;
        self.kind = f.kind.as_str().to_owned();
        self.direction = f.direction.map(|d| d.as_str().to_owned());
        self.subject = f.subject;
        self.body = f.body;
        self.occurred_at = f.occurred_at;
        self.scheduled_for = f.scheduled_for;
        self.user_id = f.user_id;
        self.timeline_at = at;
    }

    fn into_interaction(self) -> Result<Interaction, StoreError> {
        Ok(Interaction {
            fields: self.fields()?,
            at: self.timeline_at,
            id: self.id,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
            archived_at: self.archived_at,
        })
    }
}

/// Validates the fields, fills the company from the contact when it is not given (so that the
/// interaction shows on the company's timeline too) and returns the timeline moment.
fn prepare(
    conn: &mut DbConnection,
    fields: &mut InteractionFields,
) -> Result<NaiveDateTime, StoreError> {
    let at = check_subject_and_time(
        fields.contact_id.as_deref(),
        fields.company_id.as_deref(),
        fields.occurred_at,
        fields.scheduled_for,
    )?;
    if let Some(contact_id) = &fields.contact_id {
        contacts::ensure_active(conn, contact_id, "contact_id")?;
        if fields.company_id.is_none() {
            fields.company_id = contacts::company_of(conn, contact_id)?;
        }
    }
    if let Some(company_id) = &fields.company_id {
        companies::ensure_active(conn, company_id, "company_id")?;
    }
    if let Some(user_id) = &fields.user_id {
        users::ensure_active(conn, user_id, "user_id")?;
    }
    Ok(at)
}

pub fn create(
    conn: &mut DbConnection,
    mut fields: InteractionFields,
) -> Result<Interaction, StoreError> {
    let at = prepare(conn, &mut fields)?;
    let created = now();
    let mut row = InteractionRow {
        id: new_id(),
        contact_id: None,
        company_id: None,
        kind: String::new(),
        direction: None,
        subject: None,
        body: None,
        occurred_at: None,
        scheduled_for: None,
        timeline_at: at,
        user_id: None,
        version: 1,
        created_at: created,
        updated_at: created,
        archived_at: None,
    };
    row.set_fields(fields, at);
    diesel::insert_into(interactions::table)
        .values(&row)
        .execute(conn)?;
    outbox::record(conn, EventType::InteractionCreated, &row.id)?;
    row.into_interaction()
}

fn load(conn: &mut DbConnection, id: &str) -> Result<InteractionRow, StoreError> {
    records::load_row(conn, interactions::table, id)
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<Interaction, StoreError> {
    load(conn, id)?.into_interaction()
}

pub fn update<F>(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    change: F,
) -> Result<Interaction, StoreError>
where
    F: FnOnce(&mut InteractionFields) -> Result<(), StoreError>,
{
    let mut row = records::checkout(conn, Record::Interaction, id, expected_version, load, |r| {
        r.version
    })?;
    let mut fields = row.fields()?;
    change(&mut fields)?;
    let at = prepare(conn, &mut fields)?;
    row.set_fields(fields, at);
    records::write_next_version!(conn, interactions, id, row)?;
    outbox::record(conn, EventType::InteractionUpdated, id)?;
    row.into_interaction()
}

pub fn archive(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
) -> Result<(), StoreError> {
    let row = records::checkout(conn, Record::Interaction, id, expected_version, load, |r| {
        r.version
    })?;
    if row.archived_at.is_none() {
        // Recorded as it was just before it leaves lists and timelines.
        outbox::record(conn, EventType::InteractionDeleted, id)?;
        records::archive(conn, Record::Interaction, id, row.version)?;
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InteractionSort {
    /// The timeline moment: occurred_at, else scheduled_for.
    At,
    CreatedAt,
}

#[derive(Debug, Clone, Default)]
pub struct InteractionFilter {
    pub contact_id: Option<String>,
    pub company_id: Option<String>,
    pub kind: Option<InteractionKind>,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
    /// Only planned interactions that have not happened yet.
    pub upcoming: bool,
    /// Only interactions that have happened.
    pub occurred_only: bool,
    pub include_archived: bool,
}

pub fn list(
    conn: &mut DbConnection,
    filter: &InteractionFilter,
    page: &PageRequest<InteractionSort>,
) -> Result<Page<Interaction>, StoreError> {
    let mut query = interactions::table
        .select(InteractionRow::as_select())
        .into_boxed();
    if !filter.include_archived {
        query = query.filter(interactions::archived_at.is_null());
    }
    if let Some(contact_id) = &filter.contact_id {
        query = query.filter(interactions::contact_id.eq(contact_id.clone()));
    }
    if let Some(company_id) = &filter.company_id {
        query = query.filter(interactions::company_id.eq(company_id.clone()));
    }
    if let Some(kind) = filter.kind {
        query = query.filter(interactions::kind.eq(kind.as_str()));
    }
    if let Some(from) = filter.from {
        query = query.filter(interactions::timeline_at.ge(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(interactions::timeline_at.lt(to));
    }
    if filter.occurred_only {
        query = query.filter(interactions::occurred_at.is_not_null());
    }
    if filter.upcoming {
        query = query
            .filter(interactions::occurred_at.is_null())
            .filter(interactions::scheduled_for.is_not_null());
    }
    let rows: Vec<InteractionRow> = match page.sort {
        InteractionSort::At => keyset!(
            query,
            interactions::timeline_at,
            interactions::id,
            page,
            time
        )
        .load(conn)?,
        InteractionSort::CreatedAt => keyset!(
            query,
            interactions::created_at,
            interactions::id,
            page,
            time
        )
        .load(conn)?,
    };
    let sort = page.sort;
    finish(rows, page.limit, |row| After {
        key: KeyValue::Time(match sort {
            InteractionSort::At => row.timeline_at,
            InteractionSort::CreatedAt => row.created_at,
        }),
        id: row.id.clone(),
    })
    .try_map(InteractionRow::into_interaction)
}

/// Live interactions of a contact or company, newest first, for the timeline.
pub(crate) fn timeline_page(
    conn: &mut DbConnection,
    subject: &crm_domain::parties::timeline::Subject,
    page: &PageRequest<()>,
) -> Result<Vec<InteractionRow>, StoreError> {
    let live = interactions::table
        .select(InteractionRow::as_select())
        .filter(interactions::archived_at.is_null())
        .into_boxed();
    Ok(subject_page!(
        conn,
        subject,
        live,
        interactions::timeline_at,
        InteractionRow,
        page
    ))
}
