-- A contact's overview and timeline find its tasks by index; the reminder index keeps only
-- the open tasks a run may remind.
CREATE INDEX tasks_contact ON tasks (contact_id, status);
DROP INDEX tasks_reminder;
CREATE INDEX tasks_reminder ON tasks (reminder_at) WHERE reminded_at IS NULL AND status = 'open';
