DROP INDEX tasks_reminder;
CREATE INDEX tasks_reminder ON tasks (reminder_at) WHERE reminded_at IS NULL;
DROP INDEX tasks_contact;
