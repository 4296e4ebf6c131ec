-- The service desk: business calendars, SLA policies, teams, cases with their comments and
-- event log. JSON documents (hours, holidays, rules, member ids, tags) are stored as text.
ALTER TABLE users ADD COLUMN manager_id TEXT REFERENCES users (id);

CREATE TABLE business_calendars (
    id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    time_zone TEXT NOT NULL,
    hours TEXT NOT NULL,
    holidays TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX business_calendars_created ON business_calendars (created_at, id);

CREATE TABLE sla_policies (
    id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    calendar_id TEXT NOT NULL REFERENCES business_calendars (id),
    position BIGINT NOT NULL,
    categories TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    rules TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX sla_policies_position ON sla_policies (position, created_at, id);

CREATE TABLE teams (
    id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    member_ids TEXT NOT NULL,
    escalation_user_id TEXT REFERENCES users (id),
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX teams_created ON teams (created_at, id);

CREATE TABLE cases (
    id TEXT NOT NULL PRIMARY KEY,
    number TEXT NOT NULL UNIQUE,
    subject TEXT NOT NULL,
    description TEXT,
    company_id TEXT NOT NULL REFERENCES companies (id),
    contact_id TEXT REFERENCES contacts (id),
    locale TEXT NOT NULL,
    tags TEXT NOT NULL,
    order_id TEXT REFERENCES orders (id),
    return_id TEXT REFERENCES returns (id),
    invoice_id TEXT REFERENCES invoices (id),
    channel TEXT NOT NULL,
    priority TEXT NOT NULL,
    category TEXT NOT NULL,
    status TEXT NOT NULL,
    assignee_id TEXT REFERENCES users (id),
    team_id TEXT REFERENCES teams (id),
    root_cause_category TEXT,
    root_cause_notes TEXT,
    preventive_action TEXT,
    escalation_level BIGINT NOT NULL,
    escalated_to_id TEXT REFERENCES users (id),
    escalated_at TIMESTAMP,
    csat_flagged BOOLEAN NOT NULL,
    opened_by TEXT,
    closed_at TIMESTAMP,
    search_text TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX cases_created ON cases (created_at, id);
CREATE INDEX cases_company ON cases (company_id, created_at, id);
CREATE INDEX cases_assignee ON cases (assignee_id, created_at, id);
CREATE INDEX cases_status ON cases (status, created_at, id);

-- A case's SLA, one row per case, kept as instants so that lists filter by SLA status with
-- plain comparisons at request time: due and at-risk instants (computed in business time),
-- the business seconds spent paused, and the instants a target was honoured or missed.
CREATE TABLE case_slas (
    case_id TEXT NOT NULL PRIMARY KEY REFERENCES cases (id),
    sla_policy_id TEXT REFERENCES sla_policies (id),
    calendar_id TEXT REFERENCES business_calendars (id),
    first_response_target_seconds BIGINT,
    resolution_target_seconds BIGINT,
    breach_priority TEXT,
    paused_seconds BIGINT NOT NULL,
    paused_at TIMESTAMP,
    first_response_due_at TIMESTAMP,
    first_response_at_risk_at TIMESTAMP,
    first_responded_at TIMESTAMP,
    first_response_breached_at TIMESTAMP,
    resolution_due_at TIMESTAMP,
    resolution_at_risk_at TIMESTAMP,
    resolved_at TIMESTAMP,
    resolution_breached_at TIMESTAMP
);
-- The sweep's two questions: which running targets fell due, and which resolved cases to close.
CREATE INDEX case_slas_first_response_due ON case_slas (first_response_due_at)
    WHERE first_responded_at IS NULL AND first_response_breached_at IS NULL AND paused_at IS NULL;
CREATE INDEX case_slas_resolution_due ON case_slas (resolution_due_at)
    WHERE resolution_breached_at IS NULL AND paused_at IS NULL;
CREATE INDEX case_slas_resolved ON case_slas (resolved_at);

-- A satisfaction survey per resolution: the token is stored hashed and answered once.
CREATE TABLE case_surveys (
    case_id TEXT NOT NULL PRIMARY KEY REFERENCES cases (id),
    token_hash TEXT NOT NULL UNIQUE,
    expires_at TIMESTAMP NOT NULL,
    rating BIGINT,
    comment TEXT,
    answered_at TIMESTAMP
);

CREATE TABLE case_comments (
    id TEXT NOT NULL PRIMARY KEY,
    case_id TEXT NOT NULL REFERENCES cases (id),
    author_id TEXT REFERENCES users (id),
    body TEXT NOT NULL,
    public BOOLEAN NOT NULL,
    from_customer BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX case_comments_case ON case_comments (case_id, created_at, id);

CREATE TABLE case_events (
    id TEXT NOT NULL PRIMARY KEY,
    case_id TEXT NOT NULL REFERENCES cases (id),
    type TEXT NOT NULL,
    at TIMESTAMP NOT NULL,
    actor_id TEXT,
    data TEXT NOT NULL
);
CREATE INDEX case_events_case ON case_events (case_id, at, id);

INSERT INTO settings (name, value, version, updated_at)
VALUES ('service', '{"reopen_window_days":7,"survey_valid_days":14,"low_csat_threshold":2,"low_csat_action":"flag","at_risk_from_bp":7500,"default_locale":"es"}', 1, CURRENT_TIMESTAMP);
