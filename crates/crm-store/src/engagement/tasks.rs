//! Tasks: made by hand, or by a rule with the unique key of its occurrence.

use chrono::NaiveDateTime;
use crm_domain::engagement::tasks::{transition, TaskAction, TaskSource, TaskStatus};
use crm_domain::events::catalogue::EventType;
use crm_domain::parties::timeline::{Subject, TimelineEntry, TimelineKind};
use crm_domain::Violation;
use diesel::prelude::*;

use crate::events::outbox;
use crate::marketing::campaigns::Visible;
use crate::parties::timeline::subject_page;
use crate::platform::db::{natively, DbConnection};
use crate::platform::pagination::{page_by_time, Page, PageRequest};
use crate::platform::records::{self, Record};
use crate::platform::schema::{companies, contacts, opportunities, quotes, tasks};
use crate::platform::stored::stored;
use crate::{new_id, now, StoreError};

/// What a client may write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFields {
    pub title: String,
    pub notes: Option<String>,
    pub due_at: Option<NaiveDateTime>,
    pub reminder_at: Option<NaiveDateTime>,
    pub assignee_id: Option<String>,
    pub company_id: Option<String>,
    pub contact_id: Option<String>,
    pub opportunity_id: Option<String>,
    pub quote_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Task {
    pub id: String,
    pub fields: TaskFields,
    pub status: TaskStatus,
    pub source: TaskSource,
    pub completed_at: Option<NaiveDateTime>,
    pub reminded_at: Option<NaiveDateTime>,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = tasks, treat_none_as_null = true)]
struct TaskRow {
    id: String,
    title: String,
    notes: Option<String>,
    due_at: Option<NaiveDateTime>,
    reminder_at: Option<NaiveDateTime>,
    reminded_at: Option<NaiveDateTime>,
    assignee_id: Option<String>,
    company_id: Option<String>,
    contact_id: Option<String>,
    opportunity_id: Option<String>,
    quote_id: Option<String>,
    status: String,
    source: String,
    occurrence_key: Option<String>,
    completed_at: Option<NaiveDateTime>,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl TaskRow {
    fn into_task(self) -> Result<Task, StoreError> {
        Ok(Task {
            status: stored("tasks", "status", &self.status)?,
            source: stored("tasks", "source", &self.source)?,
            fields: TaskFields {
                title: self.title,
                notes: self.notes,
                due_at: self.due_at,
                reminder_at: self.reminder_at,
                assignee_id: self.assignee_id,
                company_id: self.company_id,
                contact_id: self.contact_id,
                opportunity_id: self.opportunity_id,
                quote_id: self.quote_id,
            },
            id: self.id,
            completed_at: self.completed_at,
            reminded_at: self.reminded_at,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }

    fn fields(&self) -> TaskFields {
        TaskFields {
            title: self.title.clone(),
            notes: self.notes.clone(),
            due_at: self.due_at,
            reminder_at: self.reminder_at,
            assignee_id: self.assignee_id.clone(),
            company_id: self.company_id.clone(),
            contact_id: self.contact_id.clone(),
            opportunity_id: self.opportunity_id.clone(),
            quote_id: self.quote_id.clone(),
        }
    }

    fn set_fields(&mut self, f: TaskFields) {
        // A new reminder time is a new reminder.
        if f.reminder_at != self.reminder_at {
            self.reminded_at = None;
        }
        self.title = f.title;
        self.notes = f.notes;
        self.due_at = f.due_at;
        self.reminder_at = f.reminder_at;
        self.assignee_id = f.assignee_id;
        self.company_id = f.company_id;
        self.contact_id = f.contact_id;
        self.opportunity_id = f.opportunity_id;
        self.quote_id = f.quote_id;
    }
}

/// Lists' filters; every one narrows.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    /// Salespeople see the tasks assigned to them.
    pub visible: Visible,
    pub status: Option<TaskStatus>,
    pub source: Option<TaskSource>,
    pub assignee_id: Option<String>,
    pub company_id: Option<String>,
    pub contact_id: Option<String>,
    pub opportunity_id: Option<String>,
    pub quote_id: Option<String>,
    pub due_before: Option<NaiveDateTime>,
    pub due_after: Option<NaiveDateTime>,
}

/// Whether a row keyed `id` is in the table, as a `422` naming `field` when it is not.
macro_rules! ensure_row {
    ($conn:expr, $table:ident, $id:expr, $field:literal, $what:literal) => {
        if let Some(id) = $id {
            let found: Option<String> = $table::table
                .find(id)
                .select($table::id)
                .first($conn)
                .optional()?;
            if found.is_none() {
                return Err(Violation::new($field, concat!("no such ", $what)).into());
            }
        }
    };
}

/// The title is set, the reminder comes no later than the due time, the assignee is active
/// staff, and every linked record exists.
fn check(conn: &mut DbConnection, f: &TaskFields) -> Result<(), StoreError> {
    if let (Some(reminder), Some(due)) = (f.reminder_at, f.due_at) {
        if reminder > due {
            return Err(Violation::new("reminder_at", "is after due_at").into());
        }
    }
    if let Some(assignee) = &f.assignee_id {
        crate::access::users::ensure_staff(conn, assignee, "assignee_id")?;
    }
    ensure_row!(
        conn,
        companies,
        f.company_id.as_deref(),
        "company_id",
        "company"
    );
    ensure_row!(
        conn,
        contacts,
        f.contact_id.as_deref(),
        "contact_id",
        "contact"
    );
    ensure_row!(
        conn,
        opportunities,
        f.opportunity_id.as_deref(),
        "opportunity_id",
        "opportunity"
    );
    ensure_row!(conn, quotes, f.quote_id.as_deref(), "quote_id", "quote");
    Ok(())
}

fn new_row(fields: TaskFields, source: TaskSource, key: Option<String>) -> TaskRow {
    let at = now();
    let mut row = TaskRow {
        id: new_id(),
        title: String::new(),
        notes: None,
        due_at: None,
        reminder_at: None,
        reminded_at: None,
        assignee_id: None,
        company_id: None,
        contact_id: None,
        opportunity_id: None,
        quote_id: None,
        status: TaskStatus::Open.as_str().to_owned(),
        source: source.as_str().to_owned(),
        occurrence_key: key,
        completed_at: None,
        version: 1,
        created_at: at,
        updated_at: at,
    };
    row.set_fields(fields);
    row
}

/// A task made by hand.
pub fn create(conn: &mut DbConnection, fields: TaskFields) -> Result<Task, StoreError> {
    check(conn, &fields)?;
    let row = new_row(fields, TaskSource::Manual, None);
    diesel::insert_into(tasks::table)
        .values(&row)
        .execute(conn)?;
    outbox::record(conn, EventType::TaskCreated, &row.id)?;
    row.into_task()
}

/// A task a rule made for the occurrence `key`; nothing when that occurrence already has
/// one, whichever run or node made it. Returns whether this call made it.
pub fn generate(
    conn: &mut DbConnection,
    fields: TaskFields,
    source: TaskSource,
    key: String,
) -> Result<bool, StoreError> {
    let row = new_row(fields, source, Some(key));
    let inserted = natively!(conn, |c| diesel::insert_into(tasks::table)
        .values(&row)
        .on_conflict_do_nothing()
        .execute(c))?;
    if inserted > 0 {
        outbox::record(conn, EventType::TaskCreated, &row.id)?;
    }
    Ok(inserted > 0)
}

fn load(conn: &mut DbConnection, id: &str) -> Result<TaskRow, StoreError> {
    records::load_row(conn, tasks::table, id)
}

/// A task the caller may see; one assigned to someone else is not found by a salesperson.
pub fn get(conn: &mut DbConnection, id: &str, visible: &Visible) -> Result<Task, StoreError> {
    let task = load(conn, id)?.into_task()?;
    visible.allows(task.fields.assignee_id.as_deref())?;
    Ok(task)
}

pub fn list(
    conn: &mut DbConnection,
    filter: &TaskFilter,
    page: &PageRequest<()>,
) -> Result<Page<Task>, StoreError> {
    let mut query = tasks::table.select(TaskRow::as_select()).into_boxed();
    if let Some(own) = &filter.visible.owned_by {
        query = query.filter(tasks::assignee_id.eq(own.clone()));
    }
    if let Some(status) = filter.status {
        query = query.filter(tasks::status.eq(status.as_str()));
    }
    if let Some(source) = filter.source {
        query = query.filter(tasks::source.eq(source.as_str()));
    }
    if let Some(v) = &filter.assignee_id {
        query = query.filter(tasks::assignee_id.eq(v.clone()));
    }
    if let Some(v) = &filter.company_id {
        query = query.filter(tasks::company_id.eq(v.clone()));
    }
    if let Some(v) = &filter.contact_id {
        query = query.filter(tasks::contact_id.eq(v.clone()));
    }
    if let Some(v) = &filter.opportunity_id {
        query = query.filter(tasks::opportunity_id.eq(v.clone()));
    }
    if let Some(v) = &filter.quote_id {
        query = query.filter(tasks::quote_id.eq(v.clone()));
    }
    if let Some(before) = filter.due_before {
        query = query.filter(tasks::due_at.lt(before));
    }
    if let Some(after) = filter.due_after {
        query = query.filter(tasks::due_at.ge(after));
    }
    page_by_time!(conn, page, query, tasks::created_at, TaskRow).try_map(TaskRow::into_task)
}

/// Locks a task the caller may see, then checks `If-Match`: another salesperson's task is a
/// `404` whatever `If-Match` says.
fn checkout(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    visible: &Visible,
) -> Result<TaskRow, StoreError> {
    let row = records::checkout(conn, Record::Task, id, None, load, |r| r.version)?;
    visible.allows(row.assignee_id.as_deref())?;
    records::expect_version(expected_version, row.version)?;
    Ok(row)
}

fn write(conn: &mut DbConnection, mut row: TaskRow) -> Result<Task, StoreError> {
    let read_version = row.version;
    row.version += 1;
    row.updated_at = now();
    records::update_versioned!(conn, tasks, &row.id, read_version, &row)?;
    row.into_task()
}

pub fn update(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    visible: &Visible,
    edit: impl FnOnce(&mut TaskFields) -> Result<(), StoreError>,
) -> Result<Task, StoreError> {
    let mut row = checkout(conn, id, expected_version, visible)?;
    let mut fields = row.fields();
    edit(&mut fields)?;
    check(conn, &fields)?;
    // A salesperson cannot hand a task to someone else and keep seeing it.
    visible.allows(fields.assignee_id.as_deref())?;
    row.set_fields(fields);
    let task = write(conn, row)?;
    outbox::record(conn, EventType::TaskUpdated, id)?;
    Ok(task)
}

pub fn act(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    visible: &Visible,
    action: TaskAction,
    at: NaiveDateTime,
) -> Result<Task, StoreError> {
    let mut row = checkout(conn, id, expected_version, visible)?;
    let status: TaskStatus = stored("tasks", "status", &row.status)?;
    let next = transition(status, action).map_err(StoreError::IllegalTransition)?;
    row.status = next.as_str().to_owned();
    row.completed_at = (next == TaskStatus::Done).then_some(at);
    let task = write(conn, row)?;
    let event = match action {
        TaskAction::Complete => EventType::TaskCompleted,
        TaskAction::Cancel => EventType::TaskCancelled,
        TaskAction::Reopen => EventType::TaskReopened,
    };
    outbox::record(conn, event, id)?;
    Ok(task)
}

/// Marks the reminders of open tasks due by `now` as sent, each once: the update is
/// conditional on `reminded_at` still being unset, so two nodes never both remind. Each
/// emits `task.reminder_due`. Returns how many.
pub fn remind_due(conn: &mut DbConnection, now: NaiveDateTime) -> Result<usize, StoreError> {
    let due: Vec<String> = tasks::table
        .filter(tasks::reminded_at.is_null())
        .filter(tasks::reminder_at.le(now))
        .filter(tasks::status.eq(TaskStatus::Open.as_str()))
        .select(tasks::id)
        .order(tasks::reminder_at.asc())
        .limit(500)
        .load(conn)?;
    let mut reminded = 0;
    for id in due {
        // What was read is checked again: a reminder moved later, or a task closed, since.
        let claimed = diesel::update(
            tasks::table
                .filter(tasks::id.eq(&id))
                .filter(tasks::reminded_at.is_null())
                .filter(tasks::reminder_at.le(now))
                .filter(tasks::status.eq(TaskStatus::Open.as_str())),
        )
        .set(tasks::reminded_at.eq(Some(now)))
        .execute(conn)?;
        if claimed > 0 {
            outbox::record(conn, EventType::TaskReminderDue, &id)?;
            reminded += 1;
        }
    }
    Ok(reminded)
}

/// Open tasks about a company or a contact, for an overview.
pub fn open_count(
    conn: &mut DbConnection,
    company_id: Option<&str>,
    contact_id: Option<&str>,
) -> Result<i64, StoreError> {
    let mut query = tasks::table
        .filter(tasks::status.eq(TaskStatus::Open.as_str()))
        .into_boxed();
    match (company_id, contact_id) {
        (_, Some(contact)) => query = query.filter(tasks::contact_id.eq(contact.to_owned())),
        (Some(company), None) => query = query.filter(tasks::company_id.eq(company.to_owned())),
        (None, None) => return Ok(0),
    }
    Ok(query.count().get_result(conn)?)
}

/// The tasks about a contact or company as timeline entries, newest first.
pub(crate) fn timeline_page(
    conn: &mut DbConnection,
    subject: &Subject,
    page: &PageRequest<()>,
) -> Result<Vec<TimelineEntry>, StoreError> {
    let rows = subject_page!(conn, subject, tasks::created_at, TaskRow, page);
    Ok(rows
        .into_iter()
        .map(|row| TimelineEntry {
            kind: TimelineKind::Task,
            summary: row.title,
            detail: Some(row.status),
            id: row.id,
            at: row.created_at,
            contact_id: row.contact_id,
            company_id: row.company_id,
            user_id: row.assignee_id,
        })
        .collect())
}
