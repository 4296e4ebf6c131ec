//! Webhook endpoints: where events are sent, which ones, and the secrets that sign them.

use chrono::NaiveDateTime;
use crm_domain::events::catalogue::EventPattern;
use crm_domain::events::delivery::DisabledReason;
use diesel::prelude::*;

use crate::events::outbox::{self, Position};
use crate::platform::db::DbConnection;
use crate::platform::pagination::{page_by_time, Page, PageRequest};
use crate::platform::records::{self, Record};
use crate::platform::schema::webhook_endpoints;
use crate::{new_id, now, StoreError};

/// What a subscriber chooses.
#[derive(Debug, Clone)]
pub struct EndpointFields {
    pub url: String,
    pub description: Option<String>,
    pub event_types: Vec<EventPattern>,
}

#[derive(Debug, Clone)]
pub struct Endpoint {
    pub id: String,
    pub fields: EndpointFields,
    pub enabled: bool,
    pub disabled_reason: Option<DisabledReason>,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// The secrets a delivery is signed with now: the current one, and the previous one while its
/// overlap lasts.
#[derive(Debug, Clone)]
pub struct SigningSecrets(pub Vec<String>);

#[derive(Queryable, Selectable, Identifiable, AsChangeset)]
#[diesel(table_name = webhook_endpoints, treat_none_as_null = true)]
pub(crate) struct EndpointRow {
    pub(crate) id: String,
    url: String,
    description: Option<String>,
    event_types: String,
    pub(crate) enabled: bool,
    disabled_reason: Option<String>,
    secret: String,
    previous_secret: Option<String>,
    previous_secret_until: Option<NaiveDateTime>,
    pub(crate) fanout_tx: i64,
    pub(crate) fanout_position: i64,
    pub(crate) failing_since: Option<NaiveDateTime>,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl EndpointRow {
    pub(crate) fn patterns(&self) -> Result<Vec<EventPattern>, StoreError> {
        let corrupt = || StoreError::Corrupt {
            table: "webhook_endpoints",
            column: "event_types",
            value: self.event_types.clone(),
        };
        let texts: Vec<String> = serde_json::from_str(&self.event_types).map_err(|_| corrupt())?;
        texts
            .iter()
            .map(|t| EventPattern::parse(t, "event_types").map_err(|_| corrupt()))
            .collect()
    }

    pub(crate) fn signing_secrets(&self, at: NaiveDateTime) -> SigningSecrets {
        let mut secrets = vec![self.secret.clone()];
        if let (Some(previous), Some(until)) = (&self.previous_secret, self.previous_secret_until) {
            if at < until {
                secrets.push(previous.clone());
            }
        }
        SigningSecrets(secrets)
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    fn into_endpoint(self) -> Result<Endpoint, StoreError> {
        Ok(Endpoint {
            fields: EndpointFields {
                event_types: self.patterns()?,
                url: self.url,
                description: self.description,
            },
            disabled_reason: crate::platform::stored::stored_opt(
                "webhook_endpoints",
                "disabled_reason",
                self.disabled_reason.as_deref(),
            )?,
            id: self.id,
            enabled: self.enabled,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

fn patterns_json(patterns: &[EventPattern]) -> String {
    serde_json::Value::from(patterns.iter().map(|p| p.to_text()).collect::<Vec<_>>()).to_string()
}

/// Subscribes a new endpoint to the events committed from now on; `secret` is its first
/// signing secret.
pub fn create(
    conn: &mut DbConnection,
    fields: EndpointFields,
    enabled: bool,
    secret: &str,
) -> Result<Endpoint, StoreError> {
    let at = now();
    let start = outbox::head(conn)?;
    let row = EndpointRow {
        id: new_id(),
        url: fields.url,
        description: fields.description,
        event_types: patterns_json(&fields.event_types),
        enabled,
        disabled_reason: (!enabled).then(|| DisabledReason::ByUser.as_str().to_owned()),
        secret: secret.to_owned(),
        previous_secret: None,
        previous_secret_until: None,
        fanout_tx: start.tx,
        fanout_position: start.position,
        failing_since: None,
        version: 1,
        created_at: at,
        updated_at: at,
    };
    diesel::insert_into(webhook_endpoints::table)
        .values((
            webhook_endpoints::id.eq(&row.id),
            webhook_endpoints::url.eq(&row.url),
            webhook_endpoints::description.eq(&row.description),
            webhook_endpoints::event_types.eq(&row.event_types),
            webhook_endpoints::enabled.eq(row.enabled),
            webhook_endpoints::disabled_reason.eq(&row.disabled_reason),
            webhook_endpoints::secret.eq(&row.secret),
            webhook_endpoints::fanout_tx.eq(row.fanout_tx),
            webhook_endpoints::fanout_position.eq(row.fanout_position),
            webhook_endpoints::version.eq(row.version),
            webhook_endpoints::created_at.eq(row.created_at),
            webhook_endpoints::updated_at.eq(row.updated_at),
        ))
        .execute(conn)?;
    row.into_endpoint()
}

pub(crate) fn load(conn: &mut DbConnection, id: &str) -> Result<EndpointRow, StoreError> {
    records::load_row(conn, webhook_endpoints::table, id)
}

/// Locks the endpoint and checks `If-Match`: the start of its every write.
pub(crate) fn checkout(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
) -> Result<EndpointRow, StoreError> {
    records::checkout(
        conn,
        Record::WebhookEndpoint,
        id,
        expected_version,
        load,
        |r| r.version,
    )
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<Endpoint, StoreError> {
    load(conn, id)?.into_endpoint()
}

pub fn list(
    conn: &mut DbConnection,
    _: &(),
    page: &PageRequest<()>,
) -> Result<Page<Endpoint>, StoreError> {
    page_by_time!(conn, page, webhook_endpoints::created_at, EndpointRow)
        .try_map(EndpointRow::into_endpoint)
}

/// Locks the endpoint, checks `If-Match`, lets `change` alter the row and writes it with a new
/// version.
fn change(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    change: impl FnOnce(&mut EndpointRow, &mut DbConnection) -> Result<(), StoreError>,
) -> Result<Endpoint, StoreError> {
    let mut row = checkout(conn, id, expected_version)?;
    change(&mut row, conn)?;
    records::write_next_version!(conn, webhook_endpoints, id, row)?;
    row.into_endpoint()
}

pub fn update(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    edit: impl FnOnce(&mut EndpointFields) -> Result<(), StoreError>,
) -> Result<Endpoint, StoreError> {
    change(conn, id, expected_version, |row, _| {
        let mut fields = EndpointFields {
            url: row.url.clone(),
            description: row.description.clone(),
            event_types: row.patterns()?,
        };
        edit(&mut fields)?;
        row.url = fields.url;
        row.description = fields.description;
        row.event_types = patterns_json(&fields.event_types);
        Ok(())
    })
}

/// Enables an endpoint from the events committed from now on, or disables it, saying why.
pub fn set_enabled(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    enabled: bool,
    reason: DisabledReason,
) -> Result<Endpoint, StoreError> {
    change(conn, id, expected_version, |row, conn| {
        if enabled && !row.enabled {
            let start = outbox::head(conn)?;
            row.fanout_tx = start.tx;
            row.fanout_position = start.position;
        }
        row.enabled = enabled;
        row.disabled_reason = (!enabled).then(|| reason.as_str().to_owned());
        row.failing_since = None;
        Ok(())
    })
}

/// Replaces the signing secret; the old one keeps signing too until `overlap` has passed.
pub fn rotate_secret(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    new_secret: &str,
    overlap: chrono::Duration,
) -> Result<Endpoint, StoreError> {
    change(conn, id, expected_version, |row, _| {
        row.previous_secret = Some(std::mem::replace(&mut row.secret, new_secret.to_owned()));
        row.previous_secret_until = Some(now() + overlap);
        Ok(())
    })
}

pub fn delete(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
) -> Result<(), StoreError> {
    let row = checkout(conn, id, expected_version)?;
    records::delete_versioned!(conn, webhook_endpoints, id, row.version)?;
    Ok(())
}

/// The ids of the endpoints that take events now.
pub fn enabled_ids(conn: &mut DbConnection) -> Result<Vec<String>, StoreError> {
    Ok(webhook_endpoints::table
        .filter(webhook_endpoints::enabled.eq(true))
        .select(webhook_endpoints::id)
        .load(conn)?)
}

/// Where the endpoint's fan-out has got to.
pub(crate) fn fanned_out_to(row: &EndpointRow) -> Position {
    Position {
        tx: row.fanout_tx,
        position: row.fanout_position,
    }
}
