//! `/v1/business-calendars`: the hours and holidays SLA targets count in.

use actix_web::{delete, get, patch, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use crm_domain::access::permissions::{Access, Resource};
use crm_domain::service::calendar::{Holiday, OpeningPeriod};
use crm_store::service::calendars::{self as store, CalendarFields};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::platform::actions::ActionTarget;
use crate::platform::auth::Principal;
use crate::platform::error::ApiError;
use crate::platform::extract::{ApiJson, ApiQuery};
use crate::platform::fields::{Checker, SHORT};
use crate::platform::pagination::{read_oldest_first, ListResponse, PageQuery};
use crate::platform::respond::{created, utc, versioned};
use crate::platform::state::AppState;

/// Business hours in a time zone, less holidays.
#[derive(Debug, Serialize, ToSchema)]
pub struct Calendar {
    /// Server-assigned id (UUIDv7).
    pub id: String,
    pub name: String,
    /// IANA time zone the hours are local to, such as `Europe/Madrid`.
    pub time_zone: String,
    /// Opening periods, several a day allowed.
    pub hours: Vec<OpeningPeriod>,
    /// Days it is closed.
    pub holidays: Vec<Holiday>,
    /// Incremented on every change; the ETag.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<store::Calendar> for Calendar {
    fn from(c: store::Calendar) -> Self {
        Calendar {
            id: c.id,
            name: c.fields.name,
            time_zone: c.fields.time_zone,
            hours: c.fields.hours,
            holidays: c.fields.holidays,
            version: c.version,
            created_at: utc(c.created_at),
            updated_at: utc(c.updated_at),
        }
    }
}

/// A calendar, whole: created as it is, and replaced field by field by `PATCH`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Madrid office", "time_zone": "Europe/Madrid",
    "hours": [{"weekday": "mon", "start": "09:00", "end": "14:00"}, {"weekday": "mon", "start": "15:00", "end": "18:00"}],
    "holidays": [{"date": "2026-12-08", "name": "Inmaculada Concepción"}]}))]
pub struct CalendarInput {
    pub name: String,
    pub time_zone: String,
    pub hours: Vec<OpeningPeriod>,
    #[serde(default)]
    pub holidays: Vec<Holiday>,
}

/// Changes: each given field replaces the stored one.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarUpdate {
    pub name: Option<String>,
    pub time_zone: Option<String>,
    pub hours: Option<Vec<OpeningPeriod>>,
    pub holidays: Option<Vec<Holiday>>,
}

impl CalendarUpdate {
    fn apply(self, f: &mut CalendarFields) -> Result<(), crm_domain::Violations> {
        let mut c = Checker::default();
        if let Some(name) = self.name {
            f.name = c.required("name", &name, SHORT);
        }
        if let Some(zone) = self.time_zone {
            f.time_zone = zone;
        }
        if let Some(hours) = self.hours {
            f.hours = hours;
        }
        if let Some(holidays) = self.holidays {
            for (i, holiday) in holidays.iter().enumerate() {
                c.required(&format!("holidays[{i}].name"), &holiday.name, SHORT);
            }
            f.holidays = holidays;
        }
        c.finish()
    }
}

#[utoipa::path(tag = "service", operation_id = "createBusinessCalendar", summary = "Create a business calendar",
    description = "Periods of one weekday may not overlap; `24:00` ends a day. SLA targets count only the open time, in the calendar's own zone (so a day the clocks change keeps its local hours).",
    request_body = CalendarInput,
    responses((status = 201, description = "Created", body = Calendar, headers(("Location" = String, description = "URL of the calendar"), ("ETag" = String, description = "Its version")))))]
#[post("/business-calendars")]
pub async fn create_calendar(
    state: web::Data<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<CalendarInput>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::ServiceSettings, Access::Write)?;
    let mut fields = CalendarFields {
        name: String::new(),
        time_zone: String::new(),
        hours: Vec::new(),
        holidays: Vec::new(),
    };
    CalendarUpdate {
        name: Some(body.name),
        time_zone: Some(body.time_zone),
        hours: Some(body.hours),
        holidays: Some(body.holidays),
    }
    .apply(&mut fields)?;
    let calendar = state
        .db
        .write(move |conn| store::create(conn, fields))
        .await?;
    Ok(created(
        format!("/v1/business-calendars/{}", calendar.id),
        calendar.version,
        &Calendar::from(calendar),
    ))
}

#[utoipa::path(tag = "service", operation_id = "listBusinessCalendars", summary = "List business calendars",
    params(PageQuery),
    responses((status = 200, description = "A page of calendars, oldest first", body = ListResponse<Calendar>)))]
#[get("/business-calendars")]
pub async fn list_calendars(
    state: web::Data<AppState>,
    principal: Principal,
    ApiQuery(paging): ApiQuery<PageQuery>,
) -> Result<web::Json<ListResponse<Calendar>>, ApiError> {
    principal.authorize(Resource::ServiceSettings, Access::Read)?;
    read_oldest_first(&state, store::list, (), paging, Calendar::from).await
}

#[utoipa::path(tag = "service", operation_id = "getBusinessCalendar", summary = "Get a business calendar",
    params(("id" = String, Path, description = "Calendar id")),
    responses((status = 200, description = "The calendar", body = Calendar, headers(("ETag" = String, description = "Its version")))))]
#[get("/business-calendars/{id}")]
pub async fn get_calendar(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    target
        .respond(
            Resource::ServiceSettings,
            store::get,
            |r| r.version,
            Calendar::from,
        )
        .await
}

#[utoipa::path(tag = "service", operation_id = "updateBusinessCalendar", summary = "Update a business calendar",
    description = "Cases keep the due times they have; times set from now on (new cases, priority changes, resumed clocks) count in the changed calendar.",
    params(("id" = String, Path, description = "Calendar id")),
    request_body(content = CalendarUpdate, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The updated calendar", body = Calendar, headers(("ETag" = String, description = "Its new version")))))]
#[patch("/business-calendars/{id}")]
pub async fn update_calendar(
    target: ActionTarget,
    ApiJson(body): ApiJson<CalendarUpdate>,
) -> Result<HttpResponse, ApiError> {
    // Checked before the record is read, so that a bad body is a 422 whatever `If-Match` says.
    body.clone().apply(&mut Default::default())?;
    let calendar = target
        .write(Resource::ServiceSettings, move |conn, id, version| {
            store::update(conn, id, version, |fields| Ok(body.apply(fields)?))
        })
        .await?;
    Ok(versioned(calendar.version, &Calendar::from(calendar)))
}

#[utoipa::path(tag = "service", operation_id = "deleteBusinessCalendar", summary = "Delete a business calendar",
    description = "`409` while a policy or a case counts in it.",
    params(("id" = String, Path, description = "Calendar id")),
    responses((status = 204, description = "Deleted")))]
#[delete("/business-calendars/{id}")]
pub async fn delete_calendar(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    target
        .write_no_content(Resource::ServiceSettings, store::delete)
        .await
}

/// The routes under `/business-calendars`.
pub fn routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(list_calendars)
        .service(create_calendar)
        .service(get_calendar)
        .service(update_calendar)
        .service(delete_calendar);
}
