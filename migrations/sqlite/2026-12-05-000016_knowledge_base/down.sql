DROP TABLE kb_search;
DROP TABLE case_articles;
DROP TABLE kb_feedback;
DROP TABLE kb_revisions;
DROP TABLE kb_articles;
