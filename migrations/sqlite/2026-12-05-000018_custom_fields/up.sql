-- Fields admins add to records, and the saved views of lists.
CREATE TABLE field_definitions (
    object TEXT NOT NULL,
    key TEXT NOT NULL,
    label TEXT NOT NULL,
    field_type TEXT NOT NULL,
    scale BIGINT,
    options TEXT NOT NULL,
    required BOOLEAN NOT NULL,
    is_unique BOOLEAN NOT NULL,
    default_value TEXT,
    indexed BOOLEAN NOT NULL,
    portal_visible BOOLEAN NOT NULL,
    archived_at TIMESTAMP,
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (object, key)
);

-- Values in canonical form (UTC microseconds, scaled decimals), one JSON object per record.
ALTER TABLE contacts ADD COLUMN custom_fields TEXT NOT NULL DEFAULT '{}';
ALTER TABLE companies ADD COLUMN custom_fields TEXT NOT NULL DEFAULT '{}';
ALTER TABLE leads ADD COLUMN custom_fields TEXT NOT NULL DEFAULT '{}';
ALTER TABLE opportunities ADD COLUMN custom_fields TEXT NOT NULL DEFAULT '{}';
ALTER TABLE orders ADD COLUMN custom_fields TEXT NOT NULL DEFAULT '{}';

CREATE TABLE saved_views (
    id TEXT PRIMARY KEY NOT NULL,
    owner_id TEXT NOT NULL,
    name TEXT NOT NULL,
    object TEXT NOT NULL,
    filter TEXT,
    sort TEXT,
    column_paths TEXT NOT NULL,
    shared BOOLEAN NOT NULL,
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX saved_views_object ON saved_views (object, created_at, id);
