ALTER TABLE product_rollups DROP COLUMN returns_minor;
