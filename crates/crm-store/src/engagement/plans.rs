//! Visit plans: a company visited every few weeks. The maintenance loop moves
//! `next_visit_on` on by compare-and-set, so each visit gets one task.

use chrono::{NaiveDate, NaiveDateTime};
use crm_domain::engagement::automation::VisitPlanSchedule;
use crm_domain::engagement::tasks::{TaskSource, TaskStatus};
use diesel::prelude::*;

use crate::marketing::campaigns::Visible;
use crate::platform::db::DbConnection;
use crate::platform::pagination::{page_by_time, Page, PageRequest};
use crate::platform::records::{self, Record};
use crate::platform::schema::{companies, tasks, visit_plans};
use crate::{new_id, now, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitPlanFields {
    pub company_id: String,
    pub owner_id: String,
    pub schedule: VisitPlanSchedule,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = visit_plans)]
pub(crate) struct VisitPlanRow {
    pub(crate) id: String,
    pub(crate) company_id: String,
    pub(crate) owner_id: String,
    pub(crate) every_weeks: i32,
    pub(crate) next_visit_on: NaiveDate,
    pub(crate) lead_days: i32,
    pub(crate) version: i64,
    pub(crate) created_at: NaiveDateTime,
    pub(crate) updated_at: NaiveDateTime,
}

#[derive(Debug, Clone)]
pub struct VisitPlan {
    pub id: String,
    pub fields: VisitPlanFields,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl VisitPlanRow {
    fn new(id: String, f: &VisitPlanFields, version: i64, created_at: NaiveDateTime) -> Self {
        VisitPlanRow {
            id,
            company_id: f.company_id.clone(),
            owner_id: f.owner_id.clone(),
            every_weeks: f.schedule.every_weeks,
            next_visit_on: f.schedule.next_visit_on,
            lead_days: f.schedule.lead_days,
            version,
            created_at,
            updated_at: now(),
        }
    }

    pub(crate) fn schedule(&self) -> VisitPlanSchedule {
        VisitPlanSchedule {
            every_weeks: self.every_weeks,
            next_visit_on: self.next_visit_on,
            lead_days: self.lead_days,
        }
    }

    fn into_plan(self) -> VisitPlan {
        VisitPlan {
            fields: VisitPlanFields {
                schedule: self.schedule(),
                company_id: self.company_id,
                owner_id: self.owner_id,
            },
            id: self.id,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct VisitPlanFilter {
    pub visible: Visible,
    pub company_id: Option<String>,
    pub owner_id: Option<String>,
}

fn check(conn: &mut DbConnection, f: &VisitPlanFields) -> Result<(), StoreError> {
    f.schedule.validate()?;
    crate::access::users::ensure_staff(conn, &f.owner_id, "owner_id")?;
    match crate::parties::companies::ensure_exists(conn, &f.company_id) {
        Err(StoreError::NotFound) => {
            Err(crm_domain::Violation::new("company_id", "no such company").into())
        }
        other => other,
    }
}

pub fn create(conn: &mut DbConnection, fields: VisitPlanFields) -> Result<VisitPlan, StoreError> {
    check(conn, &fields)?;
    let row = VisitPlanRow::new(new_id(), &fields, 1, now());
    diesel::insert_into(visit_plans::table)
        .values(&row)
        .execute(conn)?;
    Ok(row.into_plan())
}

fn load(conn: &mut DbConnection, id: &str) -> Result<VisitPlanRow, StoreError> {
    records::load_row(conn, visit_plans::table, id)
}

/// A plan the caller may see; another salesperson's is not found.
pub fn get(conn: &mut DbConnection, id: &str, visible: &Visible) -> Result<VisitPlan, StoreError> {
    let row = load(conn, id)?;
    visible.allows(Some(&row.owner_id))?;
    Ok(row.into_plan())
}

pub fn list(
    conn: &mut DbConnection,
    filter: &VisitPlanFilter,
    page: &PageRequest<()>,
) -> Result<Page<VisitPlan>, StoreError> {
    let mut query = visit_plans::table
        .select(VisitPlanRow::as_select())
        .into_boxed();
    if let Some(own) = &filter.visible.owned_by {
        query = query.filter(visit_plans::owner_id.eq(own.clone()));
    }
    if let Some(v) = &filter.company_id {
        query = query.filter(visit_plans::company_id.eq(v.clone()));
    }
    if let Some(v) = &filter.owner_id {
        query = query.filter(visit_plans::owner_id.eq(v.clone()));
    }
    Ok(
        page_by_time!(conn, page, query, visit_plans::created_at, VisitPlanRow)
            .map(VisitPlanRow::into_plan),
    )
}

fn checkout(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    visible: &Visible,
) -> Result<VisitPlanRow, StoreError> {
    let row = records::checkout(conn, Record::VisitPlan, id, None, load, |r| r.version)?;
    visible.allows(Some(&row.owner_id))?;
    records::expect_version(expected_version, row.version)?;
    Ok(row)
}

pub fn update(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    visible: &Visible,
    edit: impl FnOnce(&mut VisitPlanFields) -> Result<(), StoreError>,
) -> Result<VisitPlan, StoreError> {
    let current = checkout(conn, id, expected_version, visible)?.into_plan();
    let mut fields = current.fields.clone();
    edit(&mut fields)?;
    check(conn, &fields)?;
    visible.allows(Some(&fields.owner_id))?;
    let row = VisitPlanRow::new(current.id, &fields, current.version + 1, current.created_at);
    records::update_versioned!(conn, visit_plans, id, current.version, &row)?;
    Ok(row.into_plan())
}

pub fn delete(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    visible: &Visible,
) -> Result<(), StoreError> {
    let row = checkout(conn, id, expected_version, visible)?;
    records::delete_versioned!(conn, visit_plans, id, row.version)?;
    Ok(())
}

/// A company's next visit as of `now`: the earliest open visit task due from now on (a plan
/// has already moved past the visits it made tasks for), else its plans' next date.
pub fn next_visit(
    conn: &mut DbConnection,
    company_id: &str,
    now: NaiveDateTime,
) -> Result<Option<NaiveDate>, StoreError> {
    let tasked: Option<NaiveDateTime> = tasks::table
        .filter(tasks::company_id.eq(company_id))
        .filter(tasks::source.eq(TaskSource::VisitPlan.as_str()))
        .filter(tasks::status.eq(TaskStatus::Open.as_str()))
        .filter(tasks::due_at.ge(now))
        .select(diesel::dsl::min(tasks::due_at))
        .first(conn)?;
    let planned: Option<NaiveDate> = visit_plans::table
        .filter(visit_plans::company_id.eq(company_id))
        .select(diesel::dsl::min(visit_plans::next_visit_on))
        .first(conn)?;
    Ok(match (tasked.map(|at| at.date()), planned) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    })
}

/// Plans whose next visit is within `max_lead_days` of `today` or already past: the only ones a
/// run can have work for.
pub(crate) fn due(
    conn: &mut DbConnection,
    horizon: NaiveDate,
) -> Result<Vec<VisitPlanRow>, StoreError> {
    Ok(visit_plans::table
        .filter(visit_plans::next_visit_on.le(horizon))
        .filter(
            visit_plans::company_id.eq_any(
                companies::table
                    .filter(companies::archived_at.is_null())
                    .select(companies::id),
            ),
        )
        .select(VisitPlanRow::as_select())
        .order(visit_plans::next_visit_on.asc())
        .load(conn)?)
}

/// Moves a plan's next visit from `from` to `to`, only if no one moved it since it was read:
/// the compare-and-set that lets one run, on one node, make the visit's task.
pub(crate) fn advance(
    conn: &mut DbConnection,
    plan: &VisitPlanRow,
    to: NaiveDate,
) -> Result<bool, StoreError> {
    let moved = diesel::update(
        visit_plans::table
            .filter(visit_plans::id.eq(&plan.id))
            .filter(visit_plans::version.eq(plan.version))
            .filter(visit_plans::next_visit_on.eq(plan.next_visit_on)),
    )
    .set((
        visit_plans::next_visit_on.eq(to),
        visit_plans::version.eq(plan.version + 1),
        visit_plans::updated_at.eq(now()),
    ))
    .execute(conn)?;
    Ok(moved > 0)
}
