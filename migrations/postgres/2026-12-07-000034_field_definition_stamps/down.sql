DROP TRIGGER IF EXISTS field_definitions_stamp ON field_definitions;
DROP FUNCTION IF EXISTS stamp_field_definitions();
DROP FUNCTION IF EXISTS random_stamp();
DROP TABLE IF EXISTS field_definition_stamps;
