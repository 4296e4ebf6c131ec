//! Saved views: a named filter, sort and set of columns over contacts or companies, private to
//! whoever saved it unless shared.

use chrono::NaiveDateTime;
use crm_domain::platform::custom_fields::CustomObject;
use crm_domain::platform::filter;
use crm_domain::Violation;
use diesel::prelude::*;

use crate::parties::{companies, contacts};
use crate::platform::custom_fields as custom;
use crate::platform::db::DbConnection;
use crate::platform::query::Table;
use crate::platform::records::{self, Record};
use crate::platform::schema::saved_views;
use crate::platform::stored::{stored, stored_json, to_json};
use crate::sales::{leads, opportunities, orders};
use crate::{new_id, now, StoreError};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = saved_views, treat_none_as_null = true)]
struct ViewRow {
    id: String,
    owner_id: String,
    name: String,
    object: String,
    filter: Option<String>,
    sort: Option<String>,
    column_paths: String,
    shared: bool,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

/// What a client may write.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewFields {
    pub name: String,
    pub object: CustomObject,
    pub filter: Option<String>,
    pub sort: Option<String>,
    pub columns: Vec<String>,
    pub shared: bool,
}

#[derive(Debug, Clone)]
pub struct View {
    pub id: String,
    pub owner_id: String,
    pub fields: ViewFields,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl ViewRow {
    fn set(&mut self, fields: &ViewFields) {
        self.name = fields.name.clone();
        self.object = fields.object.as_str().to_owned();
        self.filter = fields.filter.clone();
        self.sort = fields.sort.clone();
        self.column_paths = to_json(&fields.columns);
        self.shared = fields.shared;
    }

    fn into_view(self) -> Result<View, StoreError> {
        Ok(View {
            fields: ViewFields {
                name: self.name,
                object: stored("saved_views", "object", &self.object)?,
                filter: self.filter,
                sort: self.sort,
                columns: stored_json("saved_views", "column_paths", &self.column_paths)?,
                shared: self.shared,
            },
            id: self.id,
            owner_id: self.owner_id,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// The table a view lists.
pub fn table_of(object: CustomObject) -> Result<&'static Table, StoreError> {
    match object {
        CustomObject::Contacts => Ok(&contacts::TABLE),
        CustomObject::Companies => Ok(&companies::TABLE),
        CustomObject::Leads => Ok(&leads::TABLE),
        CustomObject::Opportunities => Ok(&opportunities::TABLE),
        CustomObject::Orders => Ok(&orders::TABLE),
    }
}

/// A view's filter, sort and columns must name fields of its object as they are now.
fn check(conn: &mut DbConnection, fields: &ViewFields) -> Result<(), StoreError> {
    let table = table_of(fields.object)?;
    let defs = custom::fields(conn, fields.object)?;
    let lookup = |path: &str| table.field(path, &defs);
    if let Some(text) = &fields.filter {
        filter::compile(text, &lookup, crate::now())?;
    }
    if let Some(sort) = &fields.sort {
        filter::parse_sort(sort, &lookup)?;
    }
    for (i, column) in fields.columns.iter().enumerate() {
        if lookup(column).is_none() {
            return Err(Violation::new(
                format!("columns[{i}]"),
                format!("`{column}` is not a field of {}", fields.object),
            )
            .into());
        }
    }
    Ok(())
}

pub fn create(
    conn: &mut DbConnection,
    owner_id: &str,
    fields: ViewFields,
) -> Result<View, StoreError> {
    check(conn, &fields)?;
    let at = now();
    let mut row = ViewRow {
        id: new_id(),
        owner_id: owner_id.to_owned(),
        name: String::new(),
        object: String::new(),
        filter: None,
        sort: None,
        column_paths: String::new(),
        shared: false,
        version: 1,
        created_at: at,
        updated_at: at,
    };
    row.set(&fields);
    diesel::insert_into(saved_views::table)
        .values(&row)
        .execute(conn)?;
    row.into_view()
}

/// A view the viewer may see: its own, or a shared one. Another's private view is not found.
pub fn get(conn: &mut DbConnection, id: &str, viewer: &str) -> Result<View, StoreError> {
    let row: ViewRow = saved_views::table
        .find(id)
        .select(ViewRow::as_select())
        .first(conn)?;
    if row.owner_id != viewer && !row.shared {
        return Err(StoreError::NotFound);
    }
    row.into_view()
}

/// The viewer's views and the shared ones, of one object or all, oldest first.
pub fn list(
    conn: &mut DbConnection,
    viewer: &str,
    object: Option<CustomObject>,
) -> Result<Vec<View>, StoreError> {
    let mut query = saved_views::table
        .filter(
            saved_views::owner_id
                .eq(viewer)
                .or(saved_views::shared.eq(true)),
        )
        .select(ViewRow::as_select())
        .order((saved_views::created_at.asc(), saved_views::id.asc()))
        .limit(500)
        .into_boxed();
    if let Some(object) = object {
        query = query.filter(saved_views::object.eq(object.as_str()));
    }
    query
        .load(conn)?
        .into_iter()
        .map(ViewRow::into_view)
        .collect()
}

/// Changes a view; only its owner may, and others see no such view.
pub fn update(
    conn: &mut DbConnection,
    id: &str,
    viewer: &str,
    expected_version: Option<i64>,
    change: impl FnOnce(&mut ViewFields) -> Result<(), StoreError>,
) -> Result<View, StoreError> {
    let mut row = owned(conn, id, viewer)?;
    let version = row.version;
    if expected_version.is_some_and(|v| v != version) {
        return Err(StoreError::VersionMismatch { current: version });
    }
    let mut fields = row.clone().into_view()?.fields;
    change(&mut fields)?;
    check(conn, &fields)?;
    row.set(&fields);
    row.version += 1;
    row.updated_at = now();
    let written = diesel::update(
        saved_views::table
            .find(id)
            .filter(saved_views::version.eq(version)),
    )
    .set(&row)
    .execute(conn)?;
    if written == 0 {
        return Err(StoreError::VersionMismatch {
            current: version + 1,
        });
    }
    row.into_view()
}

pub fn delete(
    conn: &mut DbConnection,
    id: &str,
    viewer: &str,
    expected_version: Option<i64>,
) -> Result<(), StoreError> {
    let row = owned(conn, id, viewer)?;
    if expected_version.is_some_and(|v| v != row.version) {
        return Err(StoreError::VersionMismatch {
            current: row.version,
        });
    }
    diesel::delete(
        saved_views::table
            .find(id)
            .filter(saved_views::version.eq(row.version)),
    )
    .execute(conn)?;
    Ok(())
}

/// Locks the view and reads it for its owner; a concurrent change or delete waits, and then
/// sees what the first one left.
fn owned(conn: &mut DbConnection, id: &str, viewer: &str) -> Result<ViewRow, StoreError> {
    records::lock(conn, Record::View, id)?;
    let row: ViewRow = saved_views::table
        .find(id)
        .select(ViewRow::as_select())
        .first(conn)?;
    if row.owner_id != viewer {
        return Err(StoreError::NotFound);
    }
    Ok(row)
}
