//! Custom field definitions, and what a change to one does to the records holding its values.
//!
//! A record's write reads its object's definitions `FOR SHARE` (on PostgreSQL) before it locks
//! the record, and a change of definition updates the definition's row before it converts
//! values: so a write validated against the old type either commits before the conversion reads
//! the records, or waits and validates against the new type. Both take the definition first and
//! the records second, so neither waits for the other in a circle.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use chrono::NaiveDateTime;
use crm_domain::platform::custom_fields::{
    check_key, CustomField, CustomFieldType, CustomObject, FieldOption, MAX_FIELDS,
};
use crm_domain::platform::filter::FieldValue;
use crm_domain::Violation;
use diesel::prelude::*;
use diesel::sql_types;
use serde_json::{Map, Value};

use crate::platform::db::{natively, read_transaction, DbConnection};
use crate::platform::query::{custom_path_value, Dialect};
use crate::platform::schema::{field_definition_stamps, field_definitions};
use crate::platform::stored::{stored, stored_json, to_json};
use crate::{now, StoreError};

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = field_definitions, treat_none_as_null = true)]
struct DefinitionRow {
    object: String,
    key: String,
    label: String,
    field_type: String,
    scale: Option<i64>,
    options: String,
    required: bool,
    is_unique: bool,
    default_value: Option<String>,
    indexed: bool,
    portal_visible: bool,
    archived_at: Option<NaiveDateTime>,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

/// A definition as stored, with its version.
#[derive(Debug, Clone)]
pub struct Definition {
    pub object: CustomObject,
    pub field: CustomField,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl DefinitionRow {
    fn new(object: CustomObject, field: &CustomField, at: NaiveDateTime) -> Self {
        let mut row = DefinitionRow {
            object: object.as_str().to_owned(),
            key: field.key.clone(),
            label: String::new(),
            field_type: String::new(),
            scale: None,
            options: String::new(),
            required: false,
            is_unique: false,
            default_value: None,
            indexed: false,
            portal_visible: false,
            archived_at: None,
            version: 1,
            created_at: at,
            updated_at: at,
        };
        row.set(field);
        row
    }

    fn set(&mut self, field: &CustomField) {
        self.label = field.label.trim().to_owned();
        self.field_type = field.field_type.as_str().to_owned();
        self.scale = field.scale.map(i64::from);
        self.options = to_json(&field.options);
        self.required = field.required;
        self.is_unique = field.unique;
        self.default_value = field.default.as_ref().map(Value::to_string);
        self.indexed = field.indexed;
        self.portal_visible = field.portal_visible;
    }

    fn field(&self) -> Result<CustomField, StoreError> {
        Ok(CustomField {
            key: self.key.clone(),
            label: self.label.clone(),
            field_type: stored("field_definitions", "field_type", &self.field_type)?,
            scale: self.scale.and_then(|s| u32::try_from(s).ok()),
            options: stored_json::<Vec<FieldOption>>(
                "field_definitions",
                "options",
                &self.options,
            )?,
            required: self.required,
            unique: self.is_unique,
            default: self
                .default_value
                .as_deref()
                .map(|d| stored_json("field_definitions", "default_value", d))
                .transpose()?,
            indexed: self.indexed,
            portal_visible: self.portal_visible,
            archived: self.archived_at.is_some(),
        })
    }

    fn into_definition(self) -> Result<Definition, StoreError> {
        Ok(Definition {
            object: stored("field_definitions", "object", &self.object)?,
            field: self.field()?,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// The table holding an object's records.
pub fn table_of(object: CustomObject) -> &'static str {
    match object {
        CustomObject::Contacts => "contacts",
        CustomObject::Companies => "companies",
        CustomObject::Leads => "leads",
        CustomObject::Opportunities => "opportunities",
        CustomObject::Orders => "orders",
    }
}

/// Every definition of `object`, archived ones included, oldest first.
pub fn list(conn: &mut DbConnection, object: CustomObject) -> Result<Vec<Definition>, StoreError> {
    let rows: Vec<DefinitionRow> = natively!(conn, |native| field_definitions::table
        .filter(field_definitions::object.eq(object.as_str()))
        .order((
            field_definitions::created_at.asc(),
            field_definitions::key.asc(),
        ))
        .select(DefinitionRow::as_select())
        .load(native))?;
    rows.into_iter()
        .map(DefinitionRow::into_definition)
        .collect()
}

/// The fields of `object`, to read records with.
pub fn fields(
    conn: &mut DbConnection,
    object: CustomObject,
) -> Result<Vec<CustomField>, StoreError> {
    Ok(list(conn, object)?.into_iter().map(|d| d.field).collect())
}

/// The select expression of an object's definitions stamp, for [`FieldCache::at`].
macro_rules! fields_stamp {
    ($object:literal) => {
        concat!(
            "(SELECT s.stamp FROM field_definition_stamps s WHERE s.object = '",
            $object,
            "')"
        )
    };
}
pub(crate) use fields_stamp;

/// The field definitions of each object as this process last read them, with the stamp they
/// were read at. Every change to an object's definitions gives it a new random stamp
/// (`field_definition_stamps`, kept by triggers), so a read that selects the stamp in the same
/// statement as its record knows whether the definitions held here are the ones that record
/// was written under. It keeps a read by id to one statement, with no transaction.
#[derive(Default)]
pub struct FieldCache(RwLock<HashMap<CustomObject, Held>>);

/// An object's definitions and the stamp they were read at.
type Held = (i64, Arc<Vec<CustomField>>);

impl FieldCache {
    /// The definitions of `object` held here, if they were read at `stamp`.
    fn at(&self, object: CustomObject, stamp: Option<i64>) -> Option<Arc<Vec<CustomField>>> {
        let sets = self.0.read().unwrap_or_else(PoisonError::into_inner);
        match (sets.get(&object), stamp) {
            (Some((held, fields)), Some(stamp)) if *held == stamp => Some(fields.clone()),
            _ => None,
        }
    }

    /// Reads the definitions of `object` and keeps them. The stamp is read first: if a change
    /// commits between the two statements, the definitions are newer than their stamp, and the
    /// next read, seeing the change's stamp, reads them again; never the other way round.
    fn read(
        &self,
        conn: &mut DbConnection,
        object: CustomObject,
    ) -> Result<Arc<Vec<CustomField>>, StoreError> {
        let stamp: Option<i64> = natively!(conn, |native| field_definition_stamps::table
            .find(object.as_str())
            .select(field_definition_stamps::stamp)
            .first(native)
            .optional())?;
        let fields = Arc::new(fields(conn, object)?);
        if let Some(stamp) = stamp {
            self.0
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(object, (stamp, fields.clone()));
        }
        Ok(fields)
    }

    /// A record of `object` built with its definitions. `read` reads the record in one
    /// statement that also selects the object's stamp ([`fields_stamp!`]): while the
    /// definitions held here are that stamp's, that statement is the whole read, with no
    /// transaction; else the definitions and the record are read again in one transaction.
    pub fn read_record<R, T>(
        &self,
        conn: &mut DbConnection,
        object: CustomObject,
        read: impl Fn(&mut DbConnection) -> Result<(R, Option<i64>), StoreError>,
        build: impl Fn(R, &[CustomField]) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let (row, stamp) = read(conn)?;
        if let Some(fields) = self.at(object, stamp) {
            return build(row, &fields);
        }
        read_transaction(conn, |conn| {
            let fields = self.read(conn, object)?;
            build(read(conn)?.0, &fields)
        })
    }
}

/// The fields of several objects in one query, for a read that shows records of each.
pub fn fields_of(
    conn: &mut DbConnection,
    objects: &[CustomObject],
) -> Result<std::collections::HashMap<CustomObject, Vec<CustomField>>, StoreError> {
    let names: Vec<&str> = objects.iter().map(|o| o.as_str()).collect();
    let rows: Vec<DefinitionRow> = natively!(conn, |native| field_definitions::table
        .filter(field_definitions::object.eq_any(&names))
        .order((
            field_definitions::created_at.asc(),
            field_definitions::key.asc(),
        ))
        .select(DefinitionRow::as_select())
        .load(native))?;
    let mut sets: std::collections::HashMap<CustomObject, Vec<CustomField>> =
        objects.iter().map(|o| (*o, Vec::new())).collect();
    for row in rows {
        let object: CustomObject = stored("field_definitions", "object", &row.object)?;
        sets.entry(object).or_default().push(row.field()?);
    }
    Ok(sets)
}

/// The fields of `object`, to write a record with: on PostgreSQL the definitions stay as read
/// until the write commits. Written with the query builder, so that each connection prepares
/// the statement once (as SQL text it was parsed and planned on every write).
pub fn fields_for_write(
    conn: &mut DbConnection,
    object: CustomObject,
) -> Result<Vec<CustomField>, StoreError> {
    let DbConnection::Postgres(native) = conn else {
        return fields(conn, object);
    };
    let rows: Vec<DefinitionRow> = field_definitions::table
        .filter(field_definitions::object.eq(object.as_str()))
        .order((
            field_definitions::created_at.asc(),
            field_definitions::key.asc(),
        ))
        .select(DefinitionRow::as_select())
        .for_share()
        .load(native)?;
    rows.iter().map(DefinitionRow::field).collect()
}

pub fn get(
    conn: &mut DbConnection,
    object: CustomObject,
    key: &str,
) -> Result<Definition, StoreError> {
    field_definitions::table
        .find((object.as_str(), key))
        .select(DefinitionRow::as_select())
        .first(conn)?
        .into_definition()
}

/// Adds a field to `object`; `built_in` names the object's own fields, which keys may not take.
pub fn create(
    conn: &mut DbConnection,
    object: CustomObject,
    field: CustomField,
    built_in: &[&str],
) -> Result<Definition, StoreError> {
    check_key(&field.key, built_in)?;
    field.check()?;
    // Held until the transaction ends, so that two nodes adding fields at once count each
    // other's: the cap holds under concurrency.
    crate::platform::db::lock_key(conn, &format!("field-definitions:{object}"))?;
    let existing = list(conn, object)?;
    if existing.iter().any(|d| d.field.key == field.key) {
        return Err(StoreError::Conflict {
            message: format!("{} already has a field `{}`", object, field.key),
            existing_id: Some(field.key),
        });
    }
    if existing.len() >= MAX_FIELDS {
        return Err(Violation::new(
            "key",
            format!("{object} has {MAX_FIELDS} fields, the most it may have"),
        )
        .into());
    }
    let row = DefinitionRow::new(object, &field, now());
    diesel::insert_into(field_definitions::table)
        .values(&row)
        .execute(conn)
        .map_err(|error| {
            if StoreError::is_unique_violation(&error) {
                StoreError::Conflict {
                    message: format!("{} already has a field `{}`", object, field.key),
                    existing_id: Some(field.key.clone()),
                }
            } else {
                error.into()
            }
        })?;
    index(conn, object, &field)?;
    row.into_definition()
}

/// Changes a live field. A new type, scale or set of options converts every stored value in
/// this transaction, or is a conflict naming a record whose value cannot convert.
pub fn update(
    conn: &mut DbConnection,
    object: CustomObject,
    key: &str,
    expected_version: Option<i64>,
    change: impl FnOnce(&mut CustomField) -> Result<(), StoreError>,
) -> Result<Definition, StoreError> {
    lock_definition(conn, object, key)?;
    let mut row: DefinitionRow = field_definitions::table
        .find((object.as_str(), key))
        .select(DefinitionRow::as_select())
        .first(conn)?;
    let before = row.field()?;
    if before.archived {
        return Err(StoreError::Conflict {
            message: format!("field `{key}` is archived"),
            existing_id: None,
        });
    }
    let mut after = before.clone();
    change(&mut after)?;
    after.key = before.key.clone();
    after.check()?;
    let version = row.version;
    if expected_version.is_some_and(|expected| expected != version) {
        return Err(StoreError::VersionMismatch { current: version });
    }
    row.set(&after);
    row.version += 1;
    row.updated_at = now();
    // The condition on the version read makes a concurrent change of the same definition a
    // mismatch instead of a lost update; the row lock it takes holds writers of records.
    let written = diesel::update(
        field_definitions::table
            .find((object.as_str(), key))
            .filter(field_definitions::version.eq(version)),
    )
    .set(&row)
    .execute(conn)?;
    if written == 0 {
        return Err(StoreError::VersionMismatch {
            current: version + 1,
        });
    }
    if before.field_type != after.field_type
        || before.scale != after.scale
        || before.options != after.options
    {
        convert(conn, object, &before, &after)?;
    }
    if before.indexed != after.indexed
        || before.unique != after.unique
        || before.field_type != after.field_type
    {
        drop_indexes(conn, object, &before)?;
        index(conn, object, &after)?;
    }
    row.into_definition()
}

/// Makes changes of one definition take turns, so that each reads what the last one wrote.
fn lock_definition(
    conn: &mut DbConnection,
    object: CustomObject,
    key: &str,
) -> Result<(), StoreError> {
    crate::platform::db::lock_key(conn, &format!("field-definition:{object}:{key}"))
}

/// Archives a field: its values stop showing and writes of it are refused, at once on every
/// node, since each request reads the definitions.
pub fn archive(conn: &mut DbConnection, object: CustomObject, key: &str) -> Result<(), StoreError> {
    lock_definition(conn, object, key)?;
    let definition = get(conn, object, key)?;
    if definition.field.archived {
        return Ok(());
    }
    let at = now();
    diesel::update(field_definitions::table.find((object.as_str(), key)))
        .set((
            field_definitions::archived_at.eq(Some(at)),
            field_definitions::updated_at.eq(at),
            field_definitions::version.eq(definition.version + 1),
        ))
        .execute(conn)?;
    drop_indexes(conn, object, &definition.field)
}

#[derive(QueryableByName)]
struct StoredValues {
    #[diesel(sql_type = sql_types::Text)]
    id: String,
    #[diesel(sql_type = sql_types::Text)]
    custom_fields: String,
}

fn convert(
    conn: &mut DbConnection,
    object: CustomObject,
    before: &CustomField,
    after: &CustomField,
) -> Result<(), StoreError> {
    let table = table_of(object);
    let dialect = Dialect::of(conn);
    let holding = match dialect {
        Dialect::Postgres => format!(
            "SELECT id, CAST(custom_fields AS TEXT) AS custom_fields FROM {table} \
             WHERE custom_fields ? '{}' FOR UPDATE",
            before.key
        ),
        Dialect::Sqlite => format!(
            "SELECT id, custom_fields FROM {table} \
             WHERE json_type(custom_fields, '$.{}') IS NOT NULL",
            before.key
        ),
    };
    let rows: Vec<StoredValues> = diesel::sql_query(holding).load(conn)?;
    let at = now();
    for row in rows {
        let mut values: Map<String, Value> =
            stored_json(table, "custom_fields", &row.custom_fields)?;
        let Some(value) = values.get(&before.key) else {
            continue;
        };
        let converted = before
            .convert(value, after)
            .ok_or_else(|| StoreError::Conflict {
                message: format!(
                    "the value {value} of `{}` on {table} record {} cannot become a {}{}",
                    before.key,
                    row.id,
                    after.field_type,
                    if after.field_type == CustomFieldType::Enum
                        || after.field_type == CustomFieldType::MultiEnum
                    {
                        " of these options"
                    } else {
                        ""
                    }
                ),
                existing_id: Some(row.id.clone()),
            })?;
        values.insert(before.key.clone(), converted);
        let statement = match dialect {
            Dialect::Postgres => format!(
                "UPDATE {table} SET custom_fields = CAST($1 AS jsonb), version = version + 1, \
                 updated_at = $2 WHERE id = $3"
            ),
            Dialect::Sqlite => format!(
                "UPDATE {table} SET custom_fields = ?, version = version + 1, updated_at = ? \
                 WHERE id = ?"
            ),
        };
        diesel::sql_query(statement)
            .bind::<sql_types::Text, _>(Value::Object(values).to_string())
            .bind::<sql_types::Timestamp, _>(at)
            .bind::<sql_types::Text, _>(&row.id)
            .execute(conn)?;
    }
    Ok(())
}

/// The name of a field's index: a digest, since object and key together may pass the 63
/// characters PostgreSQL allows.
fn index_name(object: CustomObject, key: &str, unique: bool) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{object}:{key}:{unique}"));
    format!(
        "custom_{}_{}",
        if unique { "unique" } else { "index" },
        hex::encode(&digest[..8])
    )
}

fn index(
    conn: &mut DbConnection,
    object: CustomObject,
    field: &CustomField,
) -> Result<(), StoreError> {
    let table = table_of(object);
    let expression = match Dialect::of(conn) {
        Dialect::Postgres => format!("(custom_fields ->> '{}')", field.key),
        Dialect::Sqlite => format!("json_extract(custom_fields, '$.{}')", field.key),
    };
    if field.indexed && !field.unique {
        diesel::sql_query(format!(
            "CREATE INDEX IF NOT EXISTS {} ON {table} (({expression}))",
            index_name(object, &field.key, false)
        ))
        .execute(conn)?;
    }
    if field.unique {
        diesel::sql_query(format!(
            "CREATE UNIQUE INDEX IF NOT EXISTS {} ON {table} (({expression}))",
            index_name(object, &field.key, true)
        ))
        .execute(conn)
        .map_err(|error| {
            if StoreError::is_unique_violation(&error) {
                StoreError::Conflict {
                    message: format!(
                        "`{}` cannot be unique: two {table} records hold the same value",
                        field.key
                    ),
                    existing_id: None,
                }
            } else {
                error.into()
            }
        })?;
    }
    Ok(())
}

fn drop_indexes(
    conn: &mut DbConnection,
    object: CustomObject,
    field: &CustomField,
) -> Result<(), StoreError> {
    for unique in [false, true] {
        diesel::sql_query(format!(
            "DROP INDEX IF EXISTS {}",
            index_name(object, &field.key, unique)
        ))
        .execute(conn)?;
    }
    Ok(())
}

/// Refuses values of unique fields that another record of `object` holds.
pub fn check_unique(
    conn: &mut DbConnection,
    object: CustomObject,
    fields: &[CustomField],
    values: &Map<String, Value>,
    own_id: &str,
) -> Result<(), StoreError> {
    let table = table_of(object);
    let dialect = Dialect::of(conn);
    for field in fields.iter().filter(|f| f.unique && !f.archived) {
        let Some(value) = values.get(&field.key) else {
            continue;
        };
        let text = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let sql = match dialect {
            Dialect::Postgres => format!(
                "SELECT id FROM {table} WHERE (custom_fields ->> '{}') = $1 AND id <> $2 LIMIT 1",
                field.key
            ),
            Dialect::Sqlite => format!(
                "SELECT id FROM {table} WHERE CAST(json_extract(custom_fields, '$.{}') AS TEXT) = ? AND id <> ? LIMIT 1",
                field.key
            ),
        };
        #[derive(QueryableByName)]
        struct Holder {
            #[diesel(sql_type = sql_types::Text)]
            id: String,
        }
        let holder: Option<Holder> = diesel::sql_query(sql)
            .bind::<sql_types::Text, _>(&text)
            .bind::<sql_types::Text, _>(own_id)
            .get_result(conn)
            .optional()?;
        if let Some(holder) = holder {
            return Err(unique_conflict(&field.key, Some(holder.id)));
        }
    }
    Ok(())
}

/// The conflict of a unique custom value already held, also when only the index saw it.
pub fn unique_conflict(key: &str, existing_id: Option<String>) -> StoreError {
    StoreError::Conflict {
        message: format!("another record holds this value of `custom_fields.{key}`"),
        existing_id,
    }
}

/// The conflict a failed write of a record of `object` stands for when the index it violated
/// is the unique index of one of `fields`: a concurrent write took the value after the check.
pub fn unique_index_conflict(
    object: CustomObject,
    fields: &[CustomField],
    error: &diesel::result::Error,
) -> Option<StoreError> {
    use diesel::result::{DatabaseErrorKind, Error};
    let Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) = error else {
        return None;
    };
    // PostgreSQL names the index; SQLite says `UNIQUE constraint failed: index '<name>'` for an
    // expression index.
    let index = info.constraint_name().map(str::to_owned).or_else(|| {
        let quoted = info.message().split("index '").nth(1)?;
        quoted.split('\'').next().map(str::to_owned)
    })?;
    fields
        .iter()
        .find(|f| f.unique && index_name(object, &f.key, true) == index)
        .map(|f| unique_conflict(&f.key, None))
}

/// Reads the stored values of a record.
pub fn stored_values(table: &'static str, text: &str) -> Result<Map<String, Value>, StoreError> {
    stored_json(table, "custom_fields", text)
}

/// The value at `path` (`custom.<key>` or `custom.<key>.amount_minor`) of the custom fields a
/// row of `table` stores as `text`; null where the path names no field or the row holds none.
pub fn stored_path_value(
    table: &'static str,
    text: &str,
    path: &str,
    defs: &[CustomField],
) -> FieldValue {
    stored_values(table, text)
        .ok()
        .and_then(|values| custom_path_value(path, defs, &values))
        .unwrap_or(FieldValue::Null)
}
