-- Duplicates and merges (#19). A merged record keeps its row, archived, and names the record
-- it went into; its GET redirects there and its writes are refused.
ALTER TABLE contacts ADD COLUMN merged_into_id TEXT REFERENCES contacts (id);
ALTER TABLE companies ADD COLUMN merged_into_id TEXT REFERENCES companies (id);

-- The keys duplicate candidates are found by, kept on every write (crm_domain::parties::duplicates):
-- the email without case or `+tag` (RFC 5233), the folded name, a company's tax id without
-- separators and its web domain. Names are also compared by trigram similarity where pg_trgm
-- is installed.
ALTER TABLE contacts ADD COLUMN email_base TEXT;
ALTER TABLE contacts ADD COLUMN name_key TEXT;
ALTER TABLE companies ADD COLUMN tax_key TEXT;
ALTER TABLE companies ADD COLUMN domain_key TEXT;
ALTER TABLE companies ADD COLUMN name_key TEXT;

-- Rows written before this migration, folded as the application folds them.
UPDATE contacts SET email_base = lower(trim(email)) WHERE email IS NOT NULL;
UPDATE contacts
SET email_base = substr(email_base, 1, strpos(email_base, '+') - 1) || substr(email_base, strpos(email_base, '@'))
WHERE strpos(email_base, '+') > 1 AND strpos(email_base, '+') < strpos(email_base, '@');
UPDATE contacts SET name_key = NULLIF(trim(regexp_replace(
    lower(unaccent(coalesce(first_name || ' ', '') || last_name)), '[^[:alnum:]]+', ' ', 'g')), '');

UPDATE companies SET tax_key = NULLIF(upper(regexp_replace(tax_id, '[^[:alnum:]]+', '', 'g')), '')
WHERE tax_id IS NOT NULL;
UPDATE companies SET domain_key = NULLIF(regexp_replace(regexp_replace(regexp_replace(
    lower(trim(website)), '^[a-z][a-z0-9+.-]*://', ''), '[/?#:].*$', ''), '^www[.]', ''), '')
WHERE website IS NOT NULL;
UPDATE companies SET name_key = NULLIF(trim(regexp_replace(
    lower(unaccent(name)), '[^[:alnum:]]+', ' ', 'g')), '');

CREATE INDEX contacts_email_base ON contacts (email_base) WHERE archived_at IS NULL;
CREATE INDEX contacts_name_key ON contacts (company_id, name_key) WHERE archived_at IS NULL;
CREATE INDEX companies_tax_key ON companies (tax_key) WHERE archived_at IS NULL;
CREATE INDEX companies_domain_key ON companies (domain_key) WHERE archived_at IS NULL;
CREATE INDEX companies_name_key ON companies (name_key) WHERE archived_at IS NULL;
-- Alike company names are found across all companies, not within one: a trigram index keeps
-- that from comparing every pair. Where pg_trgm is missing, names pair by their folded key.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        CREATE INDEX companies_name_trigrams ON companies USING gin (name_key gin_trgm_ops);
    END IF;
END
$$;

-- A pair someone said is not a duplicate, with its ids in order (first_id < second_id).
CREATE TABLE duplicate_dismissals (
    object TEXT NOT NULL,
    first_id TEXT NOT NULL,
    second_id TEXT NOT NULL,
    dismissed_by TEXT NOT NULL,
    dismissed_at TIMESTAMP NOT NULL,
    PRIMARY KEY (object, first_id, second_id)
);

-- One row per record merged into another: who, when, and both records' values before.
CREATE TABLE merges (
    id TEXT PRIMARY KEY NOT NULL,
    object TEXT NOT NULL,
    survivor_id TEXT NOT NULL,
    merged_id TEXT NOT NULL,
    actor TEXT NOT NULL,
    merged_at TIMESTAMP NOT NULL,
    old_values TEXT NOT NULL
);
CREATE INDEX merges_survivor ON merges (object, survivor_id, merged_at, id);
