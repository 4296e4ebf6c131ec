-- A best seller's month was one row that every order selling it updated, so concurrent imports
-- of it queued on that row. Each write now adds to one of 8 stripes, picked per transaction;
-- reads sum the stripes of a key before converting it.
ALTER TABLE product_rollups ADD COLUMN shard SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE product_rollups DROP CONSTRAINT product_rollups_pkey;
ALTER TABLE product_rollups ADD PRIMARY KEY (product_id, salesperson_id, month, currency, shard);
