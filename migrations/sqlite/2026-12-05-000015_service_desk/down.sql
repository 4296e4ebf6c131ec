DROP TABLE case_events;
DROP TABLE case_comments;
DROP TABLE cases;
DROP TABLE teams;
DROP TABLE sla_policies;
DROP TABLE business_calendars;
ALTER TABLE users DROP COLUMN manager_id;
