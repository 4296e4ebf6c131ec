-- A stamp per object, changed by every change to the object's field definitions, so that a
-- node may keep the definitions it read and check in the same statement that reads a record
-- that they are still the current ones. The stamp is random, not counted: a database restored
-- from a backup must not show again a stamp that a node holds with other definitions.
CREATE TABLE field_definition_stamps (
    object TEXT PRIMARY KEY NOT NULL,
    stamp BIGINT NOT NULL
);

INSERT INTO field_definition_stamps (object, stamp)
SELECT column1, random() FROM (VALUES ('companies'), ('contacts'), ('leads'), ('opportunities'), ('orders'));

CREATE TRIGGER field_definitions_stamp_on_insert
AFTER INSERT ON field_definitions
BEGIN
    UPDATE field_definition_stamps SET stamp = random() WHERE object = NEW.object;
END;

CREATE TRIGGER field_definitions_stamp_on_update
AFTER UPDATE ON field_definitions
BEGIN
    UPDATE field_definition_stamps SET stamp = random() WHERE object IN (OLD.object, NEW.object);
END;

CREATE TRIGGER field_definitions_stamp_on_delete
AFTER DELETE ON field_definitions
BEGIN
    UPDATE field_definition_stamps SET stamp = random() WHERE object = OLD.object;
END;
