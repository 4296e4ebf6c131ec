DROP TABLE customer_year_rollups;
