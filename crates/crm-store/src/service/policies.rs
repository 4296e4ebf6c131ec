//! SLA policies: per category, the targets by priority and tier, counted in one calendar.

use chrono::NaiveDateTime;
use crm_domain::parties::companies::Tier;
use crm_domain::service::cases::{CaseCategory, CasePriority};
use crm_domain::service::sla::{check_rules, choose, PolicyView, SlaRule};
use crm_domain::Violation;
use diesel::prelude::*;

use crate::platform::db::DbConnection;
use crate::platform::pagination::{page_by_time, Page, PageRequest};
use crate::platform::records::{self, Record};
use crate::platform::schema::{business_calendars, case_slas, sla_policies};
use crate::platform::stored::{stored_json, to_json};
use crate::{new_id, now, StoreError};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyFields {
    pub name: String,
    pub calendar_id: String,
    /// Policies are tried in ascending position.
    pub position: i64,
    /// Empty: every category.
    pub categories: Vec<CaseCategory>,
    pub active: bool,
    pub rules: Vec<SlaRule>,
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub id: String,
    pub fields: PolicyFields,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// The rule a new case gets, and where it counts.
#[derive(Debug, Clone)]
pub struct Applicable {
    pub policy_id: String,
    pub calendar_id: String,
    pub rule: SlaRule,
}

#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = sla_policies)]
struct PolicyRow {
    id: String,
    name: String,
    calendar_id: String,
    position: i64,
    categories: String,
    active: bool,
    rules: String,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl PolicyRow {
    fn new(id: String, fields: &PolicyFields, version: i64, created_at: NaiveDateTime) -> Self {
        PolicyRow {
            id,
            name: fields.name.clone(),
            calendar_id: fields.calendar_id.clone(),
            position: fields.position,
            categories: to_json(&fields.categories),
            active: fields.active,
            rules: to_json(&fields.rules),
            version,
            created_at,
            updated_at: now(),
        }
    }

    fn into_policy(self) -> Result<Policy, StoreError> {
        Ok(Policy {
            fields: PolicyFields {
                categories: stored_json("sla_policies", "categories", &self.categories)?,
                rules: stored_json("sla_policies", "rules", &self.rules)?,
                name: self.name,
                calendar_id: self.calendar_id,
                position: self.position,
                active: self.active,
            },
            id: self.id,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// Rules that do not repeat a (priority, tier), in a calendar that exists.
fn check(conn: &mut DbConnection, fields: &PolicyFields) -> Result<(), StoreError> {
    check_rules(&fields.rules)?;
    let calendar: Option<String> = business_calendars::table
        .find(&fields.calendar_id)
        .select(business_calendars::id)
        .first(conn)
        .optional()?;
    if calendar.is_none() {
        return Err(Violation::new("calendar_id", "no such business calendar").into());
    }
    Ok(())
}

pub fn create(conn: &mut DbConnection, fields: PolicyFields) -> Result<Policy, StoreError> {
    check(conn, &fields)?;
    let row = PolicyRow::new(new_id(), &fields, 1, now());
    diesel::insert_into(sla_policies::table)
        .values(&row)
        .execute(conn)?;
    row.into_policy()
}

fn load(conn: &mut DbConnection, id: &str) -> Result<PolicyRow, StoreError> {
    records::load_row(conn, sla_policies::table, id)
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<Policy, StoreError> {
    load(conn, id)?.into_policy()
}

pub fn list(
    conn: &mut DbConnection,
    _: &(),
    page: &PageRequest<()>,
) -> Result<Page<Policy>, StoreError> {
    page_by_time!(conn, page, sla_policies::created_at, PolicyRow).try_map(PolicyRow::into_policy)
}

/// The rule for a new case of `category` and `priority` at a company of `tier`.
pub fn applicable(
    conn: &mut DbConnection,
    category: CaseCategory,
    priority: CasePriority,
    tier: Option<Tier>,
) -> Result<Option<Applicable>, StoreError> {
    let policies: Vec<Policy> = sla_policies::table
        .filter(sla_policies::active.eq(true))
        .order((
            sla_policies::position.asc(),
            sla_policies::created_at.asc(),
            sla_policies::id.asc(),
        ))
        .select(PolicyRow::as_select())
        .load(conn)?
        .into_iter()
        .map(PolicyRow::into_policy)
        .collect::<Result<_, _>>()?;
    let views: Vec<PolicyView> = policies
        .iter()
        .map(|p| PolicyView {
            active: p.fields.active,
            categories: &p.fields.categories,
            rules: &p.fields.rules,
        })
        .collect();
    Ok(
        choose(&views, category, priority, tier).map(|(index, rule)| Applicable {
            policy_id: policies[index].id.clone(),
            calendar_id: policies[index].fields.calendar_id.clone(),
            rule: rule.clone(),
        }),
    )
}

/// Changes what `edit` changes. Cases keep the targets they were given until a staff priority
/// change sets them again.
pub fn update(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    edit: impl FnOnce(&mut PolicyFields) -> Result<(), StoreError>,
) -> Result<Policy, StoreError> {
    let current = records::checkout(conn, Record::SlaPolicy, id, expected_version, load, |r| {
        r.version
    })?
    .into_policy()?;
    let mut fields = current.fields;
    edit(&mut fields)?;
    check(conn, &fields)?;
    let row = PolicyRow::new(current.id, &fields, current.version + 1, current.created_at);
    records::update_versioned!(conn, sla_policies, id, current.version, &row)?;
    row.into_policy()
}

/// Deletes a policy no case was measured by (else `409`: deactivate it instead).
pub fn delete(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
) -> Result<(), StoreError> {
    let row = records::checkout(conn, Record::SlaPolicy, id, expected_version, load, |r| {
        r.version
    })?;
    let measured: Option<String> = case_slas::table
        .filter(case_slas::sla_policy_id.eq(id))
        .select(case_slas::case_id)
        .first(conn)
        .optional()?;
    if let Some(case_id) = measured {
        return Err(StoreError::Conflict {
            message: "cases were measured by this policy; deactivate it instead".to_owned(),
            existing_id: Some(case_id),
        });
    }
    records::delete_versioned!(conn, sla_policies, id, row.version)?;
    Ok(())
}
