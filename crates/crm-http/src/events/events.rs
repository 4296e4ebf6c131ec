//! `/v1/events`: the outbox as a feed that a poller reads in commit order and resumes.

use actix_web::{get, web, HttpResponse};
use base64::Engine;
use chrono::{DateTime, NaiveDateTime, Utc};
use crm_domain::access::permissions::{Access, Resource};
use crm_domain::events::catalogue::{EventPattern, EventType};
use crm_store::events::outbox::{self as store, EventFilter, Position};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::platform::auth::Principal;
use crate::platform::error::ApiError;
use crate::platform::extract::PagedQuery;
use crate::platform::pagination::{page_limit, PageQuery};
use crate::platform::respond::utc;
use crate::platform::state::AppState;

/// Something that happened to a resource.
#[derive(Debug, Serialize, ToSchema)]
pub struct Event {
    /// Event id (UUIDv7); the `webhook-id` of its deliveries.
    pub id: String,
    /// `<resource>.<verb>`.
    #[serde(rename = "type")]
    #[schema(schema_with = event_type_schema)]
    pub event_type: EventType,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// The resource as its `GET` answered an admin when the event happened.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

impl Event {
    pub fn from_stored(event: store::Event) -> Result<Self, ApiError> {
        Ok(Event {
            data: serde_json::from_str(&event.data).map_err(|_| ApiError::Internal)?,
            id: event.id,
            event_type: event.event_type,
            occurred_at: utc(event.occurred_at),
        })
    }
}

/// The catalogue as the schema of a `type`: the derived schema would spell `contact.created`
/// as `contact_created`.
pub fn event_type_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .enum_values(Some(EventType::ALL.iter().map(|t| t.as_str())))
        .build()
}

/// The same, where an event may be unknown (retention removed it).
pub fn optional_event_type_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
            utoipa::openapi::Type::String,
            utoipa::openapi::Type::Null,
        ]))
        .enum_values(Some(
            EventType::ALL
                .iter()
                .map(|t| serde_json::Value::from(t.as_str()))
                .chain([serde_json::Value::Null]),
        ))
        .build()
}

/// A page of events; `next_cursor` is always set, so that a poller resumes where it stopped.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    /// Events in commit order, oldest first.
    pub data: Vec<Event>,
    /// Pass as `cursor` to read on; also when this page is empty.
    pub next_cursor: String,
}

/// Where a reader stands, and when it was told so: a cursor older than the retention may
/// have missed events that are gone.
#[derive(Serialize, Deserialize)]
struct Cursor {
    t: i64,
    p: i64,
    at: NaiveDateTime,
}

fn encode(position: Position, at: NaiveDateTime) -> String {
    let cursor = Cursor {
        t: position.tx,
        p: position.position,
        at,
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&cursor).unwrap_or_default())
}

fn decode(text: &str, retention: chrono::Duration) -> Result<Position, ApiError> {
    let invalid = || ApiError::validation("cursor", "is not a cursor returned by /v1/events");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| invalid())?;
    let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if cursor.at < crm_store::now() - retention {
        return Err(ApiError::Gone(format!(
            "the cursor is older than the {} days events are kept; start again with `since`",
            retention.num_days()
        )));
    }
    Ok(Position {
        tx: cursor.t,
        position: cursor.p,
    })
}

/// Filters and paging for the event feed.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventListQuery {
    /// Comma-separated types or patterns: `order.paid`, `order.*`, `*`.
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    /// Only events from this time on.
    pub since: Option<DateTime<Utc>>,
}

impl EventListQuery {
    fn filter(&self) -> Result<EventFilter, ApiError> {
        let types = match self.event_type.as_deref().filter(|t| !t.is_empty()) {
            Some(text) => Some(EventPattern::expand(&EventPattern::parse_list(
                text, "type",
            )?)),
            None => None,
        };
        Ok(EventFilter {
            types,
            since: self.since.map(|s| s.naive_utc()),
            until: None,
        })
    }
}

#[utoipa::path(tag = "events", operation_id = "listEvents", summary = "List events",
    description = "Events in commit order, oldest first. An event that commits later never appears before one a reader has passed, on any node. Events are kept `CRM_EVENTS_RETENTION_DAYS` (30); an older cursor is `410 Gone`.",
    params(EventListQuery, PageQuery),
    responses((status = 200, description = "A page of events", body = EventPage),
        (status = 410, description = "The cursor is older than the retention", body = crate::platform::error::Problem, content_type = "application/problem+json")))]
#[get("/events")]
pub async fn list_events(
    state: web::Data<AppState>,
    principal: Principal,
    PagedQuery(query, paging): PagedQuery<EventListQuery>,
) -> Result<web::Json<EventPage>, ApiError> {
    principal.authorize(Resource::Events, Access::Read)?;
    let retention = state.settings.webhooks.events_retention;
    let after = paging
        .cursor
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(|c| decode(c, retention))
        .transpose()?;
    let (filter, limit) = (query.filter()?, page_limit(paging.limit)?);
    let (events, head) = state
        .db
        .read(move |conn| store::page_or_head(conn, after, &filter, limit))
        .await?;
    let next = events.last().map_or(head, |e| e.position);
    let data = events
        .into_iter()
        .map(Event::from_stored)
        .collect::<Result<_, _>>()?;
    Ok(web::Json(EventPage {
        data,
        next_cursor: encode(next, crm_store::now()),
    }))
}

#[utoipa::path(tag = "events", operation_id = "getEvent", summary = "Get an event",
    params(("id" = String, Path, description = "Event id")),
    responses((status = 200, description = "The event", body = Event)))]
#[get("/events/{id}")]
pub async fn get_event(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Events, Access::Read)?;
    let event = state.db.read(move |conn| store::get(conn, &id)).await?;
    Ok(HttpResponse::Ok().json(Event::from_stored(event)?))
}

/// The routes under `/events`.
pub fn routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(list_events).service(get_event);
}
