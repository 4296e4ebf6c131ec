-- Dynamic segments: a filter over companies or contacts, in the filter language of the lists,
-- whose members are computed when read.
CREATE TABLE segments (
    id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    subject TEXT NOT NULL,
    filter TEXT NOT NULL,
    owner_id TEXT REFERENCES users (id),
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX segments_created ON segments (created_at, id);
