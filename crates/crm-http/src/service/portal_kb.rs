//! `/v1/portal/kb`: the knowledge base as a customer user reads it: published articles only,
//! listed, by id or by search; any other article answers `404`.

use actix_web::{get, web};
use chrono::{DateTime, Utc};
use crm_domain::access::permissions::Access;
use crm_domain::service::articles::ArticleStatus;
use crm_domain::service::cases::Locale;
use crm_store::service::articles as store;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::billing::portal::own_company;
use crate::platform::auth::Principal;
use crate::platform::error::ApiError;
use crate::platform::extract::{ApiQuery, PagedQuery};
use crate::platform::pagination::{fixed_order, read_page, ListResponse, PageQuery};
use crate::platform::respond::utc;
use crate::platform::state::AppState;
use crate::service::articles::{
    ArticleListQuery, ArticleSearchQuery, ArticleSearchResults, NEWEST_FIRST,
};

/// A published article as a customer reads it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PortalArticle {
    pub id: String,
    pub title: String,
    /// The body rendered to HTML and sanitised: safe to show as it is.
    pub body_html: String,
    pub locale: Locale,
    pub tags: Vec<String>,
    /// When it was published.
    pub published_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<store::Article> for PortalArticle {
    fn from(a: store::Article) -> Self {
        PortalArticle {
            body_html: a.body_html,
            published_at: utc(a.published_at.unwrap_or(a.updated_at)),
            id: a.id,
            title: a.fields.title,
            locale: a.fields.locale,
            tags: a.fields.tags,
            updated_at: utc(a.updated_at),
        }
    }
}

/// Filters of the help articles a customer lists.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PortalArticleListQuery {
    pub locale: Option<Locale>,
    /// A tag.
    pub tag: Option<String>,
}

#[utoipa::path(tag = "portal", operation_id = "listPortalKbArticles", summary = "List the help articles",
    description = "Published articles, the most recently written first. Filters combine with AND.",
    params(PortalArticleListQuery, PageQuery),
    responses((status = 200, description = "A page of published articles", body = ListResponse<PortalArticle>)))]
#[get("/portal/kb/articles")]
pub async fn list_portal_articles(
    state: web::Data<AppState>,
    principal: Principal,
    PagedQuery(query, paging): PagedQuery<PortalArticleListQuery>,
) -> Result<web::Json<ListResponse<PortalArticle>>, ApiError> {
    own_company(&principal, Access::Read)?;
    let page = fixed_order(NEWEST_FIRST, &paging)?;
    let filter = ArticleListQuery {
        status: Some(ArticleStatus::Published),
        locale: query.locale,
        tag: query.tag,
    }
    .into_filter()?;
    read_page(
        &state,
        store::list,
        filter,
        page,
        NEWEST_FIRST,
        PortalArticle::from,
    )
    .await
}

#[utoipa::path(tag = "portal", operation_id = "getPortalKbArticle", summary = "Read a help article",
    description = "A published article; a draft or an archived one is not found.",
    params(("id" = String, Path, description = "Article id")),
    responses((status = 200, description = "The article", body = PortalArticle)))]
#[get("/portal/kb/articles/{id}")]
pub async fn get_portal_article(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<web::Json<PortalArticle>, ApiError> {
    own_company(&principal, Access::Read)?;
    let article = state
        .db
        .read(move |conn| store::get_published(conn, &id))
        .await?;
    Ok(web::Json(PortalArticle::from(article)))
}

#[utoipa::path(tag = "portal", operation_id = "searchPortalKbArticles", summary = "Search the help articles",
    description = "Published articles whose title or body holds every word, by stem and without accents, in the article's language: titles that match first.",
    params(ArticleSearchQuery),
    responses((status = 200, description = "The articles found, best first", body = ArticleSearchResults)))]
#[get("/portal/kb/search")]
pub async fn search_portal_articles(
    state: web::Data<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<ArticleSearchQuery>,
) -> Result<web::Json<ArticleSearchResults>, ApiError> {
    own_company(&principal, Access::Read)?;
    let s = query.check()?;
    let hits = state
        .db
        .read(move |conn| store::search(conn, &s.q, s.locale, s.tag.as_deref(), s.limit, true))
        .await?;
    Ok(web::Json(ArticleSearchResults::from_hits(hits)))
}

/// The routes under `/portal`.
pub fn routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(list_portal_articles)
        .service(get_portal_article)
        .service(search_portal_articles);
}
