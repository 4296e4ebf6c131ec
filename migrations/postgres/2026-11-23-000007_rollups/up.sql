CREATE TABLE customer_rollups (
    company_id TEXT NOT NULL REFERENCES companies(id),
    month TEXT NOT NULL,
    currency TEXT NOT NULL,
    revenue_minor BIGINT NOT NULL,
    cost_minor BIGINT NOT NULL,
    returns_minor BIGINT NOT NULL,
    concessions_minor BIGINT NOT NULL,
    orders BIGINT NOT NULL,
    units_milli BIGINT NOT NULL,
    PRIMARY KEY (company_id, month, currency)
);
CREATE INDEX customer_rollups_month ON customer_rollups (month);
ALTER TABLE companies ADD COLUMN tier_basis_year BIGINT;
