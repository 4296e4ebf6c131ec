//! API keys for integrations: random, shown once, stored as a SHA-256 hash, scoped, revocable.

use chrono::{Duration, NaiveDateTime};
use crm_domain::access::permissions::Scope;
use diesel::prelude::*;

use crate::platform::db::DbConnection;
use crate::platform::pagination::{page_by_time, Page, PageRequest};
use crate::platform::records::{self, Record};
use crate::platform::schema::api_keys;
use crate::platform::stored::stored;
use crate::{new_id, now, StoreError};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_keys)]
struct ApiKeyRow {
    id: String,
    name: String,
    prefix: String,
    scopes: String,
    created_by: Option<String>,
    last_used_at: Option<NaiveDateTime>,
    revoked_at: Option<NaiveDateTime>,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    rate_limit_per_minute: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    /// The first characters of the key, so that a person can tell keys apart.
    pub prefix: String,
    pub scopes: Vec<Scope>,
    pub created_by: Option<String>,
    pub last_used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
    /// Requests per minute the key may make; `None` takes the server's default.
    pub rate_limit_per_minute: Option<i64>,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl ApiKeyRow {
    fn into_key(self) -> Result<ApiKey, StoreError> {
        Ok(ApiKey {
            scopes: self
                .scopes
                .split_whitespace()
                .map(|scope| stored("api_keys", "scopes", scope))
                .collect::<Result<_, _>>()?,
            id: self.id,
            name: self.name,
            prefix: self.prefix,
            created_by: self.created_by,
            last_used_at: self.last_used_at,
            revoked_at: self.revoked_at,
            rate_limit_per_minute: self.rate_limit_per_minute,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

pub struct NewApiKey<'a> {
    pub name: &'a str,
    pub prefix: &'a str,
    pub key_hash: &'a str,
    pub scopes: &'a [String],
    pub created_by: Option<&'a str>,
    /// At least 1, or `None` for the server's default.
    pub rate_limit_per_minute: Option<i64>,
}

pub fn create(conn: &mut DbConnection, new: NewApiKey<'_>) -> Result<ApiKey, StoreError> {
    let id = new_id();
    let at = now();
    diesel::insert_into(api_keys::table)
        .values((
            api_keys::id.eq(&id),
            api_keys::name.eq(new.name),
            api_keys::prefix.eq(new.prefix),
            api_keys::key_hash.eq(new.key_hash),
            api_keys::scopes.eq(new.scopes.join(" ")),
            api_keys::created_by.eq(new.created_by),
            api_keys::rate_limit_per_minute.eq(new.rate_limit_per_minute),
            api_keys::version.eq(1_i64),
            api_keys::created_at.eq(at),
            api_keys::updated_at.eq(at),
        ))
        .execute(conn)?;
    get(conn, &id)
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<ApiKey, StoreError> {
    let row: ApiKeyRow = api_keys::table
        .find(id)
        .select(ApiKeyRow::as_select())
        .first(conn)?;
    row.into_key()
}

/// The live (not revoked) key with this hash, if any.
pub fn find_live_by_hash(
    conn: &mut DbConnection,
    key_hash: &str,
) -> Result<Option<ApiKey>, StoreError> {
    let row: Option<ApiKeyRow> = api_keys::table
        .filter(api_keys::key_hash.eq(key_hash))
        .filter(api_keys::revoked_at.is_null())
        .select(ApiKeyRow::as_select())
        .first(conn)
        .optional()?;
    row.map(ApiKeyRow::into_key).transpose()
}

/// Records use, at most once a minute per key, so that busy integrations do not turn every
/// read into a write: the loaded `last_used_at` decides, and the statement is only sent when it
/// is stale.
pub fn touch(conn: &mut DbConnection, key: &ApiKey) -> Result<(), StoreError> {
    let at = now();
    let stale = at - Duration::minutes(1);
    if key.last_used_at.is_some_and(|used| used >= stale) {
        return Ok(());
    }
    diesel::update(
        api_keys::table.filter(api_keys::id.eq(&key.id)).filter(
            api_keys::last_used_at
                .is_null()
                .or(api_keys::last_used_at.lt(stale)),
        ),
    )
    .set(api_keys::last_used_at.eq(Some(at)))
    .execute(conn)?;
    Ok(())
}

pub fn revoke(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
) -> Result<(), StoreError> {
    let key = records::checkout(conn, Record::ApiKey, id, expected_version, get, |r| {
        r.version
    })?;
    if key.revoked_at.is_none() {
        let at = now();
        diesel::update(api_keys::table.filter(api_keys::id.eq(id)))
            .set((
                api_keys::revoked_at.eq(Some(at)),
                api_keys::updated_at.eq(at),
                api_keys::version.eq(key.version + 1),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn list(
    conn: &mut DbConnection,
    include_revoked: bool,
    page: &PageRequest<()>,
) -> Result<Page<ApiKey>, StoreError> {
    let mut query = api_keys::table.select(ApiKeyRow::as_select()).into_boxed();
    if !include_revoked {
        query = query.filter(api_keys::revoked_at.is_null());
    }
    page_by_time!(conn, page, query, api_keys::created_at, ApiKeyRow).try_map(ApiKeyRow::into_key)
}
