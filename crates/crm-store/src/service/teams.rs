//! Teams: who works a queue of cases, and whom its breached cases escalate to.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::access::users::ensure_staff;
use crate::platform::db::DbConnection;
use crate::platform::pagination::{page_by_time, Page, PageRequest};
use crate::platform::records::{self, Record};
use crate::platform::schema::{cases, teams};
use crate::platform::stored::{stored_json, to_json};
use crate::{new_id, now, StoreError};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TeamFields {
    pub name: String,
    pub member_ids: Vec<String>,
    /// Whom a breached case escalates to when its assignee has no manager.
    pub escalation_user_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Team {
    pub id: String,
    pub fields: TeamFields,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = teams, treat_none_as_null = true)]
struct TeamRow {
    id: String,
    name: String,
    member_ids: String,
    escalation_user_id: Option<String>,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl TeamRow {
    fn new(id: String, fields: &TeamFields, version: i64, created_at: NaiveDateTime) -> Self {
        TeamRow {
            id,
            name: fields.name.clone(),
            member_ids: to_json(&fields.member_ids),
            escalation_user_id: fields.escalation_user_id.clone(),
            version,
            created_at,
            updated_at: now(),
        }
    }

    fn into_team(self) -> Result<Team, StoreError> {
        Ok(Team {
            fields: TeamFields {
                member_ids: stored_json("teams", "member_ids", &self.member_ids)?,
                name: self.name,
                escalation_user_id: self.escalation_user_id,
            },
            id: self.id,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// Members and the escalation user are active staff; a member listed twice is kept once.
fn check(conn: &mut DbConnection, fields: &mut TeamFields) -> Result<(), StoreError> {
    // Checked at the index the client sent, before the repeats are dropped.
    for (i, member) in fields.member_ids.iter().enumerate() {
        ensure_staff(conn, member, &format!("member_ids[{i}]"))?;
    }
    let mut seen = std::collections::HashSet::new();
    fields
        .member_ids
        .retain(|member| seen.insert(member.clone()));
    if let Some(user) = &fields.escalation_user_id {
        ensure_staff(conn, user, "escalation_user_id")?;
    }
    Ok(())
}

pub fn create(conn: &mut DbConnection, mut fields: TeamFields) -> Result<Team, StoreError> {
    check(conn, &mut fields)?;
    let row = TeamRow::new(new_id(), &fields, 1, now());
    diesel::insert_into(teams::table)
        .values(&row)
        .execute(conn)?;
    row.into_team()
}

fn load(conn: &mut DbConnection, id: &str) -> Result<TeamRow, StoreError> {
    records::load_row(conn, teams::table, id)
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<Team, StoreError> {
    load(conn, id)?.into_team()
}

pub fn list(
    conn: &mut DbConnection,
    _: &(),
    page: &PageRequest<()>,
) -> Result<Page<Team>, StoreError> {
    page_by_time!(conn, page, teams::created_at, TeamRow).try_map(TeamRow::into_team)
}

pub fn update(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    edit: impl FnOnce(&mut TeamFields) -> Result<(), StoreError>,
) -> Result<Team, StoreError> {
    let current = records::checkout(conn, Record::Team, id, expected_version, load, |r| {
        r.version
    })?
    .into_team()?;
    let mut fields = current.fields;
    edit(&mut fields)?;
    check(conn, &mut fields)?;
    let row = TeamRow::new(current.id, &fields, current.version + 1, current.created_at);
    records::update_versioned!(conn, teams, id, current.version, &row)?;
    row.into_team()
}

/// Deletes a team that no case is queued in (else `409`).
pub fn delete(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
) -> Result<(), StoreError> {
    let row = records::checkout(conn, Record::Team, id, expected_version, load, |r| {
        r.version
    })?;
    let queued: Option<String> = cases::table
        .filter(cases::team_id.eq(id))
        .select(cases::id)
        .first(conn)
        .optional()?;
    if let Some(case_id) = queued {
        return Err(StoreError::Conflict {
            message: "cases are queued in this team".to_owned(),
            existing_id: Some(case_id),
        });
    }
    records::delete_versioned!(conn, teams, id, row.version)?;
    Ok(())
}
