//! Cursor pagination as the API shows it: `limit`, `cursor`, `sort`, and
//! `{"data": [...], "next_cursor": ...}`.

use actix_web::web;
use base64::Engine;
use chrono::NaiveDateTime;
use crm_store::platform::db::DbConnection;
use crm_store::platform::pagination::{
    After, KeyValue, Page, PageRequest, DEFAULT_LIMIT, MAX_LIMIT,
};
use crm_store::platform::query::{ListQuery, Position};
use crm_store::StoreError;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::platform::error::ApiError;
use crate::platform::state::AppState;
use utoipa::openapi::{Object, ObjectBuilder, Type};

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListResponse<T> {
    /// The records of this page.
    pub data: Vec<T>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct CursorBody {
    /// The sort the cursor was made for.
    s: String,
    k: KeyValue,
    i: String,
}

/// A list's sort options: the query value (without `-`) and what it means to the store.
pub struct SortOptions<S: 'static> {
    pub options: &'static [(&'static str, S)],
    /// Used when no `sort` is given, for example `-created_at`.
    pub default: &'static str,
}

impl<S> SortOptions<S> {
    /// The `sort` parameter's schema: each option, ascending and with `-` descending.
    pub fn schema(&self) -> Object {
        let values = self
            .options
            .iter()
            .flat_map(|(name, _)| [name.to_string(), format!("-{name}")]);
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(values))
            .build()
    }
}

/// A store's sort key, with the options its list offers: a list's query names its `sort`
/// parameter's schema as `sort_schema::<ContactSort>`, with no wrapper of its own.
pub trait Sorted: Copy + 'static {
    const SORTS: SortOptions<Self>;
}

/// The `sort` parameter's schema of a list sorted by `S`.
pub fn sort_schema<S: Sorted>() -> Object {
    S::SORTS.schema()
}

/// The `sort` parameter's schema of a report with fixed choices.
pub fn sort_choices(choices: &[&str]) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(choices.iter().copied()))
        .build()
}

impl<S: Copy> SortOptions<S> {
    /// Builds the store's page request from the raw query parameters.
    pub fn request(
        &self,
        sort: Option<&str>,
        paging: &PageQuery,
    ) -> Result<(PageRequest<S>, String), ApiError> {
        let raw = sort.unwrap_or(self.default);
        let (descending, name) = match raw.strip_prefix('-') {
            Some(name) => (true, name),
            None => (false, raw),
        };
        let key = self
            .options
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| *s)
            .ok_or_else(|| {
                let names: Vec<&str> = self.options.iter().map(|(n, _)| *n).collect();
                ApiError::validation(
                    "sort",
                    format!(
                        "must be one of {} (prefix - for descending)",
                        names.join(", ")
                    ),
                )
            })?;
        let canonical = format!("{}{name}", if descending { "-" } else { "" });
        Ok((
            PageRequest {
                sort: key,
                descending,
                limit: page_limit(paging.limit)?,
                after: decode_cursor(paging.cursor.as_deref(), &canonical)?,
            },
            canonical,
        ))
    }
}

/// The paging every list takes: alone as a list's query, or beside the list's own
/// parameters through `PagedQuery`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size, 1 to 200 (default 50; larger values are capped).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    /// The names of its parameters in a query string.
    pub const PARAMETERS: [&'static str; 2] = ["limit", "cursor"];
}

/// A page of a list with one fixed order, named in its cursors as `created_at` (ascending) or
/// `-created_at` (descending).
pub fn fixed_order(sort: &str, paging: &PageQuery) -> Result<PageRequest<()>, ApiError> {
    Ok(PageRequest {
        sort: (),
        descending: sort.starts_with('-'),
        limit: page_limit(paging.limit)?,
        after: decode_cursor(paging.cursor.as_deref(), sort)?,
    })
}

/// `limit` defaults to 50, is capped at 200, and must be positive.
pub fn page_limit(limit: Option<i64>) -> Result<i64, ApiError> {
    limit_within(limit, DEFAULT_LIMIT, MAX_LIMIT)
}

/// `limit` defaults to `default`, is capped at `max`, and must be positive: for lists shorter
/// than a page, such as search hits.
pub fn limit_within(limit: Option<i64>, default: i64, max: i64) -> Result<i64, ApiError> {
    match limit {
        None => Ok(default),
        Some(n) if n < 1 => Err(ApiError::validation("limit", "must be at least 1")),
        Some(n) => Ok(n.min(max)),
    }
}

pub fn decode_cursor(cursor: Option<&str>, sort: &str) -> Result<Option<After>, ApiError> {
    let Some(cursor) = cursor.filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    let invalid = || ApiError::validation("cursor", "is not a cursor returned by this list");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| invalid())?;
    let body: CursorBody = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if body.s != sort {
        return Err(ApiError::validation(
            "cursor",
            "was made for another sort order; pass the same sort as for the first page",
        ));
    }
    Ok(Some(After {
        key: body.k,
        id: body.i,
    }))
}

pub fn encode_cursor(after: &After, sort: &str) -> String {
    let body = CursorBody {
        s: sort.to_owned(),
        k: after.key.clone(),
        i: after.id.clone(),
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&body).unwrap_or_default())
}

/// Maps a store page to the response body.
pub fn respond<T, D: ToSchema>(
    page: Page<T>,
    sort: &str,
    to_dto: impl FnMut(T) -> D,
) -> ListResponse<D> {
    ListResponse {
        next_cursor: page.next.as_ref().map(|after| encode_cursor(after, sort)),
        data: page.items.into_iter().map(to_dto).collect(),
    }
}

/// A store use case that reads one page of a list, by the list's filter.
pub type ListFn<F, S, T> =
    fn(&mut DbConnection, &F, &PageRequest<S>) -> Result<Page<T>, StoreError>;

/// Reads one page with the store's `list` and answers it as the list's body.
pub async fn read_page<F, S, T, D>(
    state: &AppState,
    list: ListFn<F, S, T>,
    filter: F,
    page: PageRequest<S>,
    sort: &str,
    to_dto: impl FnMut(T) -> D,
) -> Result<web::Json<ListResponse<D>>, ApiError>
where
    F: Send + 'static,
    S: Send + 'static,
    T: Send + 'static,
    D: ToSchema,
{
    let result = state
        .db
        .read(move |conn| list(conn, &filter, &page))
        .await?;
    Ok(web::Json(respond(result, sort, to_dto)))
}

/// Reads one page of a list kept in creation order, oldest first.
pub async fn read_oldest_first<F, T, D>(
    state: &AppState,
    list: ListFn<F, (), T>,
    filter: F,
    query: PageQuery,
    to_dto: impl FnMut(T) -> D,
) -> Result<web::Json<ListResponse<D>>, ApiError>
where
    F: Send + 'static,
    T: Send + 'static,
    D: ToSchema,
{
    let page = fixed_order("created_at", &query)?;
    read_page(state, list, filter, page, "created_at", to_dto).await
}

/// The cursor of a list in the filter language: where the page ended, bound to the filter and
/// sort it was made for.
#[derive(Serialize, Deserialize)]
struct FilteredCursor {
    /// A digest of the filter and sort.
    h: String,
    p: Position,
}

fn digest(filter: Option<&str>, sort: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{}\n{sort}", filter.unwrap_or("")));
    hex::encode(&digest[..12])
}

/// The store's query for a list that takes `filter=`: parsed here (a syntax error is a `422`
/// naming `filter`), checked by the store against the object's fields.
pub fn list_query(
    filter: Option<&str>,
    sort: Option<&str>,
    default_sort: &str,
    paging: &PageQuery,
    now: NaiveDateTime,
) -> Result<ListQuery, ApiError> {
    let filter = filter.map(str::trim).filter(|f| !f.is_empty());
    let sort = sort
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or(default_sort);
    let parsed = filter
        .map(crm_domain::platform::filter::parse)
        .transpose()
        .map_err(|v| ApiError::Validation(v.into()))?;
    let after = match paging.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(cursor) => {
            let invalid =
                || ApiError::validation("cursor", "is not a cursor returned by this list");
            let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(cursor)
                .map_err(|_| invalid())?;
            let body: FilteredCursor = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
            if body.h != digest(filter, sort) {
                return Err(ApiError::validation(
                    "cursor",
                    "was made for another filter or sort; pass the same filter and sort as for the first page",
                ));
            }
            Some(body.p)
        }
    };
    Ok(ListQuery {
        filter: parsed,
        sort: sort.to_owned(),
        after,
        limit: page_limit(paging.limit)?,
        now,
    })
}

/// The `next_cursor` of a page of a list in the filter language.
pub fn next_cursor(
    next: Option<Position>,
    query: &ListQuery,
    filter: Option<&str>,
) -> Option<String> {
    let filter = filter.map(str::trim).filter(|f| !f.is_empty());
    next.map(|p| {
        let body = FilteredCursor {
            h: digest(filter, &query.sort),
            p,
        };
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&body).unwrap_or_default())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_is_bound_to_its_sort() {
        let after = After {
            key: KeyValue::Text("2026-01-01T00:00:00".into()),
            id: "x".into(),
        };
        let cursor = encode_cursor(&after, "last_name");
        assert_eq!(
            decode_cursor(Some(&cursor), "last_name").unwrap(),
            Some(after)
        );
        assert!(decode_cursor(Some(&cursor), "-created_at").is_err());
        assert!(decode_cursor(Some("garbage!"), "last_name").is_err());
    }

    #[test]
    fn limit_is_capped_and_positive() {
        assert_eq!(page_limit(None).unwrap(), 50);
        assert_eq!(page_limit(Some(1000)).unwrap(), 200);
        assert!(page_limit(Some(0)).is_err());
    }
}
