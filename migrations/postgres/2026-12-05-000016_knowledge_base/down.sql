DROP TABLE case_articles;
DROP TABLE kb_feedback;
DROP TABLE kb_revisions;
DROP TABLE kb_articles;
-- The unaccent extension stays: other databases' objects may use it, and it holds no data.
