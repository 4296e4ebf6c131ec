//! `/v1/kb`: the knowledge base: articles in Markdown, their revisions, publication, readers'
//! votes and search in Spanish, Portuguese and English; and, on a case, the articles that
//! answered it and those that might.

use actix_web::{get, patch, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use crm_domain::access::permissions::{Access, Resource};
use crm_domain::service::articles::{ArticleAction, ArticleRelation, ArticleStatus};
use crm_domain::service::cases::Locale;
use crm_domain::Violations;
use crm_store::service::articles::{self as store, ArticleFields, ArticleFilter};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::platform::actions::{ActionResponses, ActionTarget, StateRecord};
use crate::platform::auth::Principal;
use crate::platform::error::ApiError;
use crate::platform::extract::{ApiJson, ApiQuery, PagedQuery};
use crate::platform::fields::{Checker, LONG, SHORT};
use crate::platform::pagination::{fixed_order, limit_within, read_page, ListResponse, PageQuery};
use crate::platform::respond::{created, utc, utc_opt, versioned};
use crate::platform::state::AppState;

/// A knowledge-base article.
#[derive(Debug, Serialize, ToSchema)]
pub struct Article {
    /// Server-assigned id (UUIDv7).
    pub id: String,
    pub title: String,
    /// Markdown.
    pub body: String,
    /// The body rendered to HTML and sanitised: safe to show as it is.
    pub body_html: String,
    /// The language it is written in, which decides how its words are searched.
    pub locale: Locale,
    pub tags: Vec<String>,
    /// Customers see only published articles.
    pub status: ArticleStatus,
    /// 1 when created, one more on every edit; each is listed under `revisions`.
    pub revision: i64,
    /// How many cases it solved (linked `solved_with`).
    pub solved_cases_count: i64,
    /// Staff who found it helpful, one vote each.
    pub helpful_count: i64,
    /// Staff who did not.
    pub not_helpful_count: i64,
    /// When it was last published.
    pub published_at: Option<DateTime<Utc>>,
    /// What its state allows next.
    pub allowed_actions: Vec<ArticleAction>,
    /// Incremented on every edit and state action (votes and case links leave it); the ETag.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl StateRecord for Article {
    const NOUN: &'static str = "article";
}

impl From<store::Article> for Article {
    fn from(a: store::Article) -> Self {
        Article {
            allowed_actions: a.allowed_actions().to_vec(),
            body_html: a.body_html,
            id: a.id,
            title: a.fields.title,
            body: a.fields.body,
            locale: a.fields.locale,
            tags: a.fields.tags,
            status: a.status,
            revision: a.revision,
            solved_cases_count: a.solved_cases_count,
            helpful_count: a.helpful_count,
            not_helpful_count: a.not_helpful_count,
            published_at: utc_opt(a.published_at),
            version: a.version,
            created_at: utc(a.created_at),
            updated_at: utc(a.updated_at),
        }
    }
}

/// A new article: a draft until it is published.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"title": "Cómo pedir un reembolso", "body": "Escríbanos desde **Mis pedidos** con el número del pedido.",
    "locale": "es", "tags": ["pagos"]}))]
pub struct ArticleCreate {
    pub title: String,
    /// Markdown; raw HTML in it is sanitised when rendered.
    pub body: String,
    pub locale: Locale,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// Changes, as a JSON Merge Patch: a new revision.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArticleUpdate {
    pub title: Option<String>,
    pub body: Option<String>,
    pub locale: Option<Locale>,
    pub tags: Option<Vec<String>>,
}

impl ArticleUpdate {
    fn apply(self, f: &mut ArticleFields) -> Result<(), Violations> {
        let mut c = Checker::default();
        if let Some(title) = self.title {
            f.title = c.required("title", &title, SHORT);
        }
        if let Some(body) = self.body {
            f.body = c.required("body", &body, LONG);
        }
        if let Some(locale) = self.locale {
            f.locale = locale;
        }
        if let Some(tags) = self.tags {
            f.tags = c.tags("tags", &tags);
        }
        c.finish()
    }
}

#[utoipa::path(tag = "knowledge-base", operation_id = "createKbArticle", summary = "Write an article",
    description = "A draft, revision 1, searchable by staff at once; customers see it once it is published.",
    request_body = ArticleCreate,
    responses((status = 201, description = "Created", body = Article, headers(("Location" = String, description = "URL of the article"), ("ETag" = String, description = "Its version")))))]
#[post("/kb/articles")]
pub async fn create_article(
    state: web::Data<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<ArticleCreate>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::KnowledgeBase, Access::Write)?;
    let mut fields = ArticleFields {
        title: String::new(),
        body: String::new(),
        locale: body.locale,
        tags: Vec::new(),
    };
    ArticleUpdate {
        title: Some(body.title),
        body: Some(body.body),
        tags: Some(body.tags),
        ..ArticleUpdate::default()
    }
    .apply(&mut fields)?;
    let actor = principal.user_id().map(str::to_owned);
    let article = state
        .db
        .write(move |conn| store::create(conn, fields, actor.as_deref()))
        .await?;
    Ok(created(
        format!("/v1/kb/articles/{}", article.id),
        article.version,
        &Article::from(article),
    ))
}

/// Filters and paging for the article list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ArticleListQuery {
    pub status: Option<ArticleStatus>,
    pub locale: Option<Locale>,
    /// A tag.
    pub tag: Option<String>,
}

impl ArticleListQuery {
    /// The store's filter, its tag checked.
    pub(crate) fn into_filter(self) -> Result<ArticleFilter, ApiError> {
        let mut c = Checker::default();
        let tag = self.tag.as_deref().and_then(|t| {
            c.violations
                .check(crm_domain::parties::tags::filter_value(t))
        });
        c.finish()?;
        Ok(ArticleFilter {
            status: self.status,
            locale: self.locale,
            tag,
        })
    }
}

pub(crate) const NEWEST_FIRST: &str = "-created_at";

#[utoipa::path(tag = "knowledge-base", operation_id = "listKbArticles", summary = "List articles",
    description = "Newest first, in every state. Filters combine with AND.",
    params(ArticleListQuery, PageQuery),
    responses((status = 200, description = "A page of articles", body = ListResponse<Article>)))]
#[get("/kb/articles")]
pub async fn list_articles(
    state: web::Data<AppState>,
    principal: Principal,
    PagedQuery(query, paging): PagedQuery<ArticleListQuery>,
) -> Result<web::Json<ListResponse<Article>>, ApiError> {
    principal.authorize(Resource::KnowledgeBase, Access::Read)?;
    let page = fixed_order(NEWEST_FIRST, &paging)?;
    let filter = query.into_filter()?;
    read_page(
        &state,
        store::list,
        filter,
        page,
        NEWEST_FIRST,
        Article::from,
    )
    .await
}

#[utoipa::path(tag = "knowledge-base", operation_id = "getKbArticle", summary = "Get an article",
    params(("id" = String, Path, description = "Article id")),
    responses((status = 200, description = "The article, in any state", body = Article, headers(("ETag" = String, description = "Its version")))))]
#[get("/kb/articles/{id}")]
pub async fn get_article(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    target
        .respond(
            Resource::KnowledgeBase,
            store::get,
            |r| r.version,
            Article::from,
        )
        .await
}

#[utoipa::path(tag = "knowledge-base", operation_id = "updateKbArticle", summary = "Edit an article",
    description = "Every edit is a new revision, in any state: a published article shows the edit at once.",
    params(("id" = String, Path, description = "Article id")),
    request_body(content = ArticleUpdate, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The edited article", body = Article, headers(("ETag" = String, description = "Its new version")))))]
#[patch("/kb/articles/{id}")]
pub async fn update_article(
    target: ActionTarget,
    ApiJson(body): ApiJson<ArticleUpdate>,
) -> Result<HttpResponse, ApiError> {
    let actor = target.principal.user_id().map(str::to_owned);
    let article = target
        .write(Resource::KnowledgeBase, move |conn, id, version| {
            store::update(conn, id, version, actor.as_deref(), |fields| {
                Ok(body.apply(fields)?)
            })
        })
        .await?;
    Ok(versioned(article.version, &Article::from(article)))
}

async fn act(target: ActionTarget, action: ArticleAction) -> Result<HttpResponse, ApiError> {
    let article = target
        .write(Resource::KnowledgeBase, move |conn, id, version| {
            store::act(conn, id, version, action)
        })
        .await?;
    Ok(versioned(article.version, &Article::from(article)))
}

#[utoipa::path(tag = "knowledge-base", operation_id = "publishKbArticle", summary = "Publish an article",
    description = "draft → published: customers find it in the portal.",
    params(("id" = String, Path, description = "Article id")),
    responses(ActionResponses<Article>))]
#[post("/kb/articles/{id}/publish")]
pub async fn publish_article(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    act(target, ArticleAction::Publish).await
}

#[utoipa::path(tag = "knowledge-base", operation_id = "archiveKbArticle", summary = "Archive an article",
    description = "draft or published → archived: customers no longer see it.",
    params(("id" = String, Path, description = "Article id")),
    responses(ActionResponses<Article>))]
#[post("/kb/articles/{id}/archive")]
pub async fn archive_article(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    act(target, ArticleAction::Archive).await
}

#[utoipa::path(tag = "knowledge-base", operation_id = "restoreKbArticle", summary = "Restore an article",
    description = "archived → draft.",
    params(("id" = String, Path, description = "Article id")),
    responses(ActionResponses<Article>))]
#[post("/kb/articles/{id}/restore")]
pub async fn restore_article(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    act(target, ArticleAction::Restore).await
}

/// One version of an article's text.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArticleRevision {
    pub article_id: String,
    /// 1 for the text it was created with.
    pub revision: i64,
    pub title: String,
    /// Markdown.
    pub body: String,
    pub locale: Locale,
    pub tags: Vec<String>,
    /// The user who wrote it; null for an API key.
    pub edited_by: Option<String>,
    pub edited_at: DateTime<Utc>,
}

/// An article's revisions.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArticleRevisionList {
    /// Oldest first.
    pub data: Vec<ArticleRevision>,
}

#[utoipa::path(tag = "knowledge-base", operation_id = "listKbArticleRevisions", summary = "An article's revisions",
    params(("id" = String, Path, description = "Article id")),
    responses((status = 200, description = "Every version of its text, oldest first", body = ArticleRevisionList)))]
#[get("/kb/articles/{id}/revisions")]
pub async fn list_revisions(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<web::Json<ArticleRevisionList>, ApiError> {
    principal.authorize(Resource::KnowledgeBase, Access::Read)?;
    let revisions = state
        .db
        .read(move |conn| store::revisions(conn, &id))
        .await?;
    Ok(web::Json(ArticleRevisionList {
        data: revisions
            .into_iter()
            .map(|r| ArticleRevision {
                article_id: r.article_id,
                revision: r.revision,
                title: r.fields.title,
                body: r.fields.body,
                locale: r.fields.locale,
                tags: r.fields.tags,
                edited_by: r.edited_by,
                edited_at: utc(r.edited_at),
            })
            .collect(),
    }))
}

/// A reader's vote.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"helpful": true}))]
pub struct ArticleFeedback {
    /// Whether the article helped.
    pub helpful: bool,
}

#[utoipa::path(tag = "knowledge-base", operation_id = "rateKbArticle", summary = "Vote on an article",
    description = "Any staff user who may read the knowledge base votes once per article: a new vote replaces the user's last. An API key has no vote (`422`).",
    params(("id" = String, Path, description = "Article id")),
    request_body = ArticleFeedback,
    responses((status = 200, description = "The article with its votes counted", body = Article, headers(("ETag" = String, description = "Its version")))))]
#[post("/kb/articles/{id}/feedback")]
pub async fn rate_article(
    target: ActionTarget,
    ApiJson(body): ApiJson<ArticleFeedback>,
) -> Result<HttpResponse, ApiError> {
    let ActionTarget {
        state,
        principal,
        id,
        if_match,
    } = target;
    principal.authorize(Resource::KnowledgeBase, Access::Read)?;
    let user = principal
        .user_id()
        .ok_or_else(|| ApiError::validation("helpful", "a vote needs a user, not an API key"))?
        .to_owned();
    let article = state
        .db
        .write(move |conn| store::feedback(conn, &id, if_match.0, &user, body.helpful))
        .await?;
    Ok(versioned(article.version, &Article::from(article)))
}

/// What a search looks for.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ArticleSearchQuery {
    /// Words to find, in any form ("reembolsos" finds "reembolso") and with or without
    /// accents; every word must match. Punctuation separates words and is never syntax; a query
    /// of only stop words ("de la") finds nothing.
    #[param(max_length = 500)]
    pub q: String,
    /// Search articles in this language only; by default each article is searched in its own.
    pub locale: Option<Locale>,
    /// Only articles with this tag.
    pub tag: Option<String>,
    /// How many, 1 to 50 (default 10; larger values are capped).
    pub limit: Option<i64>,
}

/// What a search takes, checked.
pub(crate) struct Search {
    pub q: String,
    pub locale: Option<Locale>,
    pub tag: Option<String>,
    pub limit: i64,
}

/// The most hits a search answers.
const MAX_HITS: i64 = 50;

impl ArticleSearchQuery {
    pub(crate) fn check(self) -> Result<Search, ApiError> {
        let mut c = Checker::default();
        let q = c
            .violations
            .check(crm_domain::platform::text::clean("q", &self.q, 500))
            .unwrap_or_default();
        let tag = self.tag.as_deref().and_then(|t| {
            c.violations
                .check(crm_domain::parties::tags::filter_value(t))
        });
        c.finish()?;
        let limit = limit_within(self.limit, 10, MAX_HITS)?;
        Ok(Search {
            q,
            locale: self.locale,
            tag,
            limit,
        })
    }
}

/// An article a search found.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArticleSearchHit {
    pub id: String,
    pub title: String,
    /// HTML: a window of the body around the first word found, each word found in
    /// `<mark>`…`</mark>`, everything else escaped.
    pub snippet: String,
    /// Higher is better: 1 or more where the title matches, which come first; below 1 where
    /// only the body does.
    pub rank: f64,
}

/// The articles a search found.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArticleSearchResults {
    /// Best first.
    pub data: Vec<ArticleSearchHit>,
}

impl ArticleSearchResults {
    pub(crate) fn from_hits(hits: Vec<store::SearchHit>) -> Self {
        ArticleSearchResults {
            data: hits
                .into_iter()
                .map(|h| ArticleSearchHit {
                    id: h.id,
                    title: h.title,
                    snippet: h.snippet,
                    rank: h.rank,
                })
                .collect(),
        }
    }
}

#[utoipa::path(tag = "knowledge-base", operation_id = "searchKbArticles", summary = "Search articles",
    description = "Articles in every state whose title or body holds every word, by stem and without accents, in the article's language: titles that match first, then by relevance.",
    params(ArticleSearchQuery),
    responses((status = 200, description = "The articles found, best first", body = ArticleSearchResults)))]
#[get("/kb/search")]
pub async fn search_articles(
    state: web::Data<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<ArticleSearchQuery>,
) -> Result<web::Json<ArticleSearchResults>, ApiError> {
    principal.authorize(Resource::KnowledgeBase, Access::Read)?;
    let s = query.check()?;
    let hits = state
        .db
        .read(move |conn| store::search(conn, &s.q, s.locale, s.tag.as_deref(), s.limit, false))
        .await?;
    Ok(web::Json(ArticleSearchResults::from_hits(hits)))
}

/// An article linked to a case.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseArticle {
    pub case_id: String,
    pub article_id: String,
    pub relation: ArticleRelation,
    /// The user who linked it; null for an API key.
    pub linked_by: Option<String>,
    pub linked_at: DateTime<Utc>,
}

/// An article to link to a case.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"article_id": "0190c1b2-7a3e-7d40-9b1a-2f7c9d1e4a55", "relation": "solved_with"}))]
pub struct CaseArticleLink {
    pub article_id: String,
    /// `solved_with` counts the case in the article's `solved_cases_count`.
    pub relation: ArticleRelation,
}

#[utoipa::path(tag = "cases", operation_id = "linkCaseArticle", summary = "Link an article to a case",
    description = "Logs `article_linked` in the case's events. Linking the same article again replaces its relation. An unknown article is a `422` on `article_id`. Needs write access to cases and read access to the knowledge base.",
    params(("id" = String, Path, description = "Case id")),
    request_body = CaseArticleLink,
    responses((status = 201, description = "Linked", body = CaseArticle)))]
#[post("/cases/{id}/articles")]
pub async fn link_case_article(
    target: ActionTarget,
    ApiJson(body): ApiJson<CaseArticleLink>,
) -> Result<HttpResponse, ApiError> {
    target
        .principal
        .authorize(Resource::KnowledgeBase, Access::Read)?;
    let clock = target.state.settings.clock;
    let actor = target.principal.user_id().map(str::to_owned);
    let link = target
        .write(Resource::Cases, move |conn, id, version| {
            store::link_case(
                conn,
                clock,
                id,
                version,
                &body.article_id,
                body.relation,
                actor.as_deref(),
            )
        })
        .await?;
    Ok(HttpResponse::Created().json(CaseArticle {
        case_id: link.case_id,
        article_id: link.article_id,
        relation: link.relation,
        linked_by: link.linked_by,
        linked_at: utc(link.linked_at),
    }))
}

/// How many suggestions.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SuggestedArticlesQuery {
    /// 1 to 50 (default 5; larger values are capped).
    pub limit: Option<i64>,
}

#[utoipa::path(tag = "knowledge-base", operation_id = "listSuggestedArticles", summary = "Articles that may answer a case",
    description = "Published articles in the case's language that hold any word of its subject, best first. Needs read access to cases and to the knowledge base.",
    params(("id" = String, Path, description = "Case id"), SuggestedArticlesQuery),
    responses((status = 200, description = "The articles found, best first", body = ArticleSearchResults)))]
#[get("/cases/{id}/suggested-articles")]
pub async fn suggested_articles(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    ApiQuery(query): ApiQuery<SuggestedArticlesQuery>,
) -> Result<web::Json<ArticleSearchResults>, ApiError> {
    principal.authorize(Resource::Cases, Access::Read)?;
    principal.authorize(Resource::KnowledgeBase, Access::Read)?;
    let limit = limit_within(query.limit, 5, MAX_HITS)?;
    let hits = state
        .db
        .read(move |conn| store::suggested(conn, &id, limit))
        .await?;
    Ok(web::Json(ArticleSearchResults::from_hits(hits)))
}

/// The routes under `/cases`.
pub fn cases_routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(link_case_article).service(suggested_articles);
}

/// The routes under `/kb`.
pub fn kb_routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(list_articles)
        .service(create_article)
        .service(search_articles)
        .service(get_article)
        .service(update_article)
        .service(publish_article)
        .service(archive_article)
        .service(restore_article)
        .service(list_revisions)
        .service(rate_article);
}
