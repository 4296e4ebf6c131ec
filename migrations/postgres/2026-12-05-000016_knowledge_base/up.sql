-- The knowledge base: articles in Spanish, Portuguese or English, their revisions, readers'
-- votes and the cases they answered. JSON documents (tags) are stored as text.
--
-- Search: `search` holds the title (weight A) and the body's text (weight B), each as it is and
-- unaccented, in the text search configuration of the article's locale (spanish, portuguese,
-- english). The store sets it after every write of the article, in the same transaction:
-- `unaccent` is not IMMUTABLE, so it can be neither a generated column nor an index expression.
-- SQLite keeps an FTS5 table of the same words' terms instead.
CREATE EXTENSION IF NOT EXISTS unaccent;

CREATE TABLE kb_articles (
    id TEXT NOT NULL PRIMARY KEY,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    locale TEXT NOT NULL,
    tags TEXT NOT NULL,
    status TEXT NOT NULL,
    -- The terms of the title, then of the body (`crm_domain::service::articles::search_terms`),
    -- space-separated: what the SQLite index holds, kept so that it can be rebuilt.
    search_terms TEXT NOT NULL,
    revision BIGINT NOT NULL,
    solved_cases_count BIGINT NOT NULL,
    helpful_count BIGINT NOT NULL,
    not_helpful_count BIGINT NOT NULL,
    published_at TIMESTAMP,
    created_by TEXT REFERENCES users (id),
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    search tsvector
);
CREATE INDEX kb_articles_created ON kb_articles (created_at, id);
CREATE INDEX kb_articles_status ON kb_articles (status, created_at, id);
CREATE INDEX kb_articles_search ON kb_articles USING GIN (search);

-- Every version of an article's text, the first included.
CREATE TABLE kb_revisions (
    article_id TEXT NOT NULL REFERENCES kb_articles (id),
    revision BIGINT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    locale TEXT NOT NULL,
    tags TEXT NOT NULL,
    edited_by TEXT REFERENCES users (id),
    edited_at TIMESTAMP NOT NULL,
    PRIMARY KEY (article_id, revision)
);

-- One vote per user and article: a new vote replaces the last.
CREATE TABLE kb_feedback (
    article_id TEXT NOT NULL REFERENCES kb_articles (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    helpful BOOLEAN NOT NULL,
    at TIMESTAMP NOT NULL,
    PRIMARY KEY (article_id, user_id)
);

-- The articles that answered a case, or bear on it.
CREATE TABLE case_articles (
    case_id TEXT NOT NULL REFERENCES cases (id),
    article_id TEXT NOT NULL REFERENCES kb_articles (id),
    relation TEXT NOT NULL,
    linked_by TEXT REFERENCES users (id),
    linked_at TIMESTAMP NOT NULL,
    PRIMARY KEY (case_id, article_id)
);
CREATE INDEX case_articles_article ON case_articles (article_id, relation);
