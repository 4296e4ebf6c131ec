-- Each customer's figures per calendar year, in the base currency (each month converted at
-- its own rate, then summed, exactly as the monthly reports do), for the ranking and the tiers.
-- A row that could not be converted (a missing rate), or that was kept in another base
-- currency, is not complete: reads fall back to the monthly rollups until it is folded again.
CREATE TABLE customer_year_rollups (
    company_id TEXT NOT NULL REFERENCES companies(id),
    year INTEGER NOT NULL,
    base_currency TEXT NOT NULL,
    revenue_minor BIGINT NOT NULL,
    cost_minor BIGINT NOT NULL,
    returns_minor BIGINT NOT NULL,
    concessions_minor BIGINT NOT NULL,
    orders BIGINT NOT NULL,
    units_milli BIGINT NOT NULL,
    gross_profit_minor BIGINT NOT NULL,
    complete BOOLEAN NOT NULL,
    PRIMARY KEY (company_id, year)
);
CREATE INDEX customer_year_rollups_by_profit
    ON customer_year_rollups (year, gross_profit_minor DESC, company_id);
CREATE INDEX customer_year_rollups_by_orders
    ON customer_year_rollups (year, orders DESC, company_id);
CREATE INDEX customer_year_rollups_incomplete
    ON customer_year_rollups (year) WHERE NOT complete;
-- Serves the probe for rows kept in another base currency, and, read alone, the year's count
-- and positive profit that every ranking page needs.
CREATE INDEX customer_year_rollups_base
    ON customer_year_rollups (year, base_currency, gross_profit_minor);
-- Existing history is folded by the maintenance loop (no base currency yet: never complete).
INSERT INTO customer_year_rollups (company_id, year, base_currency, revenue_minor, cost_minor,
    returns_minor, concessions_minor, orders, units_milli, gross_profit_minor, complete)
SELECT DISTINCT company_id, CAST(substr(month, 1, 4) AS INTEGER), '', 0, 0, 0, 0, 0, 0, 0, FALSE
FROM customer_rollups;
