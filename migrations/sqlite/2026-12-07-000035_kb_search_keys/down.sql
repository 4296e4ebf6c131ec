CREATE VIRTUAL TABLE kb_search USING fts5 (
    article_id UNINDEXED,
    title,
    body,
    tokenize = 'unicode61 remove_diacritics 0'
);
INSERT INTO kb_search (article_id, title, body)
SELECT k.article_id, r.title, r.body
FROM kb_search_rows r JOIN kb_search_keys k ON k.search_key = r.rowid;
DROP TABLE kb_search_rows;
DROP TABLE kb_search_keys;
