-- `q` is a substring match (LIKE '%…%'), which a B-tree cannot serve: without these indexes
-- every search scans the whole table, and the soak showed contact search growing from 4 ms to
-- 37 ms as 30k contacts arrived. Trigram GIN indexes keep it proportional to the matches.
-- `fastupdate = off`: with it on, new entries wait in a pending list that every search reads
-- through until (auto)vacuum merges it, and the insert that overflows it merges 4 MB at once;
-- the soak saw search p99 climb to 123 ms, then a 2-second stall. Writes pay a little instead.
-- pg_trgm ships with PostgreSQL (contrib) and is a trusted extension, so the database owner
-- may create it; where it is not installed or the role may not create it, searches still
-- work, by scanning.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
        CREATE INDEX contacts_search ON contacts USING gin (search_text gin_trgm_ops) WITH (fastupdate = off);
        CREATE INDEX companies_search ON companies USING gin (search_text gin_trgm_ops) WITH (fastupdate = off);
        CREATE INDEX leads_search ON leads USING gin (search_text gin_trgm_ops) WITH (fastupdate = off);
        CREATE INDEX products_search ON products USING gin (search_text gin_trgm_ops) WITH (fastupdate = off);
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'pg_trgm could not be created: substring search will scan';
END
$$;
