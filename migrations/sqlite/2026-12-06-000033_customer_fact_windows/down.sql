ALTER TABLE customer_facts DROP COLUMN recent_from;
ALTER TABLE customer_facts DROP COLUMN recent_to;
ALTER TABLE customer_facts DROP COLUMN last_year_from;
ALTER TABLE customer_facts DROP COLUMN last_year_to;
