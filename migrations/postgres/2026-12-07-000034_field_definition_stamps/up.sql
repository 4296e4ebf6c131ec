-- A stamp per object, changed by every change to the object's field definitions, so that a
-- node may keep the definitions it read and check in the same statement that reads a record
-- that they are still the current ones. The stamp is random, not counted: a database restored
-- from a backup must not show again a stamp that a node holds with other definitions.
CREATE TABLE field_definition_stamps (
    object TEXT PRIMARY KEY NOT NULL,
    stamp BIGINT NOT NULL
);

-- 53 random bits, as many as a double carries.
CREATE FUNCTION random_stamp() RETURNS BIGINT LANGUAGE sql VOLATILE AS $$
    SELECT floor(random() * 9007199254740992)::bigint
$$;

INSERT INTO field_definition_stamps (object, stamp)
SELECT object, random_stamp()
FROM (VALUES ('companies'), ('contacts'), ('leads'), ('opportunities'), ('orders')) AS objects (object);

CREATE FUNCTION stamp_field_definitions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE field_definition_stamps SET stamp = random_stamp() WHERE object = OLD.object;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        UPDATE field_definition_stamps SET stamp = random_stamp() WHERE object = NEW.object;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER field_definitions_stamp
AFTER INSERT OR UPDATE OR DELETE ON field_definitions
FOR EACH ROW EXECUTE FUNCTION stamp_field_definitions();
