//! Knowledge-base articles: written and revised by staff, published to customers, voted on by
//! readers, linked to the cases they answered, and searched in their own language.
//!
//! Search runs on each backend's own full-text index over the same words: on SQLite an FTS5
//! table of the terms `crm_domain::service::articles` derives (ranked by bm25, the title
//! weighted above the body), on PostgreSQL a tsvector in the configuration of the article's
//! locale (ranked by `ts_rank_cd`). On both, every word of a query must match, by its stem or
//! by the stem of its unaccented form; articles whose title matches come first.

use chrono::NaiveDateTime;
use crm_domain::service::articles::{
    allowed_actions, plain_text, query_words, render_markdown, search_terms, snippet, transition,
    ArticleAction, ArticleRelation, ArticleStatus, QueryWord, TermMatcher,
};
use crm_domain::service::cases::{CaseChangeType, Locale};
use crm_domain::Violation;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Double, Text};
use serde_json::json;

use crate::platform::clock::Clock;
use crate::platform::db::DbConnection;
use crate::platform::pagination::{page_by_time, Page, PageRequest, MAX_LIMIT};
use crate::platform::records::{self, Record};
use crate::platform::schema::{case_articles, cases, kb_articles, kb_feedback, kb_revisions};
use crate::platform::stored::stored;
use crate::service::cases as case_store;
use crate::{new_id, now, tag_pattern, tags_from_json, tags_to_json, StoreError};

/// What staff write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArticleFields {
    pub title: String,
    /// Markdown.
    pub body: String,
    pub locale: Locale,
    pub tags: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Article {
    pub id: String,
    pub fields: ArticleFields,
    /// The body rendered and sanitised, worked out on the database thread so that no HTTP
    /// worker renders markdown.
    pub body_html: String,
    pub status: ArticleStatus,
    /// 1 when created, one more on every edit.
    pub revision: i64,
    /// Distinct cases linked `solved_with`.
    pub solved_cases_count: i64,
    pub helpful_count: i64,
    pub not_helpful_count: i64,
    /// When it was last published.
    pub published_at: Option<NaiveDateTime>,
    pub created_by: Option<String>,
    /// One more on every edit and state action; votes and links leave it.
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Article {
    pub fn allowed_actions(&self) -> &'static [ArticleAction] {
        allowed_actions(self.status)
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = kb_articles, treat_none_as_null = true)]
struct ArticleRow {
    id: String,
    title: String,
    body: String,
    locale: String,
    tags: String,
    status: String,
    search_terms: String,
    revision: i64,
    solved_cases_count: i64,
    helpful_count: i64,
    not_helpful_count: i64,
    published_at: Option<NaiveDateTime>,
    created_by: Option<String>,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

/// An article's terms, title and body apart, as the SQLite index holds them.
struct Terms {
    title: String,
    body: String,
}

impl Terms {
    fn of(fields: &ArticleFields) -> Terms {
        Terms {
            title: search_terms(fields.locale, &fields.title).join(" "),
            body: search_terms(fields.locale, &plain_text(&fields.body)).join(" "),
        }
    }

    fn joined(&self) -> String {
        [self.title.as_str(), self.body.as_str()]
            .into_iter()
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl ArticleRow {
    fn fields(&self) -> Result<ArticleFields, StoreError> {
        Ok(ArticleFields {
            title: self.title.clone(),
            body: self.body.clone(),
            locale: stored("kb_articles", "locale", &self.locale)?,
            tags: tags_from_json(&self.tags),
        })
    }

    fn set_fields(&mut self, f: &ArticleFields) {
        self.title.clone_from(&f.title);
        self.body.clone_from(&f.body);
        self.locale = f.locale.as_str().to_owned();
        self.tags = tags_to_json(&f.tags);
        self.search_terms = Terms::of(f).joined();
    }

    fn into_article(self) -> Result<Article, StoreError> {
        let fields = self.fields()?;
        Ok(Article {
            body_html: render_markdown(&fields.body),
            fields,
            status: stored("kb_articles", "status", &self.status)?,
            id: self.id,
            revision: self.revision,
            solved_cases_count: self.solved_cases_count,
            helpful_count: self.helpful_count,
            not_helpful_count: self.not_helpful_count,
            published_at: self.published_at,
            created_by: self.created_by,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = kb_revisions)]
struct RevisionRow {
    article_id: String,
    revision: i64,
    title: String,
    body: String,
    locale: String,
    tags: String,
    edited_by: Option<String>,
    edited_at: NaiveDateTime,
}

/// One version of an article's text.
#[derive(Debug, Clone)]
pub struct Revision {
    pub article_id: String,
    pub revision: i64,
    pub fields: ArticleFields,
    /// Null for an API key.
    pub edited_by: Option<String>,
    pub edited_at: NaiveDateTime,
}

/// Records the article's text as its current revision.
fn write_revision(
    conn: &mut DbConnection,
    row: &ArticleRow,
    actor_id: Option<&str>,
    at: NaiveDateTime,
) -> Result<(), StoreError> {
    diesel::insert_into(kb_revisions::table)
        .values(&RevisionRow {
            article_id: row.id.clone(),
            revision: row.revision,
            title: row.title.clone(),
            body: row.body.clone(),
            locale: row.locale.clone(),
            tags: row.tags.clone(),
            edited_by: actor_id.map(str::to_owned),
            edited_at: at,
        })
        .execute(conn)?;
    Ok(())
}

/// PostgreSQL's text search configuration of a locale: the Snowball stemmer and stop list that
/// `crm_domain::service::articles` mirrors.
fn text_search_config(locale: Locale) -> &'static str {
    match locale {
        Locale::Es => "spanish",
        Locale::Pt => "portuguese",
        Locale::En => "english",
    }
}

/// Brings the article's search index up to its text: the derived index rows of an article whose
/// row the caller has just written in this transaction.
fn index(conn: &mut DbConnection, row: &ArticleRow) -> Result<(), StoreError> {
    let fields = row.fields()?;
    match conn {
        DbConnection::Postgres(pg) => {
            diesel::sql_query(
                "UPDATE kb_articles SET search = \
                   setweight(to_tsvector($1::regconfig, $2), 'A') \
                   || setweight(to_tsvector($1::regconfig, unaccent($2)), 'A') \
                   || setweight(to_tsvector($1::regconfig, $3), 'B') \
                   || setweight(to_tsvector($1::regconfig, unaccent($3)), 'B') \
                 WHERE id = $4",
            )
            .bind::<Text, _>(text_search_config(fields.locale))
            .bind::<Text, _>(&fields.title)
            .bind::<Text, _>(plain_text(&fields.body))
            .bind::<Text, _>(&row.id)
            .execute(pg)?;
        }
        DbConnection::Sqlite(sqlite) => {
            // The article's search row is the one at its key: found by rowid, not by a scan.
            let terms = Terms::of(&fields);
            diesel::sql_query(
                "INSERT INTO kb_search_keys (article_id) VALUES (?) \
                 ON CONFLICT (article_id) DO NOTHING",
            )
            .bind::<Text, _>(&row.id)
            .execute(sqlite)?;
            diesel::sql_query(
                "DELETE FROM kb_search_rows WHERE rowid = \
                 (SELECT search_key FROM kb_search_keys WHERE article_id = ?)",
            )
            .bind::<Text, _>(&row.id)
            .execute(sqlite)?;
            diesel::sql_query(
                "INSERT INTO kb_search_rows (rowid, title, body) \
                 SELECT search_key, ?, ? FROM kb_search_keys WHERE article_id = ?",
            )
            .bind::<Text, _>(terms.title)
            .bind::<Text, _>(terms.body)
            .bind::<Text, _>(&row.id)
            .execute(sqlite)?;
        }
    }
    Ok(())
}

/// A new draft, revision 1.
pub fn create(
    conn: &mut DbConnection,
    fields: ArticleFields,
    actor_id: Option<&str>,
) -> Result<Article, StoreError> {
    let at = now();
    let mut row = ArticleRow {
        id: new_id(),
        title: String::new(),
        body: String::new(),
        locale: String::new(),
        tags: String::new(),
        status: ArticleStatus::Draft.as_str().to_owned(),
        search_terms: String::new(),
        revision: 1,
        solved_cases_count: 0,
        helpful_count: 0,
        not_helpful_count: 0,
        published_at: None,
        created_by: actor_id.map(str::to_owned),
        version: 1,
        created_at: at,
        updated_at: at,
    };
    row.set_fields(&fields);
    diesel::insert_into(kb_articles::table)
        .values(&row)
        .execute(conn)?;
    write_revision(conn, &row, actor_id, at)?;
    index(conn, &row)?;
    row.into_article()
}

fn load(conn: &mut DbConnection, id: &str) -> Result<ArticleRow, StoreError> {
    records::load_row(conn, kb_articles::table, id)
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<Article, StoreError> {
    load(conn, id)?.into_article()
}

/// A published article; any other is not found, as the portal shows it.
pub fn get_published(conn: &mut DbConnection, id: &str) -> Result<Article, StoreError> {
    let article = get(conn, id)?;
    if article.status != ArticleStatus::Published {
        return Err(StoreError::NotFound);
    }
    Ok(article)
}

#[derive(Debug, Clone, Default)]
pub struct ArticleFilter {
    pub status: Option<ArticleStatus>,
    pub locale: Option<Locale>,
    pub tag: Option<String>,
}

/// Articles by creation, with the filters combined.
pub fn list(
    conn: &mut DbConnection,
    filter: &ArticleFilter,
    page: &PageRequest<()>,
) -> Result<Page<Article>, StoreError> {
    let mut query = kb_articles::table
        .select(ArticleRow::as_select())
        .into_boxed();
    if let Some(status) = filter.status {
        query = query.filter(kb_articles::status.eq(status.as_str()));
    }
    if let Some(locale) = filter.locale {
        query = query.filter(kb_articles::locale.eq(locale.as_str()));
    }
    if let Some(tag) = &filter.tag {
        query = query.filter(kb_articles::tags.like(tag_pattern(tag)).escape('\\'));
    }
    page_by_time!(conn, page, query, kb_articles::created_at, ArticleRow)
        .try_map(ArticleRow::into_article)
}

/// Writes the row on the version read, one version up.
fn save(
    conn: &mut DbConnection,
    row: &mut ArticleRow,
    at: NaiveDateTime,
) -> Result<(), StoreError> {
    let read_version = row.version;
    row.version += 1;
    row.updated_at = at;
    records::update_versioned!(conn, kb_articles, &row.id, read_version, &*row)
}

/// Changes what `edit` changes, as a new revision, and indexes the new text.
pub fn update(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    actor_id: Option<&str>,
    edit: impl FnOnce(&mut ArticleFields) -> Result<(), StoreError>,
) -> Result<Article, StoreError> {
    let mut row = records::checkout(conn, Record::Article, id, expected_version, load, |r| {
        r.version
    })?;
    let before = row.fields()?;
    let mut fields = before.clone();
    edit(&mut fields)?;
    // A revision records a change: an edit that changes nothing leaves the article as it is.
    if fields == before {
        return row.into_article();
    }
    row.set_fields(&fields);
    row.revision += 1;
    let at = now();
    save(conn, &mut row, at)?;
    write_revision(conn, &row, actor_id, at)?;
    index(conn, &row)?;
    row.into_article()
}

/// A state action: `publish`, `archive` or `restore`.
pub fn act(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    action: ArticleAction,
) -> Result<Article, StoreError> {
    let mut row = records::checkout(conn, Record::Article, id, expected_version, load, |r| {
        r.version
    })?;
    let status: ArticleStatus = stored("kb_articles", "status", &row.status)?;
    let to = transition(status, action).map_err(StoreError::IllegalTransition)?;
    let at = now();
    if to == ArticleStatus::Published {
        row.published_at = Some(at);
    }
    row.status = to.as_str().to_owned();
    save(conn, &mut row, at)?;
    row.into_article()
}

/// An article's revisions, oldest first.
pub fn revisions(conn: &mut DbConnection, id: &str) -> Result<Vec<Revision>, StoreError> {
    load(conn, id)?;
    let rows: Vec<RevisionRow> = kb_revisions::table
        .filter(kb_revisions::article_id.eq(id))
        .order(kb_revisions::revision.asc())
        .select(RevisionRow::as_select())
        .load(conn)?;
    rows.into_iter()
        .map(|r| {
            Ok(Revision {
                fields: ArticleFields {
                    locale: stored("kb_revisions", "locale", &r.locale)?,
                    tags: tags_from_json(&r.tags),
                    title: r.title,
                    body: r.body,
                },
                article_id: r.article_id,
                revision: r.revision,
                edited_by: r.edited_by,
                edited_at: r.edited_at,
            })
        })
        .collect()
}

/// Records `user_id`'s vote on the article, replacing the user's last, and counts the votes.
pub fn feedback(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    user_id: &str,
    helpful: bool,
) -> Result<Article, StoreError> {
    let mut row = records::checkout(conn, Record::Article, id, expected_version, load, |r| {
        r.version
    })?;
    diesel::delete(kb_feedback::table.find((id, user_id))).execute(conn)?;
    diesel::insert_into(kb_feedback::table)
        .values((
            kb_feedback::article_id.eq(id),
            kb_feedback::user_id.eq(user_id),
            kb_feedback::helpful.eq(helpful),
            kb_feedback::at.eq(now()),
        ))
        .execute(conn)?;
    let votes = |conn: &mut DbConnection, helpful: bool| -> Result<i64, StoreError> {
        Ok(kb_feedback::table
            .filter(kb_feedback::article_id.eq(id))
            .filter(kb_feedback::helpful.eq(helpful))
            .count()
            .get_result(conn)?)
    };
    row.helpful_count = votes(conn, true)?;
    row.not_helpful_count = votes(conn, false)?;
    diesel::update(kb_articles::table.find(id))
        .set((
            kb_articles::helpful_count.eq(row.helpful_count),
            kb_articles::not_helpful_count.eq(row.not_helpful_count),
        ))
        .execute(conn)?;
    row.into_article()
}

/// An article linked to a case.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = case_articles)]
struct LinkRow {
    case_id: String,
    article_id: String,
    relation: String,
    linked_by: Option<String>,
    linked_at: NaiveDateTime,
}

#[derive(Debug, Clone)]
pub struct CaseArticle {
    pub case_id: String,
    pub article_id: String,
    pub relation: ArticleRelation,
    /// Null for an API key.
    pub linked_by: Option<String>,
    pub linked_at: NaiveDateTime,
}

/// Links an article to a case (again: the relation is replaced), logs `article_linked` on the
/// case, and counts the cases the article solved. An unknown article is a `422` on
/// `article_id`; an unknown case is not found.
pub fn link_case(
    conn: &mut DbConnection,
    clock: Clock,
    case_id: &str,
    expected_version: Option<i64>,
    article_id: &str,
    relation: ArticleRelation,
    actor_id: Option<&str>,
) -> Result<CaseArticle, StoreError> {
    let at = clock.now(conn)?;
    case_store::checkout(conn, case_id, expected_version)?;
    let no_such_article = || StoreError::from(Violation::new("article_id", "no such article"));
    match records::lock(conn, Record::Article, article_id) {
        Err(StoreError::NotFound) => return Err(no_such_article()),
        other => other?,
    }
    let found: Option<String> = kb_articles::table
        .find(article_id)
        .select(kb_articles::id)
        .first(conn)
        .optional()?;
    if found.is_none() {
        return Err(no_such_article());
    }
    let link = LinkRow {
        case_id: case_id.to_owned(),
        article_id: article_id.to_owned(),
        relation: relation.as_str().to_owned(),
        linked_by: actor_id.map(str::to_owned),
        linked_at: at,
    };
    diesel::delete(case_articles::table.find((case_id, article_id))).execute(conn)?;
    diesel::insert_into(case_articles::table)
        .values(&link)
        .execute(conn)?;
    // One row per case and article, so the rows count the distinct cases.
    let solved: i64 = case_articles::table
        .filter(case_articles::article_id.eq(article_id))
        .filter(case_articles::relation.eq(ArticleRelation::SolvedWith.as_str()))
        .count()
        .get_result(conn)?;
    diesel::update(kb_articles::table.find(article_id))
        .set(kb_articles::solved_cases_count.eq(solved))
        .execute(conn)?;
    case_store::log(
        conn,
        case_id,
        CaseChangeType::ArticleLinked,
        at,
        actor_id,
        json!({"article_id": article_id, "relation": relation.as_str()}),
    )?;
    Ok(CaseArticle {
        case_id: link.case_id,
        article_id: link.article_id,
        relation,
        linked_by: link.linked_by,
        linked_at: link.linked_at,
    })
}

/// An article a search found.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    pub id: String,
    pub title: String,
    /// A window of the body around the first word found, the words found in `<mark>`, the
    /// rest HTML-escaped.
    pub snippet: String,
    /// Higher is better: 1 or more when the title matches, below 1 when only the body does.
    pub rank: f64,
}

/// Characters of body a snippet shows.
const SNIPPET_CHARS: usize = 200;

/// What one search asks of one locale's articles.
struct Search<'a> {
    locale: Locale,
    words: &'a [QueryWord],
    /// Any word matches (suggestions), rather than every word (searches).
    any: bool,
    tag: Option<&'a str>,
    published_only: bool,
    limit: i64,
}

#[derive(QueryableByName)]
struct Found {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    title: String,
    #[diesel(sql_type = Text)]
    body: String,
    /// The backend's relevance, higher better, 0 or more.
    #[diesel(sql_type = Double)]
    score: f64,
    #[diesel(sql_type = Bool)]
    title_hit: bool,
}

/// An FTS5 query of the words' terms, every term quoted so that nothing in it is syntax: per
/// word, any of its terms; the words all (`AND`) or any (`OR`).
fn fts5_query(words: &[QueryWord], any: bool) -> String {
    words
        .iter()
        .map(|w| {
            let terms: Vec<String> = w
                .terms
                .iter()
                .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
                .collect();
            format!("({})", terms.join(" OR "))
        })
        .collect::<Vec<_>>()
        .join(if any { " OR " } else { " AND " })
}

/// The filters both backends add after their match, as SQL with `?` or `$n` placeholders.
fn filters(search: &Search, placeholder: &mut dyn FnMut() -> String) -> String {
    let mut sql = format!(" AND a.locale = {}", placeholder());
    if search.published_only {
        sql.push_str(&format!(
            " AND a.status = '{}'",
            ArticleStatus::Published.as_str()
        ));
    }
    if search.tag.is_some() {
        sql.push_str(&format!(" AND a.tags LIKE {} ESCAPE '\\'", placeholder()));
    }
    sql
}

/// One locale's articles that match, best first, at most `limit`.
fn find(conn: &mut DbConnection, search: &Search) -> Result<Vec<SearchHit>, StoreError> {
    if search.words.is_empty() {
        return Ok(Vec::new());
    }
    let tag = search.tag.map(tag_pattern);
    let limit = search.limit.clamp(1, MAX_LIMIT);
    let found: Vec<Found> = match conn {
        DbConnection::Postgres(pg) => {
            // $1 the configuration, $2.. the words, then the filters' values and the limit.
            let mut n = 1;
            let mut next = || {
                n += 1;
                format!("${n}")
            };
            let query = search
                .words
                .iter()
                .map(|_| {
                    let p = next();
                    format!(
                        "(websearch_to_tsquery($1::regconfig, {p}) \
                         || websearch_to_tsquery($1::regconfig, unaccent({p})))"
                    )
                })
                .collect::<Vec<_>>()
                .join(if search.any { " || " } else { " && " });
            let mut sql = format!(
                "WITH q AS (SELECT {query} AS query) \
                 SELECT a.id, a.title, a.body, \
                   ts_rank_cd(a.search, q.query)::float8 AS score, \
                   (ts_filter(a.search, '{{a}}') @@ q.query) AS title_hit \
                 FROM kb_articles a, q WHERE a.search @@ q.query"
            );
            sql.push_str(&filters(search, &mut next));
            sql.push_str(&format!(
                " ORDER BY title_hit DESC, score DESC, a.id LIMIT {}",
                next()
            ));
            let mut query = diesel::sql_query(sql)
                .into_boxed::<diesel::pg::Pg>()
                .bind::<Text, _>(text_search_config(search.locale).to_owned());
            for word in search.words {
                query = query.bind::<Text, _>(word.word.clone());
            }
            query = query.bind::<Text, _>(search.locale.as_str().to_owned());
            if let Some(tag) = &tag {
                query = query.bind::<Text, _>(tag.clone());
            }
            query.bind::<BigInt, _>(limit).load(pg)?
        }
        DbConnection::Sqlite(sqlite) => {
            let matched = fts5_query(search.words, search.any);
            let mut sql = String::from(
                "SELECT a.id AS id, a.title AS title, a.body AS body, \
                   -bm25(kb_search_rows, 10.0, 1.0) AS score, \
                   (kb_search_rows.rowid IN \
                     (SELECT rowid FROM kb_search_rows WHERE kb_search_rows MATCH ?)) AS title_hit \
                 FROM kb_search_rows \
                 JOIN kb_search_keys k ON k.search_key = kb_search_rows.rowid \
                 JOIN kb_articles a ON a.id = k.article_id \
                 WHERE kb_search_rows MATCH ?",
            );
            sql.push_str(&filters(search, &mut || "?".to_owned()));
            sql.push_str(" ORDER BY title_hit DESC, score DESC, a.id LIMIT ?");
            let mut query = diesel::sql_query(sql)
                .into_boxed::<diesel::sqlite::Sqlite>()
                .bind::<Text, _>(format!("title : ({matched})"))
                .bind::<Text, _>(matched)
                .bind::<Text, _>(search.locale.as_str().to_owned());
            if let Some(tag) = &tag {
                query = query.bind::<Text, _>(tag.clone());
            }
            query.bind::<BigInt, _>(limit).load(sqlite)?
        }
    };
    let matcher = TermMatcher::new(search.locale, search.words);
    Ok(found
        .into_iter()
        .map(|f| {
            let score = f.score.max(0.0);
            SearchHit {
                snippet: snippet(&plain_text(&f.body), |w| matcher.matches(w), SNIPPET_CHARS),
                rank: f64::from(u8::from(f.title_hit)) + score / (score + 1.0),
                id: f.id,
                title: f.title,
            }
        })
        .collect())
}

/// Best first, ties by id, at most `limit`.
fn best(mut hits: Vec<SearchHit>, limit: i64) -> Vec<SearchHit> {
    hits.sort_by(|a, b| b.rank.total_cmp(&a.rank).then_with(|| a.id.cmp(&b.id)));
    hits.truncate(usize::try_from(limit.clamp(1, MAX_LIMIT)).unwrap_or(1));
    hits
}

/// Articles whose every word of `q` is found in their title or body, in `locale` or in each
/// locale with that locale's stemmer; only published ones when `published_only`. A query with
/// nothing to search for (empty, punctuation, stop words) finds nothing.
pub fn search(
    conn: &mut DbConnection,
    q: &str,
    locale: Option<Locale>,
    tag: Option<&str>,
    limit: i64,
    published_only: bool,
) -> Result<Vec<SearchHit>, StoreError> {
    let locales = locale.map_or_else(|| Locale::ALL.to_vec(), |l| vec![l]);
    let mut hits = Vec::new();
    for locale in locales {
        let words = query_words(locale, q);
        hits.extend(find(
            conn,
            &Search {
                locale,
                words: &words,
                any: false,
                tag,
                published_only,
                limit,
            },
        )?);
    }
    Ok(best(hits, limit))
}

/// Published articles in the case's language that match any word of its subject, best first.
pub fn suggested(
    conn: &mut DbConnection,
    case_id: &str,
    limit: i64,
) -> Result<Vec<SearchHit>, StoreError> {
    let (subject, locale): (String, String) = cases::table
        .find(case_id)
        .select((cases::subject, cases::locale))
        .first(conn)?;
    let locale: Locale = stored("cases", "locale", &locale)?;
    let words = query_words(locale, &subject);
    let hits = find(
        conn,
        &Search {
            locale,
            words: &words,
            any: true,
            tag: None,
            published_only: true,
            limit,
        },
    )?;
    Ok(best(hits, limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fts5_queries_quote_every_term() {
        let words = query_words(Locale::Es, "reembolso \"devolución\" OR NEAR(");
        let all = fts5_query(&words, false);
        assert!(all.starts_with("(\"reembols\")"), "{all}");
        assert!(all.contains(" AND (\"devolu\" OR \"devolucion\")"), "{all}");
        assert!(fts5_query(&words, true).contains(") OR ("));
        for part in all.split('"').skip(1).step_by(2) {
            assert!(part.chars().all(char::is_alphanumeric), "{part}");
        }
    }

    #[test]
    fn title_matches_rank_first() {
        let hit = |id: &str, rank: f64| SearchHit {
            id: id.into(),
            title: String::new(),
            snippet: String::new(),
            rank,
        };
        let ranked = best(vec![hit("b", 0.9), hit("c", 1.1), hit("a", 0.9)], 2);
        let ids: Vec<&str> = ranked.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(ids, ["c", "a"]);
    }
}
