CREATE TABLE pipelines (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    is_default BOOLEAN NOT NULL,
    won_on_quote_accept BOOLEAN NOT NULL,
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    archived_at TIMESTAMP
);

CREATE TABLE pipeline_stages (
    id TEXT PRIMARY KEY NOT NULL,
    pipeline_id TEXT NOT NULL REFERENCES pipelines(id),
    name TEXT NOT NULL,
    position BIGINT NOT NULL,
    probability_bp BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX pipeline_stages_pipeline ON pipeline_stages (pipeline_id, position);

CREATE TABLE opportunities (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    company_id TEXT NOT NULL REFERENCES companies(id),
    contact_id TEXT REFERENCES contacts(id),
    owner_id TEXT REFERENCES users(id),
    pipeline_id TEXT NOT NULL REFERENCES pipelines(id),
    stage_id TEXT NOT NULL REFERENCES pipeline_stages(id),
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    probability_bp BIGINT,
    expected_close_date DATE NOT NULL,
    lead_id TEXT REFERENCES leads(id),
    campaign_id TEXT,
    next_step TEXT,
    loss_reason TEXT,
    closed_at TIMESTAMP,
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    archived_at TIMESTAMP
);
CREATE INDEX opportunities_created ON opportunities (created_at, id);
CREATE INDEX opportunities_close ON opportunities (expected_close_date, id);
CREATE INDEX opportunities_amount ON opportunities (amount_minor, id);
CREATE INDEX opportunities_company ON opportunities (company_id);

CREATE TABLE opportunity_stage_changes (
    id TEXT PRIMARY KEY NOT NULL,
    opportunity_id TEXT NOT NULL REFERENCES opportunities(id),
    from_stage_id TEXT REFERENCES pipeline_stages(id),
    to_stage_id TEXT NOT NULL REFERENCES pipeline_stages(id),
    changed_by TEXT,
    changed_at TIMESTAMP NOT NULL
);
CREATE INDEX opportunity_stage_changes_opportunity ON opportunity_stage_changes (opportunity_id, changed_at);

CREATE TABLE exchange_rates (
    currency TEXT NOT NULL,
    rate_date DATE NOT NULL,
    rate TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (currency, rate_date)
);

ALTER TABLE quotes ADD COLUMN opportunity_id TEXT REFERENCES opportunities(id);

INSERT INTO pipelines (id, name, is_default, won_on_quote_accept, version, created_at, updated_at)
VALUES ('00000000-0000-7000-8000-000000000001', 'Sales', TRUE, TRUE, 1, '2026-01-01 00:00:00', '2026-01-01 00:00:00');
INSERT INTO pipeline_stages (id, pipeline_id, name, position, probability_bp, outcome, created_at, updated_at) VALUES
('00000000-0000-7000-8000-000000000011', '00000000-0000-7000-8000-000000000001', 'Prospecting', 1, 1000, 'open', '2026-01-01 00:00:00', '2026-01-01 00:00:00'),
('00000000-0000-7000-8000-000000000012', '00000000-0000-7000-8000-000000000001', 'Qualification', 2, 2000, 'open', '2026-01-01 00:00:00', '2026-01-01 00:00:00'),
('00000000-0000-7000-8000-000000000013', '00000000-0000-7000-8000-000000000001', 'Proposal', 3, 5000, 'open', '2026-01-01 00:00:00', '2026-01-01 00:00:00'),
('00000000-0000-7000-8000-000000000014', '00000000-0000-7000-8000-000000000001', 'Negotiation', 4, 7500, 'open', '2026-01-01 00:00:00', '2026-01-01 00:00:00'),
('00000000-0000-7000-8000-000000000015', '00000000-0000-7000-8000-000000000001', 'Won', 5, 10000, 'won', '2026-01-01 00:00:00', '2026-01-01 00:00:00'),
('00000000-0000-7000-8000-000000000016', '00000000-0000-7000-8000-000000000001', 'Lost', 6, 0, 'lost', '2026-01-01 00:00:00', '2026-01-01 00:00:00');
