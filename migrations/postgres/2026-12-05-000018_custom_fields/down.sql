DROP TABLE saved_views;
ALTER TABLE orders DROP COLUMN custom_fields;
ALTER TABLE opportunities DROP COLUMN custom_fields;
ALTER TABLE leads DROP COLUMN custom_fields;
ALTER TABLE companies DROP COLUMN custom_fields;
ALTER TABLE contacts DROP COLUMN custom_fields;
DROP TABLE field_definitions;
