//! `/v1/search`: one box that finds contacts, companies, leads, opportunities, quotes, orders
//! and invoices by name, email, phone, tax id or number. Staff and integrations only.

use actix_web::{get, web};
use crm_domain::access::permissions::{Access, Reach};
use crm_domain::analytics::search::{self as domain, MatchedField, SearchObject, SearchTerms};
use crm_domain::Violations;
use crm_store::analytics::search as store;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::platform::auth::Principal;
use crate::platform::error::ApiError;
use crate::platform::extract::ApiQuery;
use crate::platform::pagination::limit_within;
use crate::platform::state::AppState;

/// How many hits a search answers by default, and at most.
const DEFAULT_HITS: i64 = 20;
const MAX_HITS: i64 = 50;

/// What to search for.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Text to find, 1 to 200 characters once trimmed, compared case-insensitively with names,
    /// emails, phones, tax ids and numbers. A phone number in any common format (`600 123 456`
    /// in the default region, `0034 600-123-456`, `+34600123456`) finds the same number.
    #[param(required = true, min_length = 1, max_length = 200)]
    pub q: Option<String>,
    /// The kinds to search, comma-separated: `contact`, `company`, `lead`, `opportunity`,
    /// `quote`, `order`, `invoice`. Default all. Kinds the caller may not read are skipped.
    pub types: Option<String>,
    /// How many hits, 1 to 50 (default 20; larger values are capped).
    pub limit: Option<i64>,
}

/// A search, checked.
struct Search {
    terms: SearchTerms,
    objects: Vec<SearchObject>,
    limit: i64,
}

impl SearchQuery {
    /// Checks the query; the kinds searched are those asked for that the caller may read.
    fn check(self, state: &AppState, readable: &[SearchObject]) -> Result<Search, ApiError> {
        let terms = match self.q.as_deref() {
            Some(q) => SearchTerms::new(q, state.settings.default_phone_region),
            None => Err(crm_domain::Violation::new("q", "is required")),
        };
        let objects = domain::objects(self.types.as_deref());
        let (terms, objects) = match (terms, objects) {
            (Ok(terms), Ok(objects)) => (terms, objects),
            (terms, objects) => {
                let violations = terms.err().into_iter().chain(objects.err()).collect();
                return Err(Violations(violations).into());
            }
        };
        let limit = limit_within(self.limit, DEFAULT_HITS, MAX_HITS)?;
        Ok(Search {
            terms,
            objects: objects
                .into_iter()
                .filter(|object| readable.contains(object))
                .collect(),
            limit,
        })
    }
}

/// The kinds of record the caller may read in full. A customer reads only its own company's
/// records, through the portal, and may search none.
fn searchable(principal: &Principal) -> Result<Vec<SearchObject>, ApiError> {
    let readable: Vec<SearchObject> = SearchObject::ALL
        .iter()
        .copied()
        .filter(|object| {
            matches!(
                principal.authorize(object.resource(), Access::Read),
                Ok(Reach::All)
            )
        })
        .collect();
    if readable.is_empty() {
        return Err(ApiError::Forbidden(format!(
            "role `{}` may not search: search needs read access to contacts, companies, leads, \
             opportunities, quotes, orders or invoices",
            principal.role
        )));
    }
    Ok(readable)
}

/// A record a search found.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchHit {
    /// What kind of record this is; read it from its own resource by `id`.
    pub object: SearchObject,
    /// The record's id.
    pub id: String,
    /// How a person names it: a full name, a company's name, a number.
    pub title: String,
    /// The field the query matched.
    pub matched_on: MatchedField,
}

/// The records a search found.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResults {
    /// Best first: records with a field equal to the query, then with a field that starts with
    /// it, then with a field that holds it; the newest first within each.
    pub data: Vec<SearchHit>,
}

impl SearchResults {
    fn from_hits(hits: Vec<domain::SearchHit>) -> Self {
        SearchResults {
            data: hits
                .into_iter()
                .map(|hit| SearchHit {
                    object: hit.object,
                    id: hit.id,
                    title: hit.title,
                    matched_on: hit.matched_on,
                })
                .collect(),
        }
    }
}

#[utoipa::path(
    tag = "search",
    operation_id = "globalSearch",
    summary = "Search every kind of record",
    description = "Finds live contacts (name, email, phone), companies (name, legal name, tax id, email, phone, website), leads (name, company name, email, phone), opportunities (name), quotes (number), orders (external id, shop number) and issued invoices (number). Kinds the caller may not read are skipped; a customer gets a `403`.",
    params(SearchQuery),
    responses((status = 200, description = "The records found, best first", body = SearchResults))
)]
#[get("/search")]
pub async fn search(
    state: web::Data<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<SearchQuery>,
) -> Result<web::Json<SearchResults>, ApiError> {
    let readable = searchable(&principal)?;
    let s = query.check(&state, &readable)?;
    let hits = state
        .db
        .read(move |conn| store::search(conn, &s.terms, &s.objects, s.limit))
        .await?;
    Ok(web::Json(SearchResults::from_hits(hits)))
}

/// The routes under `/search`.
pub fn routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(search);
}
