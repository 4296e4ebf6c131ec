-- The search rows were found by `article_id`, an UNINDEXED FTS5 column, so replacing one
-- article's row scanned the whole index: writes slowed as the knowledge base grew (50,000
-- articles took 9 minutes to load). Each article now has an integer key, which is its search
-- row's rowid; replacing the row is a rowid lookup. A key of its own, not kb_articles' rowid,
-- which VACUUM may renumber.
CREATE TABLE kb_search_keys (
    search_key INTEGER PRIMARY KEY,
    article_id TEXT NOT NULL UNIQUE REFERENCES kb_articles (id)
);
INSERT INTO kb_search_keys (article_id) SELECT id FROM kb_articles ORDER BY id;

CREATE VIRTUAL TABLE kb_search_rows USING fts5 (
    title,
    body,
    tokenize = 'unicode61 remove_diacritics 0'
);
INSERT INTO kb_search_rows (rowid, title, body)
SELECT k.search_key, s.title, s.body
FROM kb_search s JOIN kb_search_keys k ON k.article_id = s.article_id;

DROP TABLE kb_search;
