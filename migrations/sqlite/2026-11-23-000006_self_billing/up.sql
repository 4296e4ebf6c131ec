CREATE TABLE self_billing_agreements (
    id TEXT PRIMARY KEY NOT NULL,
    company_id TEXT NOT NULL REFERENCES companies(id),
    series_id TEXT NOT NULL REFERENCES invoice_series(id),
    credit_series_id TEXT NOT NULL REFERENCES invoice_series(id),
    valid_from DATE NOT NULL,
    valid_to DATE,
    auto_accept_days BIGINT,
    terms TEXT,
    status TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX self_billing_agreements_company ON self_billing_agreements (company_id);
CREATE INDEX self_billing_agreements_created ON self_billing_agreements (created_at, id);
