CREATE TABLE product_rollups_folded AS
SELECT product_id, salesperson_id, month, currency, SUM(revenue_minor)::BIGINT AS revenue_minor,
    SUM(cost_minor)::BIGINT AS cost_minor, SUM(units_milli)::BIGINT AS units_milli,
    SUM(returned_units_milli)::BIGINT AS returned_units_milli,
    SUM(returns_minor)::BIGINT AS returns_minor
FROM product_rollups GROUP BY product_id, salesperson_id, month, currency;
DELETE FROM product_rollups;
ALTER TABLE product_rollups DROP CONSTRAINT product_rollups_pkey;
ALTER TABLE product_rollups DROP COLUMN shard;
ALTER TABLE product_rollups ADD PRIMARY KEY (product_id, salesperson_id, month, currency);
INSERT INTO product_rollups (product_id, salesperson_id, month, currency, revenue_minor,
    cost_minor, units_milli, returned_units_milli, returns_minor)
SELECT product_id, salesperson_id, month, currency, revenue_minor, cost_minor, units_milli,
    returned_units_milli, returns_minor FROM product_rollups_folded;
DROP TABLE product_rollups_folded;
