//! Business calendars: a time zone, opening hours and holidays, in which SLA targets count.

use chrono::NaiveDateTime;
use crm_domain::service::calendar::{BusinessCalendar, Holiday, OpeningPeriod};
use diesel::prelude::*;

use crate::platform::db::DbConnection;
use crate::platform::pagination::{page_by_time, Page, PageRequest};
use crate::platform::records::{self, Record};
use crate::platform::schema::{business_calendars, case_slas, sla_policies};
use crate::platform::stored::{stored_json, to_json};
use crate::{new_id, now, StoreError};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CalendarFields {
    pub name: String,
    pub time_zone: String,
    pub hours: Vec<OpeningPeriod>,
    pub holidays: Vec<Holiday>,
}

impl CalendarFields {
    /// The calendar these fields describe, or what is wrong with them.
    pub fn calendar(&self) -> Result<BusinessCalendar, StoreError> {
        Ok(BusinessCalendar::new(
            &self.time_zone,
            &self.hours,
            self.holidays.iter().map(|h| h.date),
        )?)
    }
}

#[derive(Debug, Clone)]
pub struct Calendar {
    pub id: String,
    pub fields: CalendarFields,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = business_calendars)]
struct CalendarRow {
    id: String,
    name: String,
    time_zone: String,
    hours: String,
    holidays: String,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl CalendarRow {
    fn into_calendar(self) -> Result<Calendar, StoreError> {
        Ok(Calendar {
            fields: CalendarFields {
                hours: stored_json("business_calendars", "hours", &self.hours)?,
                holidays: stored_json("business_calendars", "holidays", &self.holidays)?,
                name: self.name,
                time_zone: self.time_zone,
            },
            id: self.id,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }

    fn new(id: String, fields: &CalendarFields, version: i64, created_at: NaiveDateTime) -> Self {
        CalendarRow {
            id,
            name: fields.name.clone(),
            time_zone: fields.time_zone.clone(),
            hours: to_json(&fields.hours),
            holidays: to_json(&fields.holidays),
            version,
            created_at,
            updated_at: now(),
        }
    }
}

pub fn create(conn: &mut DbConnection, fields: CalendarFields) -> Result<Calendar, StoreError> {
    fields.calendar()?;
    let row = CalendarRow::new(new_id(), &fields, 1, now());
    diesel::insert_into(business_calendars::table)
        .values(&row)
        .execute(conn)?;
    row.into_calendar()
}

fn load(conn: &mut DbConnection, id: &str) -> Result<CalendarRow, StoreError> {
    records::load_row(conn, business_calendars::table, id)
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<Calendar, StoreError> {
    load(conn, id)?.into_calendar()
}

/// The calendar a policy counts in, ready to count.
pub fn business_calendar(
    conn: &mut DbConnection,
    id: &str,
) -> Result<BusinessCalendar, StoreError> {
    get(conn, id)?.fields.calendar()
}

pub fn list(
    conn: &mut DbConnection,
    _: &(),
    page: &PageRequest<()>,
) -> Result<Page<Calendar>, StoreError> {
    page_by_time!(conn, page, business_calendars::created_at, CalendarRow)
        .try_map(CalendarRow::into_calendar)
}

/// Changes what `edit` changes. Cases keep the due times they were given; new targets (a
/// creation, a priority change, a resume) count in the changed calendar.
fn checkout(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
) -> Result<CalendarRow, StoreError> {
    let calendar = Record::BusinessCalendar;
    records::checkout(conn, calendar, id, expected_version, load, |r| r.version)
}

pub fn update(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    edit: impl FnOnce(&mut CalendarFields) -> Result<(), StoreError>,
) -> Result<Calendar, StoreError> {
    let row = checkout(conn, id, expected_version)?;
    let current = row.into_calendar()?;
    let mut fields = current.fields;
    edit(&mut fields)?;
    fields.calendar()?;
    let row = CalendarRow::new(current.id, &fields, current.version + 1, current.created_at);
    records::update_versioned!(conn, business_calendars, id, current.version, &row)?;
    row.into_calendar()
}

/// Deletes a calendar that no policy counts in (else `409`).
pub fn delete(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
) -> Result<(), StoreError> {
    let row = checkout(conn, id, expected_version)?;
    let used_by: Option<String> = sla_policies::table
        .filter(sla_policies::calendar_id.eq(id))
        .select(sla_policies::id)
        .first(conn)
        .optional()?;
    let counted_in: Option<String> = case_slas::table
        .filter(case_slas::calendar_id.eq(id))
        .select(case_slas::case_id)
        .first(conn)
        .optional()?;
    if let Some(user) = used_by.or(counted_in) {
        return Err(StoreError::Conflict {
            message: "SLA policies or cases count in this calendar".to_owned(),
            existing_id: Some(user),
        });
    }
    records::delete_versioned!(conn, business_calendars, id, row.version)?;
    Ok(())
}
