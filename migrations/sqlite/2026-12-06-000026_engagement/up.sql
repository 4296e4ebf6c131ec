-- Engagement: tasks, and the rules the maintenance loop runs to make them. A generated task
-- carries the key of its occurrence (rule, subject, date), unique, so that repeated runs and
-- several nodes make it once.
CREATE TABLE tasks (
    id TEXT NOT NULL PRIMARY KEY,
    title TEXT NOT NULL,
    notes TEXT,
    due_at TIMESTAMP,
    reminder_at TIMESTAMP,
    reminded_at TIMESTAMP,
    assignee_id TEXT REFERENCES users (id),
    company_id TEXT REFERENCES companies (id),
    contact_id TEXT REFERENCES contacts (id),
    opportunity_id TEXT REFERENCES opportunities (id),
    quote_id TEXT REFERENCES quotes (id),
    status TEXT NOT NULL,
    source TEXT NOT NULL,
    occurrence_key TEXT,
    completed_at TIMESTAMP,
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX tasks_occurrence ON tasks (occurrence_key);
CREATE INDEX tasks_created ON tasks (created_at, id);
CREATE INDEX tasks_assignee ON tasks (assignee_id, status, created_at, id);
CREATE INDEX tasks_company ON tasks (company_id, status);
CREATE INDEX tasks_reminder ON tasks (reminder_at) WHERE reminded_at IS NULL;

CREATE TABLE visit_plans (
    id TEXT NOT NULL PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies (id),
    owner_id TEXT NOT NULL REFERENCES users (id),
    every_weeks INTEGER NOT NULL,
    next_visit_on DATE NOT NULL,
    lead_days INTEGER NOT NULL,
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX visit_plans_created ON visit_plans (created_at, id);
CREATE INDEX visit_plans_next ON visit_plans (next_visit_on);
CREATE INDEX visit_plans_company ON visit_plans (company_id, next_visit_on);

CREATE TABLE greeting_rules (
    id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    occasion TEXT NOT NULL,
    -- A JSON array of BCP 47 tags; empty takes every contact.
    locales TEXT NOT NULL,
    channel TEXT,
    days_before INTEGER NOT NULL,
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX greeting_rules_created ON greeting_rules (created_at, id);

CREATE TABLE follow_up_rules (
    id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    trigger_event TEXT NOT NULL,
    after_days INTEGER NOT NULL,
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX follow_up_rules_created ON follow_up_rules (created_at, id);

ALTER TABLE contacts ADD COLUMN birthday DATE;
ALTER TABLE contacts ADD COLUMN locale TEXT;
CREATE INDEX contacts_birthday ON contacts (birthday) WHERE birthday IS NOT NULL;
