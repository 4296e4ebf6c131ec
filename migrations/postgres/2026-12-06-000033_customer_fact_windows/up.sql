-- The months each facts row's profit windows span (`YYYY-MM`, both ends included), as of its day,
-- so that a write to a customer's monthly rollup adds its change to the facts in the same
-- transaction: to the twelve months when its month falls in them, to last year likewise.
-- Empty until the maintenance loop next refreshes the row, which sets them.
ALTER TABLE customer_facts ADD COLUMN recent_from TEXT NOT NULL DEFAULT '';
ALTER TABLE customer_facts ADD COLUMN recent_to TEXT NOT NULL DEFAULT '';
ALTER TABLE customer_facts ADD COLUMN last_year_from TEXT NOT NULL DEFAULT '';
ALTER TABLE customer_facts ADD COLUMN last_year_to TEXT NOT NULL DEFAULT '';
