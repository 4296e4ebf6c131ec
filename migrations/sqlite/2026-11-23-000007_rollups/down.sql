DROP TABLE customer_rollups;
ALTER TABLE companies DROP COLUMN tier_basis_year;
