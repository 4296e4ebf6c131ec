-- The API's create: one contact row.
INSERT INTO contacts (id, last_name, email, email_key, lifecycle_stage, tags, preferences,
    marketing_consent, search_text, version, created_at, updated_at)
SELECT u, 'Pgbench', 'pg-' || u || '@example.com', 'pg-' || u || '@example.com', 'prospect',
    '[]', '{}', FALSE, 'pgbench', 1, now(), now()
FROM (SELECT gen_random_uuid()::text AS u) AS fresh;
