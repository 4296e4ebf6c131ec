CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    email TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    company_id TEXT REFERENCES companies(id),
    active BOOLEAN NOT NULL,
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    archived_at TIMESTAMP
);
CREATE UNIQUE INDEX users_email_active ON users (email) WHERE archived_at IS NULL;
CREATE INDEX users_created ON users (created_at, id);

CREATE TABLE companies (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    legal_name TEXT,
    tax_id TEXT,
    billing_line1 TEXT,
    billing_line2 TEXT,
    billing_city TEXT,
    billing_region TEXT,
    billing_postal_code TEXT,
    billing_country TEXT,
    email TEXT,
    phone TEXT,
    website TEXT,
    industry TEXT,
    owner_id TEXT REFERENCES users(id),
    tier TEXT,
    tags TEXT NOT NULL,
    preferences TEXT NOT NULL,
    search_text TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    archived_at TIMESTAMP
);
CREATE INDEX companies_created ON companies (created_at, id);
CREATE INDEX companies_updated ON companies (updated_at, id);
CREATE INDEX companies_name ON companies (name, id);
CREATE INDEX companies_tax_id ON companies (tax_id);
CREATE INDEX companies_owner ON companies (owner_id);

CREATE TABLE contacts (
    id TEXT PRIMARY KEY NOT NULL,
    company_id TEXT REFERENCES companies(id),
    first_name TEXT,
    last_name TEXT NOT NULL,
    email TEXT,
    email_key TEXT,
    phone TEXT,
    title TEXT,
    lifecycle_stage TEXT NOT NULL,
    owner_id TEXT REFERENCES users(id),
    tags TEXT NOT NULL,
    preferences TEXT NOT NULL,
    marketing_consent BOOLEAN NOT NULL,
    marketing_consent_at TIMESTAMP,
    search_text TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    archived_at TIMESTAMP
);
CREATE UNIQUE INDEX contacts_email_active ON contacts (email_key) WHERE archived_at IS NULL AND email_key IS NOT NULL;
CREATE INDEX contacts_phone ON contacts (phone);
CREATE INDEX contacts_company ON contacts (company_id);
CREATE INDEX contacts_created ON contacts (created_at, id);
CREATE INDEX contacts_updated ON contacts (updated_at, id);
CREATE INDEX contacts_last_name ON contacts (last_name, id);

CREATE TABLE interactions (
    id TEXT PRIMARY KEY NOT NULL,
    contact_id TEXT REFERENCES contacts(id),
    company_id TEXT REFERENCES companies(id),
    kind TEXT NOT NULL,
    direction TEXT,
    subject TEXT,
    body TEXT,
    occurred_at TIMESTAMP,
    scheduled_for TIMESTAMP,
    timeline_at TIMESTAMP NOT NULL,
    user_id TEXT REFERENCES users(id),
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    archived_at TIMESTAMP
);
CREATE INDEX interactions_contact ON interactions (contact_id, timeline_at, id);
CREATE INDEX interactions_company ON interactions (company_id, timeline_at, id);
CREATE INDEX interactions_timeline ON interactions (timeline_at, id);

CREATE TABLE refresh_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id),
    token_hash TEXT NOT NULL UNIQUE,
    expires_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    created_by TEXT REFERENCES users(id),
    last_used_at TIMESTAMP,
    revoked_at TIMESTAMP,
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX api_keys_created ON api_keys (created_at, id);

CREATE TABLE login_failures (
    id TEXT PRIMARY KEY NOT NULL,
    email TEXT NOT NULL,
    failed_at TIMESTAMP NOT NULL
);
CREATE INDEX login_failures_email ON login_failures (email, failed_at);

CREATE TABLE idempotency_keys (
    principal TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    response_status INTEGER,
    response_headers TEXT,
    response_body BLOB,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    PRIMARY KEY (principal, idempotency_key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
