DROP INDEX contacts_birthday;
ALTER TABLE contacts DROP COLUMN locale;
ALTER TABLE contacts DROP COLUMN birthday;
DROP TABLE follow_up_rules;
DROP TABLE greeting_rules;
DROP TABLE visit_plans;
DROP TABLE tasks;
