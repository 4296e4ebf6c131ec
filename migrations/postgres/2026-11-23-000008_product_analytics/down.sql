DROP TABLE clv_fits;
DROP TABLE settings;
DROP TABLE product_rollups;
