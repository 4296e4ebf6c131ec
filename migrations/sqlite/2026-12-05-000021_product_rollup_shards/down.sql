CREATE TABLE product_rollups_folded (
    product_id TEXT NOT NULL,
    salesperson_id TEXT NOT NULL,
    month TEXT NOT NULL,
    currency TEXT NOT NULL,
    revenue_minor BIGINT NOT NULL,
    cost_minor BIGINT NOT NULL,
    units_milli BIGINT NOT NULL,
    returned_units_milli BIGINT NOT NULL,
    returns_minor BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (product_id, salesperson_id, month, currency)
);
INSERT INTO product_rollups_folded
SELECT product_id, salesperson_id, month, currency, SUM(revenue_minor), SUM(cost_minor),
    SUM(units_milli), SUM(returned_units_milli), SUM(returns_minor)
FROM product_rollups GROUP BY product_id, salesperson_id, month, currency;
DROP TABLE product_rollups;
ALTER TABLE product_rollups_folded RENAME TO product_rollups;
CREATE INDEX product_rollups_month ON product_rollups (month);
