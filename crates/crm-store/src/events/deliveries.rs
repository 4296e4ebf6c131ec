//! Deliveries of events to webhook endpoints: fan-out from the outbox, claims with a lease so
//! that several nodes never send one delivery at once, attempts, and replays.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use crm_domain::events::catalogue::EventType;
use crm_domain::events::delivery::DeliveryStatus;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};

use crate::events::endpoints::{self, EndpointRow, SigningSecrets};
use crate::events::outbox::{self, Event, EventFilter, Position};
use crate::platform::db::{natively, DbConnection};
use crate::platform::pagination::{page_by_time, Page, PageRequest};
use crate::platform::records::{self, Record};
use crate::platform::schema::{events, webhook_attempts, webhook_deliveries, webhook_endpoints};
use crate::platform::stored::stored;
use crate::{new_id, now, StoreError};

#[derive(Insertable)]
#[diesel(table_name = webhook_deliveries)]
struct NewDelivery {
    id: String,
    endpoint_id: String,
    event_id: String,
    event_tx: i64,
    event_position: i64,
    status: String,
    attempt_count: i32,
    next_attempt_at: NaiveDateTime,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl NewDelivery {
    fn pending(endpoint_id: &str, event_id: &str, position: Position, at: NaiveDateTime) -> Self {
        NewDelivery {
            id: new_id(),
            endpoint_id: endpoint_id.to_owned(),
            event_id: event_id.to_owned(),
            event_tx: position.tx,
            event_position: position.position,
            status: DeliveryStatus::Pending.as_str().to_owned(),
            attempt_count: 0,
            next_attempt_at: at,
            created_at: at,
            updated_at: at,
        }
    }
}

/// Inserts deliveries, leaving any that exist already (another node's fan-out, a replay).
fn insert_new(conn: &mut DbConnection, rows: &[NewDelivery]) -> Result<(), StoreError> {
    for row in rows {
        natively!(conn, |c| diesel::insert_into(webhook_deliveries::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c))?;
    }
    Ok(())
}

/// Fans out to every enabled endpoint behind the newest committed event, in one transaction
/// of the caller's, taking their row locks in id order (so two nodes take turns); returns how
/// many endpoints are enabled. The new events are read without their data, one page for all the
/// endpoints it reaches: from the endpoint furthest behind, and again from the next one ahead of
/// that page's end, so that one endpoint far behind holds up no other.
pub fn fan_out_all(conn: &mut DbConnection, batch: i64) -> Result<usize, StoreError> {
    let latest = outbox::latest(conn)?;
    let cursors: Vec<(String, i64, i64)> = webhook_endpoints::table
        .filter(webhook_endpoints::enabled.eq(true))
        .order_by(webhook_endpoints::id)
        .select((
            webhook_endpoints::id,
            webhook_endpoints::fanout_tx,
            webhook_endpoints::fanout_position,
        ))
        .load(conn)?;
    let behind: Vec<&str> = cursors
        .iter()
        .filter(|(_, tx, position)| {
            latest.is_some_and(|l| {
                Position {
                    tx: *tx,
                    position: *position,
                } < l
            })
        })
        .map(|(id, _, _)| id.as_str())
        .collect();
    if !behind.is_empty() {
        fan_out(conn, &behind, batch)?;
    }
    Ok(cursors.len())
}

fn fan_out(conn: &mut DbConnection, ids: &[&str], batch: i64) -> Result<(), StoreError> {
    // One deleted since the caller read the cursors is skipped: nothing to fan out to.
    records::lock_present(conn, Record::WebhookEndpoint, ids)?;
    let mut waiting: Vec<EndpointRow> = webhook_endpoints::table
        .filter(webhook_endpoints::id.eq_any(ids))
        .filter(webhook_endpoints::enabled.eq(true))
        .select(EndpointRow::as_select())
        .load(conn)?;
    waiting.sort_by_key(endpoints::fanned_out_to);
    let at = now();
    while let Some(from) = waiting.first().map(endpoints::fanned_out_to) {
        let new_events = outbox::headers(conn, from, batch)?;
        let Some(last) = new_events.last().map(|e| e.position) else {
            return Ok(());
        };
        let ahead = waiting.partition_point(|e| endpoints::fanned_out_to(e) < last);
        let reached: Vec<EndpointRow> = waiting.drain(..ahead).collect();
        let mut deliveries = Vec::new();
        for endpoint in &reached {
            let after = endpoints::fanned_out_to(endpoint);
            let patterns = endpoint.patterns()?;
            deliveries.extend(
                new_events
                    .iter()
                    .filter(|e| e.position > after)
                    .filter(|e| e.event_type != EventType::WebhookEndpointTest)
                    .filter(|e| patterns.iter().any(|p| p.matches(e.event_type)))
                    .map(|e| NewDelivery::pending(&endpoint.id, &e.id, e.position, at)),
            );
        }
        insert_new(conn, &deliveries)?;
        let reached_ids: Vec<&str> = reached.iter().map(|e| e.id.as_str()).collect();
        diesel::update(webhook_endpoints::table.filter(webhook_endpoints::id.eq_any(reached_ids)))
            .set((
                webhook_endpoints::fanout_tx.eq(last.tx),
                webhook_endpoints::fanout_position.eq(last.position),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Whether any enabled endpoint is behind the newest committed event, read without a lock,
/// so that an idle worker does not take SQLite's write lock every round.
pub fn any_endpoint_behind(conn: &mut DbConnection) -> Result<bool, StoreError> {
    let Some(latest) = outbox::latest(conn)? else {
        return Ok(false);
    };
    let behind: i64 = webhook_endpoints::table
        .filter(webhook_endpoints::enabled.eq(true))
        .filter(
            webhook_endpoints::fanout_tx
                .lt(latest.tx)
                .or(webhook_endpoints::fanout_tx
                    .eq(latest.tx)
                    .and(webhook_endpoints::fanout_position.lt(latest.position))),
        )
        .count()
        .get_result(conn)?;
    Ok(behind > 0)
}

/// Whether a delivery is due at `at`, read without a lock.
pub fn any_due(conn: &mut DbConnection, at: NaiveDateTime) -> Result<bool, StoreError> {
    let due: i64 = webhook_deliveries::table
        .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str()))
        .filter(webhook_deliveries::next_attempt_at.le(at))
        .filter(
            webhook_deliveries::lease_until
                .is_null()
                .or(webhook_deliveries::lease_until.lt(at)),
        )
        .count()
        .get_result(conn)?;
    Ok(due > 0)
}

/// Sends `webhook_endpoint.test` to this endpoint alone; returns the event's id.
pub fn send_test(conn: &mut DbConnection, endpoint_id: &str) -> Result<String, StoreError> {
    records::lock(conn, Record::WebhookEndpoint, endpoint_id)?;
    let event_id = outbox::record(conn, EventType::WebhookEndpointTest, endpoint_id)?;
    let position = outbox::position_of(conn, &event_id)?;
    insert_new(
        conn,
        &[NewDelivery::pending(
            endpoint_id,
            &event_id,
            position,
            now(),
        )],
    )?;
    Ok(event_id)
}

/// A delivery this node holds, with what it needs to make the attempt.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub delivery_id: String,
    pub endpoint_id: String,
    pub url: String,
    pub secrets: SigningSecrets,
    pub event: Event,
    pub attempt_count: i32,
}

#[derive(QueryableByName)]
struct ClaimedId {
    #[diesel(sql_type = Text)]
    id: String,
}

/// Claims up to `limit` due deliveries of enabled endpoints for `lease`, oldest event first, and
/// marks them with `token`. On PostgreSQL, rows that another node is claiming are skipped, not
/// waited for; a claim whose lease ran out (its node died) is taken again.
pub fn claim(
    conn: &mut DbConnection,
    token: &str,
    at: NaiveDateTime,
    lease: chrono::Duration,
    limit: i64,
) -> Result<Vec<Claimed>, StoreError> {
    let skip_locked = match conn {
        DbConnection::Postgres(_) => "FOR UPDATE OF d SKIP LOCKED",
        DbConnection::Sqlite(_) => "",
    };
    let ids: Vec<ClaimedId> = diesel::sql_query(format!(
        "UPDATE webhook_deliveries SET claim_token = $1, lease_until = $2 WHERE id IN ( \
           SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id \
           WHERE d.status = 'pending' AND e.enabled AND d.next_attempt_at <= $3 \
             AND (d.lease_until IS NULL OR d.lease_until < $3) \
           ORDER BY d.event_tx, d.event_position LIMIT $4 {skip_locked}) \
         RETURNING id"
    ))
    .bind::<Text, _>(token)
    .bind::<Timestamp, _>(at + lease)
    .bind::<Timestamp, _>(at)
    .bind::<BigInt, _>(limit)
    .load(conn)?;
    let ids: Vec<String> = ids.into_iter().map(|c| c.id).collect();
    let rows: Vec<(String, String, String, i32)> = webhook_deliveries::table
        .filter(webhook_deliveries::id.eq_any(&ids))
        .order_by((
            webhook_deliveries::event_tx,
            webhook_deliveries::event_position,
        ))
        .select((
            webhook_deliveries::id,
            webhook_deliveries::endpoint_id,
            webhook_deliveries::event_id,
            webhook_deliveries::attempt_count,
        ))
        .load(conn)?;
    let mut endpoints_by_id: HashMap<String, EndpointRow> = HashMap::new();
    let mut claimed = Vec::with_capacity(rows.len());
    for (delivery_id, endpoint_id, event_id, attempt_count) in rows {
        if !endpoints_by_id.contains_key(&endpoint_id) {
            let endpoint = endpoints::load(conn, &endpoint_id)?;
            endpoints_by_id.insert(endpoint_id.clone(), endpoint);
        }
        let Some(endpoint) = endpoints_by_id.get(&endpoint_id) else {
            continue;
        };
        match event_by_id(conn, &event_id)? {
            Some(event) => claimed.push(Claimed {
                delivery_id,
                url: endpoint.url().to_owned(),
                secrets: endpoint.signing_secrets(at),
                endpoint_id,
                event,
                attempt_count,
            }),
            // Retention removed the event before it could be sent: nothing left to send.
            None => {
                diesel::update(webhook_deliveries::table.find(&delivery_id))
                    .set((
                        webhook_deliveries::status.eq(DeliveryStatus::Failed.as_str()),
                        webhook_deliveries::claim_token.eq(None::<String>),
                        webhook_deliveries::lease_until.eq(None::<NaiveDateTime>),
                        webhook_deliveries::updated_at.eq(at),
                    ))
                    .execute(conn)?;
            }
        }
    }
    Ok(claimed)
}

fn event_by_id(conn: &mut DbConnection, id: &str) -> Result<Option<Event>, StoreError> {
    match outbox::get(conn, id) {
        Ok(event) => Ok(Some(event)),
        Err(StoreError::NotFound) => Ok(None),
        Err(other) => Err(other),
    }
}

/// What becomes of the delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Succeeded,
    RetryAt(NaiveDateTime),
    Failed,
}

/// Keeps the attempt and moves the delivery on, if this node still holds it; returns since when
/// the endpoint has been failing, if it is.
pub fn record_attempt(
    conn: &mut DbConnection,
    delivery_id: &str,
    token: &str,
    attempt: &Attempt,
    next: Next,
) -> Result<Option<NaiveDateTime>, StoreError> {
    let endpoint_id: Option<String> = webhook_deliveries::table
        .find(delivery_id)
        .select(webhook_deliveries::endpoint_id)
        .first(conn)
        .optional()?;
    let Some(endpoint_id) = endpoint_id else {
        return Ok(None);
    };
    // The endpoint first, then its delivery: the order of every other writer (fan-out, replay),
    // so that two of them never wait on each other.
    records::lock(conn, Record::WebhookEndpoint, &endpoint_id)?;
    diesel::insert_into(webhook_attempts::table)
        .values((
            webhook_attempts::id.eq(new_id()),
            webhook_attempts::delivery_id.eq(delivery_id),
            webhook_attempts::attempted_at.eq(attempt.attempted_at),
            webhook_attempts::status_code.eq(attempt.status_code),
            webhook_attempts::latency_ms.eq(attempt.latency_ms),
            webhook_attempts::error.eq(&attempt.error),
            webhook_attempts::response_snippet.eq(&attempt.response_snippet),
        ))
        .execute(conn)?;
    let (status, next_attempt_at) = match next {
        Next::Succeeded => (DeliveryStatus::Succeeded, attempt.attempted_at),
        Next::RetryAt(at) => (DeliveryStatus::Pending, at),
        Next::Failed => (DeliveryStatus::Failed, attempt.attempted_at),
    };
    let at = now();
    let moved = diesel::update(
        webhook_deliveries::table
            .filter(webhook_deliveries::id.eq(delivery_id))
            .filter(webhook_deliveries::claim_token.eq(token)),
    )
    .set((
        webhook_deliveries::status.eq(status.as_str()),
        webhook_deliveries::attempt_count.eq(webhook_deliveries::attempt_count + 1),
        webhook_deliveries::next_attempt_at.eq(next_attempt_at),
        webhook_deliveries::claim_token.eq(None::<String>),
        webhook_deliveries::lease_until.eq(None::<NaiveDateTime>),
        webhook_deliveries::updated_at.eq(at),
    ))
    .execute(conn)?;
    if moved == 0 {
        return Ok(None);
    }
    let failing_since = if next == Next::Succeeded {
        None
    } else {
        let since: Option<NaiveDateTime> = webhook_endpoints::table
            .find(&endpoint_id)
            .select(webhook_endpoints::failing_since)
            .first(conn)?;
        Some(since.unwrap_or(attempt.attempted_at))
    };
    diesel::update(webhook_endpoints::table.filter(webhook_endpoints::id.eq(&endpoint_id)))
        .set(webhook_endpoints::failing_since.eq(failing_since))
        .execute(conn)?;
    Ok(failing_since)
}

/// Gives back the deliveries `token` holds and has not attempted, for another node to take at
/// once.
pub fn release(conn: &mut DbConnection, token: &str) -> Result<usize, StoreError> {
    Ok(diesel::update(
        webhook_deliveries::table
            .filter(webhook_deliveries::claim_token.eq(token))
            .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str())),
    )
    .set((
        webhook_deliveries::claim_token.eq(None::<String>),
        webhook_deliveries::lease_until.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)?)
}

/// One try at a receiver, as it is kept.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub attempted_at: NaiveDateTime,
    pub status_code: Option<i32>,
    pub latency_ms: i64,
    pub error: Option<String>,
    pub response_snippet: Option<String>,
}

/// An attempt as read: its delivery, then the fields of [`Attempt`].
type AttemptRow = (
    String,
    NaiveDateTime,
    Option<i32>,
    i64,
    Option<String>,
    Option<String>,
);

#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: String,
    pub endpoint_id: String,
    pub event_id: String,
    pub event_type: Option<EventType>,
    pub status: DeliveryStatus,
    pub next_attempt_at: Option<NaiveDateTime>,
    pub attempts: Vec<Attempt>,
    pub created_at: NaiveDateTime,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries)]
struct DeliveryRow {
    id: String,
    endpoint_id: String,
    event_id: String,
    status: String,
    next_attempt_at: NaiveDateTime,
    created_at: NaiveDateTime,
}

/// The endpoint's deliveries, newest first, each with its attempts.
pub fn list(
    conn: &mut DbConnection,
    endpoint_id: &str,
    page: &PageRequest<()>,
) -> Result<Page<Delivery>, StoreError> {
    endpoints::load(conn, endpoint_id)?;
    let query = webhook_deliveries::table
        .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
        .select(DeliveryRow::as_select())
        .into_boxed();
    let page = page_by_time!(
        conn,
        page,
        query,
        webhook_deliveries::created_at,
        DeliveryRow
    );
    let ids: Vec<&str> = page.items.iter().map(|r| r.id.as_str()).collect();
    let event_ids: Vec<&str> = page.items.iter().map(|r| r.event_id.as_str()).collect();
    let types: HashMap<String, String> = events::table
        .filter(events::id.eq_any(&event_ids))
        .select((events::id, events::event_type))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    let mut attempts: HashMap<String, Vec<Attempt>> = HashMap::new();
    let attempt_rows: Vec<AttemptRow> = webhook_attempts::table
        .filter(webhook_attempts::delivery_id.eq_any(&ids))
        .order_by(webhook_attempts::attempted_at.asc())
        .select((
            webhook_attempts::delivery_id,
            webhook_attempts::attempted_at,
            webhook_attempts::status_code,
            webhook_attempts::latency_ms,
            webhook_attempts::error,
            webhook_attempts::response_snippet,
        ))
        .load(conn)?;
    for (delivery_id, attempted_at, status_code, latency_ms, error, response_snippet) in
        attempt_rows
    {
        attempts.entry(delivery_id).or_default().push(Attempt {
            attempted_at,
            status_code,
            latency_ms,
            error,
            response_snippet,
        });
    }
    page.try_map(|row| {
        let status: DeliveryStatus = stored("webhook_deliveries", "status", &row.status)?;
        Ok(Delivery {
            event_type: types
                .get(&row.event_id)
                .map(|t| stored("events", "type", t))
                .transpose()?,
            attempts: attempts.remove(&row.id).unwrap_or_default(),
            next_attempt_at: (status == DeliveryStatus::Pending).then_some(row.next_attempt_at),
            status,
            id: row.id,
            endpoint_id: row.endpoint_id,
            event_id: row.event_id,
            created_at: row.created_at,
        })
    })
}

/// Sends one delivery again, with a fresh set of retries.
pub fn replay(
    conn: &mut DbConnection,
    endpoint_id: &str,
    expected_version: Option<i64>,
    delivery_id: &str,
) -> Result<(), StoreError> {
    endpoints::checkout(conn, endpoint_id, expected_version)?;
    let replayed = diesel::update(
        webhook_deliveries::table
            .filter(webhook_deliveries::id.eq(delivery_id))
            .filter(webhook_deliveries::endpoint_id.eq(endpoint_id)),
    )
    .set(requeue(now()))
    .execute(conn)?;
    if replayed == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

#[allow(clippy::type_complexity)]
fn requeue(
    at: NaiveDateTime,
) -> (
    diesel::dsl::Eq<webhook_deliveries::status, &'static str>,
    diesel::dsl::Eq<webhook_deliveries::attempt_count, i32>,
    diesel::dsl::Eq<webhook_deliveries::next_attempt_at, NaiveDateTime>,
    diesel::dsl::Eq<webhook_deliveries::claim_token, Option<String>>,
    diesel::dsl::Eq<webhook_deliveries::lease_until, Option<NaiveDateTime>>,
    diesel::dsl::Eq<webhook_deliveries::updated_at, NaiveDateTime>,
) {
    (
        webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str()),
        webhook_deliveries::attempt_count.eq(0),
        webhook_deliveries::next_attempt_at.eq(at),
        webhook_deliveries::claim_token.eq(None),
        webhook_deliveries::lease_until.eq(None),
        webhook_deliveries::updated_at.eq(at),
    )
}

/// Most events one range replay sends; a wider range is replayed in parts.
pub const REPLAY_LIMIT: i64 = 10_000;

/// Sends again every event from `since` to `until` that the endpoint subscribes to; returns
/// how many.
pub fn replay_range(
    conn: &mut DbConnection,
    endpoint_id: &str,
    expected_version: Option<i64>,
    since: NaiveDateTime,
    until: NaiveDateTime,
) -> Result<usize, StoreError> {
    let endpoint = endpoints::checkout(conn, endpoint_id, expected_version)?;
    let patterns = endpoint.patterns()?;
    let filter = EventFilter {
        types: Some(crm_domain::events::catalogue::EventPattern::expand(
            &patterns,
        )),
        since: Some(since),
        until: Some(until),
    };
    let at = now();
    let chosen: Vec<Event> = outbox::page(conn, Position::default(), &filter, REPLAY_LIMIT)?
        .into_iter()
        .filter(|e| e.event_type != EventType::WebhookEndpointTest)
        .collect();
    let rows: Vec<NewDelivery> = chosen
        .iter()
        .map(|e| NewDelivery::pending(endpoint_id, &e.id, e.position, at))
        .collect();
    insert_new(conn, &rows)?;
    for part in chosen.chunks(500) {
        let ids: Vec<&str> = part.iter().map(|e| e.id.as_str()).collect();
        diesel::update(
            webhook_deliveries::table
                .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
                .filter(webhook_deliveries::event_id.eq_any(ids)),
        )
        .set(requeue(at))
        .execute(conn)?;
    }
    Ok(chosen.len())
}

/// Deletes deliveries settled before `before`, with their attempts; returns how many.
pub fn purge_settled_before(
    conn: &mut DbConnection,
    before: NaiveDateTime,
) -> Result<usize, StoreError> {
    Ok(diesel::delete(
        webhook_deliveries::table
            .filter(webhook_deliveries::status.ne(DeliveryStatus::Pending.as_str()))
            .filter(webhook_deliveries::updated_at.lt(before)),
    )
    .execute(conn)?)
}
