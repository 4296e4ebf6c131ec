-- A best seller's month was one row that every order selling it updated, so concurrent imports
-- of it queued on that row. Each write now adds to one of 8 stripes, picked per transaction;
-- reads sum the stripes of a key before converting it. (SQLite cannot change a primary key in
-- place: the table is copied.)
CREATE TABLE product_rollups_striped (
    product_id TEXT NOT NULL,
    salesperson_id TEXT NOT NULL,
    month TEXT NOT NULL,
    currency TEXT NOT NULL,
    revenue_minor BIGINT NOT NULL,
    cost_minor BIGINT NOT NULL,
    units_milli BIGINT NOT NULL,
    returned_units_milli BIGINT NOT NULL,
    returns_minor BIGINT NOT NULL DEFAULT 0,
    shard SMALLINT NOT NULL DEFAULT 0,
    PRIMARY KEY (product_id, salesperson_id, month, currency, shard)
);
INSERT INTO product_rollups_striped (product_id, salesperson_id, month, currency, revenue_minor,
    cost_minor, units_milli, returned_units_milli, returns_minor, shard)
SELECT product_id, salesperson_id, month, currency, revenue_minor, cost_minor, units_milli,
    returned_units_milli, returns_minor, 0 FROM product_rollups;
DROP TABLE product_rollups;
ALTER TABLE product_rollups_striped RENAME TO product_rollups;
CREATE INDEX product_rollups_month ON product_rollups (month);
