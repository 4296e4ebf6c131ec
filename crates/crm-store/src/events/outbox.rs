//! The transactional outbox: every write inserts its events in its own transaction, so that a
//! refused write leaves none, and readers page through them in commit order.

use std::sync::OnceLock;

use chrono::NaiveDateTime;
use crm_domain::events::catalogue::{EventResource, EventType};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool};

use crate::platform::db::{insert_batch, DbConnection, MultiBackend};
use crate::platform::query::{sql_text, FixedSql};
use crate::platform::schema::events;
use crate::platform::stored::stored;
use crate::{new_id, now, StoreError};

/// Renders a resource as its `GET` answers an admin, inside the writing transaction. The HTTP
/// layer owns the representations and installs it once at start-up; the store only knows which
/// resource changed.
pub type Renderer =
    fn(&mut DbConnection, EventResource, &str) -> Result<serde_json::Value, StoreError>;

static RENDERER: OnceLock<Renderer> = OnceLock::new();

pub fn install_renderer(renderer: Renderer) {
    // A second installation is the same function: nothing to do.
    let _ = RENDERER.set(renderer);
}

/// Where an event sits in commit order: the writing transaction, then its insert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Position {
    pub tx: i64,
    pub position: i64,
}

#[derive(Debug, Clone)]
pub struct Event {
    pub id: String,
    pub event_type: EventType,
    pub subject_id: String,
    pub occurred_at: NaiveDateTime,
    /// The resource as JSON text, in the order its `GET` writes the fields.
    pub data: String,
    pub position: Position,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = events)]
struct EventRow {
    position: i64,
    tx: i64,
    id: String,
    event_type: String,
    subject_id: String,
    occurred_at: NaiveDateTime,
    data: String,
}

impl EventRow {
    fn into_event(self) -> Result<Event, StoreError> {
        Ok(Event {
            event_type: stored("events", "type", &self.event_type)?,
            id: self.id,
            subject_id: self.subject_id,
            occurred_at: self.occurred_at,
            data: self.data,
            position: Position {
                tx: self.tx,
                position: self.position,
            },
        })
    }
}

/// Records that `event` happened to the resource `subject_id`, rendering the resource as it
/// stands now. A deletion is recorded before the row goes.
/// Returns the event's id.
pub fn record(
    conn: &mut DbConnection,
    event: EventType,
    subject_id: &str,
) -> Result<String, StoreError> {
    let render = RENDERER
        .get()
        .ok_or_else(|| StoreError::Config("no event renderer is installed".into()))?;
    let data = render(conn, event.resource(), subject_id)?;
    record_rendered(conn, event, subject_id, &data)
}

/// An event its writer rendered, to insert.
#[derive(Debug, Insertable)]
#[diesel(table_name = events)]
pub struct NewEvent {
    id: String,
    event_type: String,
    subject_id: String,
    occurred_at: NaiveDateTime,
    data: String,
}

/// Several events of one subject with the data its writer rendered, in the order given: an
/// order that is created paid tells `order.created`, then `order.paid`.
pub fn rendered(events: &[EventType], subject_id: &str, data: &serde_json::Value) -> Vec<NewEvent> {
    let occurred_at = now();
    let data = data.to_string();
    events
        .iter()
        .map(|event| NewEvent {
            id: new_id(),
            event_type: event.as_str().to_owned(),
            subject_id: subject_id.to_owned(),
            occurred_at,
            data: data.clone(),
        })
        .collect()
}

/// Inserts rendered events in their order, with multi-row INSERTs.
pub fn insert(conn: &mut DbConnection, rows: &[NewEvent]) -> Result<(), StoreError> {
    insert_batch!(conn, events::table, rows);
    Ok(())
}

/// Records an event whose data the caller rendered; returns its id.
pub fn record_rendered(
    conn: &mut DbConnection,
    event: EventType,
    subject_id: &str,
    data: &serde_json::Value,
) -> Result<String, StoreError> {
    let id = new_id();
    diesel::insert_into(events::table)
        .values((
            events::id.eq(&id),
            events::event_type.eq(event.as_str()),
            events::subject_id.eq(subject_id),
            events::occurred_at.eq(now()),
            events::data.eq(data.to_string()),
        ))
        .execute(conn)?;
    Ok(id)
}

sql_text!(
    /// Only events of transactions that can no longer commit behind them: on PostgreSQL those
    /// older than every transaction still running; SQLite has one writer, so all it shows.
    Committed: Bool = "tx < pg_snapshot_xmin(pg_current_snapshot())::text::bigint", "1 = 1"
);

const COMMITTED: FixedSql<Committed> = FixedSql::new();

#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Only these types; `None` for all.
    pub types: Option<Vec<EventType>>,
    pub since: Option<NaiveDateTime>,
    pub until: Option<NaiveDateTime>,
}

/// Committed events after `after`, oldest first, up to `limit`.
fn committed_after<'a, ST: 'a>(
    conn: &DbConnection,
    query: events::BoxedQuery<'a, MultiBackend, ST>,
    after: Position,
    limit: i64,
) -> events::BoxedQuery<'a, MultiBackend, ST> {
    let query = query.filter(COMMITTED);
    let query = match conn {
        // A row comparison is one range of the (tx, position) index; the equivalent `OR` is
        // two ranges whose union PostgreSQL sorts whole before it takes the page.
        DbConnection::Postgres(_) => query.filter(
            diesel::dsl::sql::<Bool>("(tx, position) > (")
                .bind::<BigInt, _>(after.tx)
                .sql(", ")
                .bind::<BigInt, _>(after.position)
                .sql(")"),
        ),
        // Every SQLite event has tx 0 (one writer, so position alone is commit order), and SQLite
        // turns the `OR` into a scan from the first event: the range is on position.
        DbConnection::Sqlite(_) => query.filter(
            events::tx
                .eq(after.tx)
                .and(events::position.gt(after.position)),
        ),
    };
    query
        .order_by((events::tx.asc(), events::position.asc()))
        .limit(limit)
}

/// Up to `limit` events after `after`, oldest first.
pub fn page(
    conn: &mut DbConnection,
    after: Position,
    filter: &EventFilter,
    limit: i64,
) -> Result<Vec<Event>, StoreError> {
    let mut query = events::table.select(EventRow::as_select()).into_boxed();
    if let Some(types) = &filter.types {
        query = query.filter(events::event_type.eq_any(types.iter().map(|t| t.as_str())));
    }
    if let Some(since) = filter.since {
        query = query.filter(events::occurred_at.ge(since));
    }
    if let Some(until) = filter.until {
        query = query.filter(events::occurred_at.le(until));
    }
    committed_after(conn, query, after, limit)
        .load::<EventRow>(conn)?
        .into_iter()
        .map(EventRow::into_event)
        .collect()
}

/// An event without its data: what fan-out needs to pick its subscribers.
#[derive(Debug, Clone)]
pub struct EventHeader {
    pub id: String,
    pub event_type: EventType,
    pub position: Position,
}

/// Up to `limit` events after `after`, oldest first, without their data.
pub fn headers(
    conn: &mut DbConnection,
    after: Position,
    limit: i64,
) -> Result<Vec<EventHeader>, StoreError> {
    let query = events::table
        .select((events::id, events::event_type, events::tx, events::position))
        .into_boxed();
    committed_after(conn, query, after, limit)
        .load::<(String, String, i64, i64)>(conn)?
        .into_iter()
        .map(|(id, event_type, tx, position)| {
            Ok(EventHeader {
                event_type: stored("events", "type", &event_type)?,
                id,
                position: Position { tx, position },
            })
        })
        .collect()
}

/// A page of events after `after` (from the oldest kept without it), and where a reader
/// resumes when the page is empty: past every event committed when the read began, so that
/// a filtered reader does not scan the same unmatched events again.
pub fn page_or_head(
    conn: &mut DbConnection,
    after: Option<Position>,
    filter: &EventFilter,
    limit: i64,
) -> Result<(Vec<Event>, Position), StoreError> {
    let start = after.unwrap_or_default();
    let scanned = head(conn)?.max(start);
    Ok((page(conn, start, filter, limit)?, scanned))
}

/// The position a new reader or subscriber starts after: every event committed so far.
pub fn head(conn: &mut DbConnection) -> Result<Position, StoreError> {
    match conn {
        DbConnection::Postgres(_) => {
            #[derive(QueryableByName)]
            struct Horizon {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                xmin: i64,
            }
            let horizon: Horizon = diesel::sql_query(
                "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin",
            )
            .get_result(conn)?;
            Ok(Position {
                tx: horizon.xmin - 1,
                position: i64::MAX,
            })
        }
        DbConnection::Sqlite(_) => {
            let last: Option<i64> = events::table
                .select(diesel::dsl::max(events::position))
                .first(conn)?;
            Ok(Position {
                tx: 0,
                position: last.unwrap_or(0),
            })
        }
    }
}

/// The position of an event of this transaction, which readers do not see yet.
pub(crate) fn position_of(conn: &mut DbConnection, id: &str) -> Result<Position, StoreError> {
    let (tx, position): (i64, i64) = events::table
        .filter(events::id.eq(id))
        .select((events::tx, events::position))
        .first(conn)?;
    Ok(Position { tx, position })
}

/// The position of the newest committed event, if any.
pub fn latest(conn: &mut DbConnection) -> Result<Option<Position>, StoreError> {
    let newest: Option<(i64, i64)> = events::table
        .filter(COMMITTED)
        .order_by((events::tx.desc(), events::position.desc()))
        .select((events::tx, events::position))
        .first(conn)
        .optional()?;
    Ok(newest.map(|(tx, position)| Position { tx, position }))
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<Event, StoreError> {
    events::table
        .select(EventRow::as_select())
        .filter(events::id.eq(id))
        .filter(COMMITTED)
        .first::<EventRow>(conn)?
        .into_event()
}

/// Deletes events older than `before`; returns how many.
pub fn purge_before(conn: &mut DbConnection, before: NaiveDateTime) -> Result<usize, StoreError> {
    Ok(diesel::delete(events::table.filter(events::occurred_at.lt(before))).execute(conn)?)
}
