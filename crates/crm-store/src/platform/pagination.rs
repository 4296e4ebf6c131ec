//! Keyset pagination: every list is ordered by one sort key plus the id, and a page starts
//! strictly after the last (key, id) seen, so inserts between pages never shift or repeat rows.

use chrono::NaiveDateTime;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

/// The sort-key value of the last row of a page.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum KeyValue {
    #[serde(rename = "t")]
    Time(NaiveDateTime),
    #[serde(rename = "s")]
    Text(String),
    #[serde(rename = "n")]
    Number(i64),
    #[serde(rename = "d")]
    Date(chrono::NaiveDate),
}

/// Where the next page starts: after this key and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct After {
    pub key: KeyValue,
    pub id: String,
}

impl After {
    /// Where the next page starts in a list sorted by a time column.
    pub(crate) fn at_time(key: NaiveDateTime, id: &str) -> After {
        After {
            key: KeyValue::Time(key),
            id: id.to_owned(),
        }
    }

    pub(crate) fn time(&self) -> Result<NaiveDateTime, crate::StoreError> {
        match &self.key {
            KeyValue::Time(t) => Ok(*t),
            _ => Err(invalid_cursor()),
        }
    }

    pub(crate) fn text(&self) -> Result<String, crate::StoreError> {
        match &self.key {
            KeyValue::Text(t) => Ok(t.clone()),
            _ => Err(invalid_cursor()),
        }
    }
}

fn invalid_cursor() -> crate::StoreError {
    crm_domain::Violation::new("cursor", "does not belong to this sort order").into()
}

#[derive(Debug, Clone)]
pub struct PageRequest<S> {
    pub sort: S,
    pub descending: bool,
    pub limit: i64,
    pub after: Option<After>,
}

#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Set when more rows follow.
    pub next: Option<After>,
}

/// Cuts the `limit + 1` rows a query fetched down to a page, remembering where the next begins.
pub(crate) fn finish<T>(mut rows: Vec<T>, limit: i64, key_of: impl Fn(&T) -> After) -> Page<T> {
    let limit = usize::try_from(limit).unwrap_or(0);
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next = if more { rows.last().map(key_of) } else { None };
    Page { items: rows, next }
}

/// Whether a substring search for `q` should sort the matches the trigram index finds, instead
/// of walking the sort column's index and filtering as it goes. PostgreSQL walks under a LIMIT
/// whenever it expects matches spread evenly in time; where the newest rows do not match, each
/// search reads all of them (the soak: 40 to 150 ms once 30k non-matching contacts were newer).
/// Only PostgreSQL has the index, and pg_trgm needs 3 characters to use it. Shorter terms match
/// densely, so walking stops early and is faster (`q=an`: 707 against 327 req/s).
pub(crate) fn search_by_trigrams(conn: &crate::platform::db::DbConnection, q: &str) -> bool {
    matches!(conn, crate::platform::db::DbConnection::Postgres(_)) && q.chars().count() >= 3
}

/// Keeps the rows of a boxed query whose search text contains `q`. Where
/// [`search_by_trigrams`] says so, the match also becomes the leading sort key: it is true for
/// every row kept, so the order is unchanged, but the sort column's index can no longer serve it.
macro_rules! substring_search {
    ($query:expr, $conn:expr, $column:expr, $q:expr) => {{
        let matches = $column
            .like(crm_domain::platform::text::like_contains($q))
            .escape('\\');
        let query = $query.filter(matches.clone());
        if $crate::platform::pagination::search_by_trigrams($conn, $q) {
            query.order(matches.desc())
        } else {
            query
        }
    }};
}
pub(crate) use substring_search;

/// Adds the keyset condition and the ordering for one sort column to a boxed query (after any
/// ordering it already has), and asks for one row more than the page so that the caller knows
/// whether another page follows.
macro_rules! keyset {
    ($query:expr, $column:expr, $id:expr, $page:expr, $value:ident) => {{
        let mut query = $query;
        if let Some(after) = &$page.after {
            let key = after.$value()?;
            let id = after.id.clone();
            query = if $page.descending {
                query.filter($column.lt(key.clone()).or($column.eq(key).and($id.lt(id))))
            } else {
                query.filter($column.gt(key.clone()).or($column.eq(key).and($id.gt(id))))
            };
        }
        query = if $page.descending {
            query.then_order_by(($column.desc(), $id.desc()))
        } else {
            query.then_order_by(($column.asc(), $id.asc()))
        };
        query.limit($page.limit + 1)
    }};
}
pub(crate) use keyset;

/// One page of `$row`s ordered by a time column and then the id: the keyset, the query and the
/// cut. Without a query, all rows of the column's table are paged.
macro_rules! page_by_time {
    ($conn:expr, $page:expr, $table:ident :: $column:ident, $row:ty) => {{
        let query = $table::table.select(<$row>::as_select()).into_boxed();
        $crate::platform::pagination::page_by_time!($conn, $page, query, $table::$column, $row)
    }};
    ($conn:expr, $page:expr, $query:expr, $table:ident :: $column:ident, $row:ty) => {{
        let rows: Vec<$row> =
            $crate::platform::pagination::keyset!($query, $table::$column, $table::id, $page, time)
                .load($conn)?;
        $crate::platform::pagination::finish(rows, $page.limit, |r| {
            $crate::platform::pagination::After::at_time(r.$column, &r.id)
        })
    }};
}
pub(crate) use page_by_time;

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next: self.next,
        }
    }

    pub fn try_map<U, E>(self, f: impl FnMut(T) -> Result<U, E>) -> Result<Page<U>, E> {
        Ok(Page {
            items: self.items.into_iter().map(f).collect::<Result<_, E>>()?,
            next: self.next,
        })
    }
}
