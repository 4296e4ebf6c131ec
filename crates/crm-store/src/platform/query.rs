//! The filter language in SQL: a checked [`Condition`], sort keys and a keyset position become
//! one SQL fragment with bound parameters, for PostgreSQL or SQLite.
//!
//! Paths come only from a [`Table`]'s columns and the object's custom fields, whose keys are
//! checked when created (`^[a-z][a-z0-9_]{0,62}$`), so that no text a client wrote reaches the
//! SQL except as a bound parameter. Each comparison is wrapped in `COALESCE(.., FALSE)`, so that
//! SQL's three-valued logic gives the language's two values: a comparison with null is false
//! and `not` turns it true.

use std::marker::PhantomData;

use chrono::{NaiveDate, NaiveDateTime};
use crm_domain::platform::custom_fields::{CustomField, CustomFieldType};
use crm_domain::platform::filter::{Condition, FieldSpec, FieldValue, Kind, Op, Scalar, SortKey};
use crm_domain::platform::text::like_contains;
use diesel::expression::{is_aggregate, AppearsOnTable, Expression, ValidGrouping};
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types;
use diesel::QueryResult;
use serde_json::Value;

use crate::platform::db::{DbConnection, MultiBackend};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Sqlite,
}

impl Dialect {
    pub fn of(conn: &DbConnection) -> Dialect {
        match conn {
            DbConnection::Postgres(_) => Dialect::Postgres,
            DbConnection::Sqlite(_) => Dialect::Sqlite,
        }
    }
}

/// What a built-in column holds, for the filter language.
#[derive(Clone, Copy)]
pub enum ColumnKind {
    Text,
    Choice(fn() -> Vec<String>),
    /// A JSON array of labels in a text column.
    Tags,
    Integer,
    /// A decimal stored as an integer scaled by 10^places.
    Decimal(u32),
    Boolean,
    Date,
    Instant,
}

impl ColumnKind {
    fn kind(self) -> Kind {
        match self {
            ColumnKind::Text => Kind::Text,
            ColumnKind::Choice(options) => Kind::Choice(options()),
            ColumnKind::Tags => Kind::Set(Vec::new()),
            ColumnKind::Integer => Kind::Integer,
            ColumnKind::Decimal(places) => Kind::Decimal(places),
            ColumnKind::Boolean => Kind::Boolean,
            ColumnKind::Date => Kind::Date,
            ColumnKind::Instant => Kind::Instant,
        }
    }
}

/// One built-in path of an object and the SQL that reads it.
pub struct Column {
    pub path: &'static str,
    pub sql: &'static str,
    pub kind: ColumnKind,
    pub nullable: bool,
    pub sortable: bool,
    /// Whether an index serves equality on it.
    pub indexed: bool,
    /// Whether a write must give it.
    pub required: bool,
}

impl Column {
    /// A filterable column that may be null, neither sorted on nor indexed nor required.
    pub const fn new(path: &'static str, sql: &'static str, kind: ColumnKind) -> Column {
        Column {
            path,
            sql,
            kind,
            nullable: true,
            sortable: false,
            indexed: false,
            required: false,
        }
    }

    /// The record's id.
    pub const ID: Column = Column::new("id", "id", ColumnKind::Text)
        .sortable()
        .indexed()
        .not_null();
    /// When the record was created.
    pub const CREATED_AT: Column = Column::new("created_at", "created_at", ColumnKind::Instant)
        .sortable()
        .indexed()
        .not_null();
    /// When it last changed.
    pub const UPDATED_AT: Column = Column::new("updated_at", "updated_at", ColumnKind::Instant)
        .sortable()
        .not_null();
    /// When it was archived; null while it is live.
    pub const ARCHIVED_AT: Column = Column::new("archived_at", "archived_at", ColumnKind::Instant);

    pub const fn sortable(self) -> Column {
        Column {
            sortable: true,
            ..self
        }
    }

    pub const fn indexed(self) -> Column {
        Column {
            indexed: true,
            ..self
        }
    }

    pub const fn not_null(self) -> Column {
        Column {
            nullable: false,
            ..self
        }
    }

    pub const fn required(self) -> Column {
        Column {
            required: true,
            ..self
        }
    }
}

/// The names of an enum's values, for a [`ColumnKind::Choice`].
pub fn choices<T>(all: &[T], name: impl Fn(&T) -> &'static str) -> Vec<String> {
    all.iter().map(|value| name(value).to_owned()).collect()
}

/// An object's filterable table: its built-in columns, and whether it has custom fields.
pub struct Table {
    pub object: &'static str,
    pub columns: &'static [Column],
    /// What `expand=` embeds: (name, the id field pointing at it, the object it is).
    pub relations: &'static [(&'static str, &'static str, &'static str)],
    /// Other objects whose built-in columns filters may name through a key of this one.
    pub joins: &'static [Join],
}

/// `company.tier` on a contact: the built-in columns of `table`, read through `key`, under
/// `prefix`. Filters only: a page's cursor holds values of the object's own columns.
pub struct Join {
    pub prefix: &'static str,
    pub key: &'static str,
    pub table: &'static Table,
}

/// Where a checked path reads from.
enum Target<'a> {
    Column(&'a Column),
    Joined(&'a Join, &'a Column),
    Custom {
        key: &'a str,
        field_type: CustomFieldType,
        /// `amount_minor` of a money field.
        amount: bool,
    },
}

impl Table {
    /// The filter language's view of `path`: a built-in column, or a live custom field.
    pub fn field(&self, path: &str, custom: &[CustomField]) -> Option<FieldSpec> {
        match self.target(path, custom)? {
            Target::Column(column) => Some(FieldSpec {
                path: column.path.to_owned(),
                kind: column.kind.kind(),
                sortable: column.sortable,
            }),
            Target::Joined(_, column) => Some(FieldSpec {
                path: path.to_owned(),
                kind: column.kind.kind(),
                sortable: false,
            }),
            Target::Custom { key, amount, .. } => {
                let field = custom.iter().find(|f| f.key == key)?;
                let kind = if amount { Kind::Integer } else { field.kind()? };
                let sortable = !matches!(kind, Kind::Set(_));
                Some(FieldSpec {
                    path: path.to_owned(),
                    kind,
                    sortable,
                })
            }
        }
    }

    fn target<'a>(&'a self, path: &str, custom: &'a [CustomField]) -> Option<Target<'a>> {
        if let Some(rest) = path.strip_prefix("custom.") {
            let (key, amount) = match rest.strip_suffix(".amount_minor") {
                Some(key) => (key, true),
                None => (rest, false),
            };
            let field = custom.iter().find(|f| f.key == key && !f.archived)?;
            if amount != (field.field_type == CustomFieldType::Money) {
                return None;
            }
            return Some(Target::Custom {
                key: &field.key,
                field_type: field.field_type,
                amount,
            });
        }
        if let Some((prefix, rest)) = path.split_once('.') {
            if let Some(join) = self.joins.iter().find(|j| j.prefix == prefix) {
                return join
                    .table
                    .columns
                    .iter()
                    .find(|c| c.path == rest)
                    .map(|column| Target::Joined(join, column));
            }
        }
        self.columns
            .iter()
            .find(|c| c.path == path)
            .map(Target::Column)
    }
}

/// A value bound as a parameter.
#[derive(Debug, Clone)]
pub enum Bind {
    Text(String),
    BigInt(i64),
    Bool(bool),
    Timestamp(NaiveDateTime),
    Date(NaiveDate),
}

#[derive(Debug, Clone)]
enum Piece {
    Sql(String),
    Bind(Bind),
}

/// Compiled SQL with its parameters, usable in a diesel query as a boolean condition or an
/// ordering.
#[derive(Debug, Clone)]
pub struct Fragment<ST> {
    pieces: Vec<Piece>,
    sql_type: PhantomData<ST>,
}

impl<ST> Fragment<ST> {
    fn new() -> Self {
        Fragment {
            pieces: Vec::new(),
            sql_type: PhantomData,
        }
    }

    fn sql(&mut self, sql: impl Into<String>) {
        self.pieces.push(Piece::Sql(sql.into()));
    }

    fn bind(&mut self, bind: Bind) {
        self.pieces.push(Piece::Bind(bind));
    }

    fn append<T>(&mut self, other: Fragment<T>) {
        self.pieces.extend(other.pieces);
    }

    fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }
}

impl<ST: sql_types::SqlType + diesel::expression::TypedExpressionType> Expression for Fragment<ST> {
    type SqlType = ST;
}

impl<ST, QS> AppearsOnTable<QS> for Fragment<ST> where Fragment<ST>: Expression {}

impl<ST, QS> diesel::expression::SelectableExpression<QS> for Fragment<ST> where
    Fragment<ST>: AppearsOnTable<QS>
{
}

impl<ST> ValidGrouping<()> for Fragment<ST> {
    type IsAggregate = is_aggregate::Never;
}

impl<ST> QueryId for Fragment<ST> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<ST> QueryFragment<MultiBackend> for Fragment<ST> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        out.unsafe_to_cache_prepared();
        for piece in &self.pieces {
            match piece {
                Piece::Sql(sql) => out.push_sql(sql),
                Piece::Bind(Bind::Text(v)) => out.push_bind_param::<sql_types::Text, _>(v)?,
                Piece::Bind(Bind::BigInt(v)) => out.push_bind_param::<sql_types::BigInt, _>(v)?,
                Piece::Bind(Bind::Bool(v)) => out.push_bind_param::<sql_types::Bool, _>(v)?,
                Piece::Bind(Bind::Timestamp(v)) => {
                    out.push_bind_param::<sql_types::Timestamp, _>(v)?
                }
                Piece::Bind(Bind::Date(v)) => out.push_bind_param::<sql_types::Date, _>(v)?,
            }
        }
        Ok(())
    }
}

/// SQL text fixed at compile time and named by a type, for a select expression or condition
/// that diesel's DSL cannot write. `dsl::sql` text may differ between runs of one query, so
/// diesel never caches a statement that holds it; this text cannot, so the statement stays
/// prepared. Being a type, it also gives the statement a static query id: diesel finds it in
/// its cache by that id, instead of writing the statement's SQL on every run to look it up
/// (7% of a contact read by id on SQLite, docs/benchmarks.md). Declared with [`sql_text!`].
pub trait SqlText: 'static {
    type SqlType;
    const POSTGRES: &'static str;
    const SQLITE: &'static str;
}

/// Declares a [`SqlText`]: `sql_text!(Name: SqlType = "text")`, or with a text per backend,
/// `sql_text!(Name: SqlType = "PostgreSQL text", "SQLite text")`.
macro_rules! sql_text {
    ($(#[$doc:meta])* $name:ident: $sql_type:ty = $sql:expr) => {
        $crate::platform::query::sql_text!($(#[$doc])* $name: $sql_type = $sql, $sql);
    };
    ($(#[$doc:meta])* $name:ident: $sql_type:ty = $postgres:expr, $sqlite:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name;

        impl $crate::platform::query::SqlText for $name {
            type SqlType = $sql_type;
            const POSTGRES: &'static str = $postgres;
            const SQLITE: &'static str = $sqlite;
        }
    };
}
pub(crate) use sql_text;

/// A [`SqlText`] as an expression.
#[derive(Debug, Clone, Copy)]
pub struct FixedSql<T>(PhantomData<T>);

impl<T> FixedSql<T> {
    pub const fn new() -> Self {
        FixedSql(PhantomData)
    }
}

impl<T> Default for FixedSql<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: SqlText> Expression for FixedSql<T>
where
    T::SqlType: sql_types::SqlType + diesel::expression::TypedExpressionType,
{
    type SqlType = T::SqlType;
}

impl<T, QS> AppearsOnTable<QS> for FixedSql<T> where FixedSql<T>: Expression {}

impl<T, QS> diesel::expression::SelectableExpression<QS> for FixedSql<T> where
    FixedSql<T>: AppearsOnTable<QS>
{
}

impl<T, GroupBy> ValidGrouping<GroupBy> for FixedSql<T> {
    type IsAggregate = is_aggregate::Never;
}

impl<T: SqlText> QueryId for FixedSql<T> {
    type QueryId = Self;
    const HAS_STATIC_QUERY_ID: bool = true;
}

/// Which text of a [`SqlText`] a backend reads.
pub trait TextOf {
    fn text_of<T: SqlText>(&self) -> &'static str;
}

impl TextOf for diesel::pg::Pg {
    fn text_of<T: SqlText>(&self) -> &'static str {
        T::POSTGRES
    }
}

impl TextOf for diesel::sqlite::Sqlite {
    fn text_of<T: SqlText>(&self) -> &'static str {
        T::SQLITE
    }
}

impl TextOf for MultiBackend {
    fn text_of<T: SqlText>(&self) -> &'static str {
        match self {
            MultiBackend::Postgres(_) => T::POSTGRES,
            MultiBackend::Sqlite(_) => T::SQLITE,
        }
    }
}

impl<T: SqlText, DB: diesel::backend::Backend + TextOf> QueryFragment<DB> for FixedSql<T> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        let text = out.backend().text_of::<T>();
        out.push_sql(text);
        Ok(())
    }
}

/// Compiles what lists need of the filter language against one table.
pub struct Compiler<'a> {
    pub dialect: Dialect,
    pub table: &'a Table,
    pub custom: &'a [CustomField],
}

impl Compiler<'_> {
    /// `condition` as a SQL boolean.
    pub fn condition(&self, condition: &Condition) -> Fragment<sql_types::Bool> {
        let mut out = Fragment::new();
        self.write(condition, &mut out);
        out
    }

    fn write(&self, condition: &Condition, out: &mut Fragment<sql_types::Bool>) {
        match condition {
            Condition::All(items) | Condition::Any(items) => {
                let joiner = if matches!(condition, Condition::All(_)) {
                    " AND "
                } else {
                    " OR "
                };
                out.sql("(");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.sql(joiner);
                    }
                    self.write(item, out);
                }
                out.sql(")");
            }
            Condition::Not(inner) => {
                out.sql("(NOT ");
                self.write(inner, out);
                out.sql(")");
            }
            Condition::IsNull(field) => self.is_null(field, out),
            Condition::Compare { field, op, values } => {
                out.sql("COALESCE((");
                self.compare(field, *op, values, out);
                out.sql("), FALSE)");
            }
        }
    }

    fn target(&self, field: &FieldSpec) -> Option<Target<'_>> {
        self.table.target(&field.path, self.custom)
    }

    /// The SQL reading a path's value, typed for comparisons and ordering.
    fn read(&self, target: &Target<'_>, for_order: bool) -> String {
        match target {
            Target::Column(column) => column.sql.to_owned(),
            Target::Joined(join, column) => format!(
                "(SELECT {sql} FROM {joined} WHERE {joined}.id = {object}.{key})",
                sql = column.sql,
                joined = join.table.object,
                object = self.table.object,
                key = join.key,
            ),
            Target::Custom {
                key,
                field_type,
                amount,
            } => {
                let numeric = *amount
                    || matches!(
                        field_type,
                        CustomFieldType::Number
                            | CustomFieldType::Decimal
                            | CustomFieldType::Datetime
                    );
                match self.dialect {
                    Dialect::Sqlite => {
                        let json_path = if *amount {
                            format!("$.{key}.amount_minor")
                        } else {
                            format!("$.{key}")
                        };
                        format!("json_extract(custom_fields, '{json_path}')")
                    }
                    Dialect::Postgres => {
                        let text = if *amount {
                            format!("(custom_fields #>> '{{{key},amount_minor}}')")
                        } else {
                            format!("(custom_fields ->> '{key}')")
                        };
                        if numeric {
                            format!("CAST({text} AS bigint)")
                        } else if *field_type == CustomFieldType::Boolean {
                            format!("CAST({text} AS boolean)")
                        } else if for_order {
                            // Byte order, as SQLite compares text.
                            format!("({text} COLLATE \"C\")")
                        } else {
                            text
                        }
                    }
                }
            }
        }
    }

    fn bind(&self, target: &Target<'_>, value: &Scalar) -> Bind {
        let custom = matches!(target, Target::Custom { .. });
        match value {
            Scalar::Text(v) => Bind::Text(v.clone()),
            Scalar::Integer(v) => Bind::BigInt(*v),
            Scalar::Boolean(v) => Bind::Bool(*v),
            Scalar::Date(d) if custom => Bind::Text(d.to_string()),
            Scalar::Date(d) => Bind::Date(*d),
            Scalar::Instant(t) if custom => Bind::BigInt(t.and_utc().timestamp_micros()),
            Scalar::Instant(t) => Bind::Timestamp(*t),
        }
    }

    fn is_null(&self, field: &FieldSpec, out: &mut Fragment<sql_types::Bool>) {
        match self.target(field) {
            Some(target @ (Target::Column(column) | Target::Joined(_, column))) => {
                let read = self.read(&target, false);
                if matches!(column.kind, ColumnKind::Tags) {
                    out.sql(format!("(COALESCE({read}, '[]') = '[]')"));
                } else {
                    out.sql(format!("({read} IS NULL)"));
                }
            }
            Some(Target::Custom { key, .. }) => match self.dialect {
                Dialect::Postgres => out.sql(format!("((custom_fields -> '{key}') IS NULL)")),
                Dialect::Sqlite => {
                    out.sql(format!("(json_extract(custom_fields, '$.{key}') IS NULL)"))
                }
            },
            None => out.sql("FALSE"),
        }
    }

    fn compare(
        &self,
        field: &FieldSpec,
        op: Op,
        values: &[Scalar],
        out: &mut Fragment<sql_types::Bool>,
    ) {
        let Some(target) = self.target(field) else {
            out.sql("FALSE");
            return;
        };
        if let Kind::Set(_) = field.kind {
            return self.has_any(&target, values, out);
        }
        let read = self.read(&target, false);
        let first = values.first();
        match (op, first) {
            (Op::In, _) => {
                if values.is_empty() {
                    out.sql("FALSE");
                    return;
                }
                out.sql(format!("{read} IN ("));
                for (i, value) in values.iter().enumerate() {
                    if i > 0 {
                        out.sql(", ");
                    }
                    out.bind(self.bind(&target, value));
                }
                out.sql(")");
            }
            (Op::Contains | Op::StartsWith, Some(Scalar::Text(needle))) => {
                let pattern = if op == Op::Contains {
                    like_contains(needle)
                } else {
                    let mut pattern = like_contains(needle);
                    pattern.remove(0);
                    pattern
                };
                let like = match self.dialect {
                    Dialect::Postgres => "ILIKE",
                    Dialect::Sqlite => "LIKE",
                };
                out.sql(format!("{read} {like} "));
                out.bind(Bind::Text(pattern));
                out.sql(" ESCAPE '\\'");
            }
            (Op::Eq, Some(value))
                if self.dialect == Dialect::Postgres
                    && matches!(target, Target::Custom { amount: false, .. }) =>
            {
                // Containment, which the GIN (jsonb_path_ops) index serves.
                if let Target::Custom { key, .. } = target {
                    let mut object = serde_json::Map::new();
                    object.insert(key.to_owned(), json_of(&target, value));
                    out.sql("custom_fields @> CAST(");
                    out.bind(Bind::Text(Value::Object(object).to_string()));
                    out.sql(" AS jsonb)");
                }
            }
            (op, Some(value)) => {
                let symbol = match op {
                    Op::Eq => "=",
                    Op::Neq => "<>",
                    Op::Lt => "<",
                    Op::Lte => "<=",
                    Op::Gt => ">",
                    Op::Gte => ">=",
                    _ => {
                        out.sql("FALSE");
                        return;
                    }
                };
                out.sql(format!("{read} {symbol} "));
                out.bind(self.bind(&target, value));
            }
            (_, None) => out.sql("FALSE"),
        }
    }

    /// Whether a set (tags, multi-enum) holds any of `values`.
    fn has_any(&self, target: &Target<'_>, values: &[Scalar], out: &mut Fragment<sql_types::Bool>) {
        out.sql("(FALSE");
        for value in values {
            let Scalar::Text(item) = value else {
                continue;
            };
            out.sql(" OR ");
            match (target, self.dialect) {
                (Target::Column(_) | Target::Joined(..), _) => {
                    out.sql(format!("{} LIKE ", self.read(target, false)));
                    out.bind(Bind::Text(like_contains(
                        &Value::from(item.as_str()).to_string(),
                    )));
                    out.sql(" ESCAPE '\\'");
                }
                (Target::Custom { key, .. }, Dialect::Postgres) => {
                    out.sql("custom_fields @> CAST(");
                    out.bind(Bind::Text(serde_json::json!({ *key: [item] }).to_string()));
                    out.sql(" AS jsonb)");
                }
                (Target::Custom { key, .. }, Dialect::Sqlite) => {
                    out.sql(format!(
                        "EXISTS (SELECT 1 FROM json_each(custom_fields, '$.{key}') WHERE value = "
                    ));
                    out.bind(Bind::Text(item.clone()));
                    out.sql(")");
                }
            }
        }
        out.sql(")");
    }

    fn nullable(&self, target: &Target<'_>) -> bool {
        match target {
            Target::Column(column) => column.nullable,
            Target::Joined(..) | Target::Custom { .. } => true,
        }
    }

    /// `ORDER BY` for `sort` then the id (in the first key's direction, so that a single
    /// time key walks its `(key, id)` index), nulls last.
    pub fn order(&self, sort: &[SortKey], id: &str) -> Fragment<sql_types::Text> {
        let mut out = Fragment::new();
        for key in sort {
            let Some(target) = self.target(&key.field) else {
                continue;
            };
            let direction = if key.descending { "DESC" } else { "ASC" };
            let nulls = if self.nullable(&target) {
                " NULLS LAST"
            } else {
                ""
            };
            out.sql(format!("{} {direction}{nulls}, ", self.read(&target, true)));
        }
        out.sql(format!("{id} {}", id_direction(sort)));
        out
    }

    /// Rows strictly after the row with `values` (its sort keys) and `id`, in [`order`]'s
    /// order.
    pub fn after(
        &self,
        sort: &[SortKey],
        values: &[FieldValue],
        id: &str,
        id_column: &str,
    ) -> Fragment<sql_types::Bool> {
        let mut out = Fragment::new();
        let mut equal_so_far: Fragment<sql_types::Bool> = Fragment::new();
        out.sql("(FALSE");
        for (key, value) in sort.iter().zip(values) {
            let Some(target) = self.target(&key.field) else {
                continue;
            };
            let read = self.read(&target, true);
            if let FieldValue::One(value) = value {
                let symbol = if key.descending { "<" } else { ">" };
                out.sql(" OR (");
                if !equal_so_far.is_empty() {
                    out.append(equal_so_far.clone());
                    out.sql(" AND ");
                }
                out.sql(format!("({read} {symbol} "));
                out.bind(self.bind(&target, value));
                if self.nullable(&target) {
                    out.sql(format!(" OR {read} IS NULL"));
                }
                out.sql("))");
                if !equal_so_far.is_empty() {
                    equal_so_far.sql(" AND ");
                }
                equal_so_far.sql(format!("{read} = "));
                equal_so_far.bind(self.bind(&target, value));
            } else {
                if !equal_so_far.is_empty() {
                    equal_so_far.sql(" AND ");
                }
                equal_so_far.sql(format!("{read} IS NULL"));
            }
        }
        let symbol = if id_direction(sort) == "DESC" {
            "<"
        } else {
            ">"
        };
        out.sql(" OR (");
        if !equal_so_far.is_empty() {
            out.append(equal_so_far);
            out.sql(" AND ");
        }
        out.sql(format!("{id_column} {symbol} "));
        out.bind(Bind::Text(id.to_owned()));
        out.sql("))");
        out
    }
}

fn id_direction(sort: &[SortKey]) -> &'static str {
    if sort.first().is_some_and(|k| k.descending) {
        "DESC"
    } else {
        "ASC"
    }
}

/// A canonical value as stored in `custom_fields`.
fn json_of(target: &Target<'_>, value: &Scalar) -> Value {
    match value {
        Scalar::Text(v) => Value::from(v.as_str()),
        Scalar::Integer(v) => Value::from(*v),
        Scalar::Boolean(v) => Value::from(*v),
        Scalar::Date(d) => Value::from(d.to_string()),
        Scalar::Instant(t) => match target {
            Target::Custom { .. } => Value::from(t.and_utc().timestamp_micros()),
            Target::Column(_) | Target::Joined(..) => Value::from(t.to_string()),
        },
    }
}

/// What a record's stored custom value is to the filter language.
pub fn custom_value(field: &CustomField, stored: Option<&Value>, amount: bool) -> FieldValue {
    let Some(stored) = stored else {
        return FieldValue::Null;
    };
    let stored = if amount {
        match stored.get("amount_minor") {
            Some(v) => v,
            None => return FieldValue::Null,
        }
    } else {
        stored
    };
    let scalar = match (field.field_type, stored) {
        (CustomFieldType::MultiEnum, Value::Array(items)) => {
            return FieldValue::Many(
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|s| Scalar::Text(s.to_owned()))
                    .collect(),
            )
        }
        (CustomFieldType::Date, Value::String(s)) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(Scalar::Date)
            .ok(),
        (CustomFieldType::Datetime, Value::Number(n)) => n
            .as_i64()
            .and_then(chrono::DateTime::from_timestamp_micros)
            .map(|t| Scalar::Instant(t.naive_utc())),
        (_, Value::String(s)) => Some(Scalar::Text(s.clone())),
        (_, Value::Number(n)) => n.as_i64().map(Scalar::Integer),
        (_, Value::Bool(b)) => Some(Scalar::Boolean(*b)),
        _ => None,
    };
    scalar.map_or(FieldValue::Null, FieldValue::One)
}

/// Reads a custom path (`custom.segment`, `custom.price.amount_minor`) of a record's stored
/// custom values.
pub fn custom_path_value(
    path: &str,
    custom: &[CustomField],
    stored: &serde_json::Map<String, Value>,
) -> Option<FieldValue> {
    let rest = path.strip_prefix("custom.")?;
    let (key, amount) = match rest.strip_suffix(".amount_minor") {
        Some(key) => (key, true),
        None => (rest, false),
    };
    let field = custom.iter().find(|f| f.key == key)?;
    Some(custom_value(field, stored.get(key), amount))
}

/// A JSON document to store in a `custom_fields` column: `jsonb` on PostgreSQL, text on SQLite.
pub fn json_text(dialect: Dialect, json: String) -> Fragment<sql_types::Text> {
    let mut out = Fragment::new();
    match dialect {
        Dialect::Postgres => {
            out.sql("CAST(");
            out.bind(Bind::Text(json));
            out.sql(" AS jsonb)");
        }
        Dialect::Sqlite => out.bind(Bind::Text(json)),
    }
    out
}

/// A page of a list in the filter language: the filter as parsed (checked here, against the
/// object's fields as they are now), the sort, and where the previous page ended.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub filter: Option<crm_domain::platform::filter::Expr>,
    /// `custom.segment,-created_at`.
    pub sort: String,
    pub after: Option<Position>,
    pub limit: i64,
    /// What relative dates in the filter (`-180d`) count from: the service clock's now.
    pub now: NaiveDateTime,
}

/// Where a page ended: its last row's sort keys and id.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Position {
    pub keys: Vec<Option<Scalar>>,
    pub id: String,
}

/// One page; `next` is set when more rows follow.
#[derive(Debug, Clone)]
pub struct Listed<T> {
    pub items: Vec<T>,
    pub next: Option<Position>,
}

impl<T> Listed<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Listed<U> {
        Listed {
            items: self.items.into_iter().map(f).collect(),
            next: self.next,
        }
    }

    pub fn try_map<U, E>(self, f: impl FnMut(T) -> Result<U, E>) -> Result<Listed<U>, E> {
        Ok(Listed {
            items: self.items.into_iter().map(f).collect::<Result<_, E>>()?,
            next: self.next,
        })
    }
}

/// A list query compiled for one table.
pub struct Plan {
    pub condition: Option<Fragment<sql_types::Bool>>,
    pub after: Option<Fragment<sql_types::Bool>>,
    pub order: Fragment<sql_types::Text>,
    pub sort: Vec<SortKey>,
    pub limit: i64,
}

impl Table {
    /// Checks `query` against this table and the object's `custom` fields, and compiles it.
    pub fn plan(
        &self,
        dialect: Dialect,
        custom: &[CustomField],
        query: &ListQuery,
    ) -> Result<Plan, crate::StoreError> {
        let lookup = |path: &str| self.field(path, custom);
        let condition = query
            .filter
            .as_ref()
            .map(|expr| crm_domain::platform::filter::check(expr, &lookup, query.now))
            .transpose()?;
        let sort = crm_domain::platform::filter::parse_sort(&query.sort, &lookup)?;
        let compiler = Compiler {
            dialect,
            table: self,
            custom,
        };
        let after = match &query.after {
            Some(position) if position.keys.len() == sort.len() => {
                let values: Vec<FieldValue> = position
                    .keys
                    .iter()
                    .map(|k| k.clone().map_or(FieldValue::Null, FieldValue::One))
                    .collect();
                Some(compiler.after(&sort, &values, &position.id, "id"))
            }
            Some(_) => {
                return Err(crm_domain::Violation::new(
                    "cursor",
                    "was made for another sort order; pass the same sort as for the first page",
                )
                .into())
            }
            None => None,
        };
        Ok(Plan {
            condition: condition.map(|c| compiler.condition(&c)),
            after,
            order: compiler.order(&sort, "id"),
            sort,
            limit: query.limit,
        })
    }
}

impl Plan {
    /// Cuts the `limit + 1` rows fetched down to a page, remembering where the next begins.
    pub fn page<R>(
        &self,
        mut rows: Vec<R>,
        value_of: impl Fn(&R, &str) -> FieldValue,
        id_of: impl Fn(&R) -> String,
    ) -> Listed<R> {
        let limit = usize::try_from(self.limit).unwrap_or(0);
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next = if more {
            rows.last().map(|row| Position {
                keys: self
                    .sort
                    .iter()
                    .map(|key| match value_of(row, &key.field.path) {
                        FieldValue::One(value) => Some(value),
                        _ => None,
                    })
                    .collect(),
                id: id_of(row),
            })
        } else {
            None
        };
        Listed { items: rows, next }
    }
}

/// A boxed list query with a [`Plan`] applied: its condition, the keyset position, its order and
/// one row more than the page.
macro_rules! planned {
    ($rows:expr, $plan:expr) => {{
        let mut rows = $rows;
        if let Some(condition) = $plan.condition.clone() {
            rows = rows.filter(condition);
        }
        if let Some(after) = $plan.after.clone() {
            rows = rows.filter(after);
        }
        rows.then_order_by($plan.order.clone())
            .limit($plan.limit + 1)
    }};
}
pub(crate) use planned;
