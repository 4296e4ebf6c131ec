DROP TABLE customer_rollups;
