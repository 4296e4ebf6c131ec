//! Users: staff and portal accounts that log in with a password.

use chrono::NaiveDateTime;
use crm_domain::access::admins::StandingChange;
use crm_domain::access::roles::Role;
use crm_domain::Violation;
use diesel::prelude::*;

use crate::platform::db::{lock_key, natively, DbConnection};
use crate::platform::pagination::{page_by_time, Page, PageRequest};
use crate::platform::records::{self, Record};
use crate::platform::schema::{companies, users};
use crate::platform::stored::stored;
use crate::{access::refresh_tokens, new_id, now, StoreError};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = users, treat_none_as_null = true)]
struct UserRow {
    id: String,
    email: String,
    password_hash: String,
    role: String,
    company_id: Option<String>,
    active: bool,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    archived_at: Option<NaiveDateTime>,
    manager_id: Option<String>,
}

/// What an admin may write. `email` is lower-cased; `password_hash` is an argon2id PHC string.
#[derive(Debug, Clone, PartialEq)]
pub struct UserFields {
    pub email: String,
    pub password_hash: String,
    pub role: Role,
    pub company_id: Option<String>,
    pub active: bool,
    /// Staff: whom breached cases of theirs escalate to.
    pub manager_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub company_id: Option<String>,
    pub active: bool,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub archived_at: Option<NaiveDateTime>,
    pub manager_id: Option<String>,
}

impl User {
    /// Whether the user may authenticate at all.
    pub fn can_log_in(&self) -> bool {
        self.active && self.archived_at.is_none()
    }
}

impl UserRow {
    fn fields(&self) -> Result<UserFields, StoreError> {
        Ok(UserFields {
            email: self.email.clone(),
            password_hash: self.password_hash.clone(),
            role: stored("users", "role", &self.role)?,
            company_id: self.company_id.clone(),
            active: self.active,
            manager_id: self.manager_id.clone(),
        })
    }

    fn set_fields(&mut self, f: UserFields) {
        self.email = f.email;
        self.password_hash = f.password_hash;
        self.role = f.role.as_str().to_owned();
        self.company_id = f.company_id;
        self.active = f.active;
        self.manager_id = f.manager_id;
    }

    fn into_user(self) -> Result<User, StoreError> {
        Ok(User {
            role: stored("users", "role", &self.role)?,
            id: self.id,
            email: self.email,
            company_id: self.company_id,
            active: self.active,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
            archived_at: self.archived_at,
            manager_id: self.manager_id,
        })
    }
}

/// A customer belongs to exactly one company; staff belong to none.
fn check_write(conn: &mut DbConnection, f: &UserFields, own_id: &str) -> Result<(), StoreError> {
    match (f.role, &f.company_id) {
        (Role::Customer, None) => {
            return Err(Violation::new("company_id", "is required for the customer role").into())
        }
        (Role::Customer, Some(company_id)) => ensure_company_active(conn, company_id)?,
        (_, Some(_)) => {
            return Err(
                Violation::new("company_id", "only customer users belong to a company").into(),
            )
        }
        (_, None) => {}
    }
    if let Some(manager_id) = &f.manager_id {
        if manager_id == own_id || f.role == Role::Customer {
            return Err(Violation::new(
                "manager_id",
                "is another staff user, and only staff have one",
            )
            .into());
        }
        ensure_staff(conn, manager_id, "manager_id")?;
    }
    let existing: Option<String> = users::table
        .filter(users::email.eq(&f.email))
        .filter(users::archived_at.is_null())
        .filter(users::id.ne(own_id))
        .select(users::id)
        .first(conn)
        .optional()?;
    if let Some(existing_id) = existing {
        return Err(StoreError::Conflict {
            message: format!("a user with email {} already exists", f.email),
            existing_id: Some(existing_id),
        });
    }
    Ok(())
}

pub fn create(conn: &mut DbConnection, fields: UserFields) -> Result<User, StoreError> {
    let id = new_id();
    check_write(conn, &fields, &id)?;
    let at = now();
    let mut row = UserRow {
        id,
        email: String::new(),
        password_hash: String::new(),
        role: String::new(),
        company_id: None,
        active: true,
        version: 1,
        created_at: at,
        updated_at: at,
        archived_at: None,
        manager_id: None,
    };
    row.set_fields(fields);
    diesel::insert_into(users::table)
        .values(&row)
        .execute(conn)?;
    row.into_user()
}

fn load(conn: &mut DbConnection, id: &str) -> Result<UserRow, StoreError> {
    Ok(natively!(conn, |native| users::table
        .find(id)
        .select(UserRow::as_select())
        .first(native))?)
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<User, StoreError> {
    load(conn, id)?.into_user()
}

/// The live user with this (lower-cased) email and its password hash.
pub fn find_for_login(
    conn: &mut DbConnection,
    email: &str,
) -> Result<Option<(User, String)>, StoreError> {
    let row: Option<UserRow> = users::table
        .filter(users::email.eq(email))
        .filter(users::archived_at.is_null())
        .select(UserRow::as_select())
        .first(conn)
        .optional()?;
    row.map(|r| {
        let hash = r.password_hash.clone();
        r.into_user().map(|user| (user, hash))
    })
    .transpose()
}

pub fn count(conn: &mut DbConnection) -> Result<i64, StoreError> {
    Ok(users::table.count().get_result(conn)?)
}

pub fn ensure_active(conn: &mut DbConnection, id: &str, field: &str) -> Result<(), StoreError> {
    match load(conn, id) {
        Ok(row) if row.active && row.archived_at.is_none() => Ok(()),
        Ok(_) => Err(Violation::new(field, "user is not active").into()),
        Err(StoreError::NotFound) => Err(Violation::new(field, "no such user").into()),
        Err(e) => Err(e),
    }
}

/// An active user who is not a customer: someone cases may be assigned or escalated to.
pub fn ensure_staff(conn: &mut DbConnection, id: &str, field: &str) -> Result<(), StoreError> {
    ensure_active(conn, id, field)?;
    let role: Role = stored("users", "role", &load(conn, id)?.role)?;
    if role == Role::Customer {
        return Err(Violation::new(field, "is a customer, not staff").into());
    }
    Ok(())
}

/// Changes a user on behalf of `actor_id` (`None` for an API key).
pub fn update<F>(
    conn: &mut DbConnection,
    actor_id: Option<&str>,
    id: &str,
    expected_version: Option<i64>,
    change: F,
) -> Result<User, StoreError>
where
    F: FnOnce(&mut UserFields) -> Result<(), StoreError>,
{
    let mut row = records::checkout(conn, Record::User, id, expected_version, load, |r| {
        r.version
    })?;
    let mut fields = row.fields()?;
    change(&mut fields)?;
    check_write(conn, &fields, id)?;
    check_standing(
        conn,
        actor_id,
        &row,
        fields.active && fields.role == Role::Admin,
    )?;
    let revoke_sessions = !fields.active || fields.password_hash != row.password_hash;
    row.set_fields(fields);
    records::write_next_version!(conn, users, id, row)?;
    if revoke_sessions {
        refresh_tokens::revoke_all_of_user(conn, id)?;
    }
    row.into_user()
}

/// Deactivates and archives the user and ends its sessions; its records keep pointing at it.
pub fn archive(
    conn: &mut DbConnection,
    actor_id: Option<&str>,
    id: &str,
    expected_version: Option<i64>,
) -> Result<(), StoreError> {
    let row = records::checkout(conn, Record::User, id, expected_version, load, |r| {
        r.version
    })?;
    check_standing(conn, actor_id, &row, false)?;
    if row.archived_at.is_none() {
        let at = now();
        // Only the version that was read and checked is archived: a concurrent change (say, a
        // promotion the standing check did not see) makes this a 412, not a lost update.
        let archived = diesel::update(
            users::table
                .filter(users::id.eq(id))
                .filter(users::version.eq(row.version)),
        )
        .set((
            users::archived_at.eq(Some(at)),
            users::active.eq(false),
            users::updated_at.eq(at),
            users::version.eq(row.version + 1),
        ))
        .execute(conn)?;
        if archived == 0 {
            return Err(StoreError::VersionMismatch {
                current: row.version + 1,
            });
        }
        refresh_tokens::revoke_all_of_user(conn, id)?;
    }
    Ok(())
}

/// Refuses a change that leaves the API without an active admin, or an admin without its own
/// standing. Removals queue on one lock, so that two admins demoting each other at once cannot
/// both count the other as the one who remains.
fn check_standing(
    conn: &mut DbConnection,
    actor_id: Option<&str>,
    row: &UserRow,
    admin_after: bool,
) -> Result<(), StoreError> {
    let mut change = StandingChange {
        actor_id,
        target_id: &row.id,
        admin_before: row.archived_at.is_none() && row.active && row.role == Role::Admin.as_str(),
        admin_after,
        other_active_admins: 0,
    };
    if change.removes_an_admin() {
        lock_key(conn, "active-admins")?;
        change.other_active_admins = users::table
            .filter(users::role.eq(Role::Admin.as_str()))
            .filter(users::active.eq(true))
            .filter(users::archived_at.is_null())
            .filter(users::id.ne(&row.id))
            .count()
            .get_result(conn)?;
    }
    change.check().map_err(|refusal| StoreError::Conflict {
        message: refusal.to_string(),
        existing_id: None,
    })
}

pub fn list(
    conn: &mut DbConnection,
    include_archived: &bool,
    page: &PageRequest<()>,
) -> Result<Page<User>, StoreError> {
    let mut query = users::table.select(UserRow::as_select()).into_boxed();
    if !*include_archived {
        query = query.filter(users::archived_at.is_null());
    }
    page_by_time!(conn, page, query, users::created_at, UserRow).try_map(UserRow::into_user)
}

/// (id, email) of each of `ids` that exists.
pub fn emails(
    conn: &mut DbConnection,
    ids: &[String],
) -> Result<Vec<(String, String)>, StoreError> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let rows: Vec<(String, String)> = users::table
            .filter(users::id.eq_any(chunk))
            .select((users::id, users::email))
            .load(conn)?;
        out.extend(rows);
    }
    Ok(out)
}

/// Who a record points at, as an expansion shows it.
#[derive(Debug, Clone)]
pub struct UserSummary {
    pub id: String,
    pub email: String,
    pub role: Role,
}

/// The users among `ids`, in one query.
pub fn summaries(conn: &mut DbConnection, ids: &[String]) -> Result<Vec<UserSummary>, StoreError> {
    let rows: Vec<(String, String, String)> = users::table
        .filter(users::id.eq_any(ids))
        .select((users::id, users::email, users::role))
        .load(conn)?;
    rows.into_iter()
        .map(|(id, email, role)| {
            Ok(UserSummary {
                id,
                email,
                role: stored("users", "role", &role)?,
            })
        })
        .collect()
}

/// A customer user's company must exist and be live. Read from the table directly: access sits
/// below parties and cannot ask the company module.
fn ensure_company_active(conn: &mut DbConnection, company_id: &str) -> Result<(), StoreError> {
    let archived_at: Option<Option<NaiveDateTime>> = companies::table
        .find(company_id)
        .select(companies::archived_at)
        .first(conn)
        .optional()?;
    crate::ensure_live(archived_at, "company_id", "company")
}
