DROP TRIGGER IF EXISTS field_definitions_stamp_on_delete;
DROP TRIGGER IF EXISTS field_definitions_stamp_on_update;
DROP TRIGGER IF EXISTS field_definitions_stamp_on_insert;
DROP TABLE IF EXISTS field_definition_stamps;
