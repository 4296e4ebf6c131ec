CREATE TABLE company_settings (
    id TEXT PRIMARY KEY NOT NULL,
    legal_name TEXT,
    tax_id TEXT,
    address_line1 TEXT,
    address_line2 TEXT,
    address_city TEXT,
    address_region TEXT,
    address_postal_code TEXT,
    address_country TEXT,
    email TEXT,
    phone TEXT,
    version BIGINT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
INSERT INTO company_settings (id, version, updated_at) VALUES ('company', 1, '2026-01-01 00:00:00');

CREATE TABLE invoice_series (
    id TEXT PRIMARY KEY NOT NULL,
    code TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    kind TEXT NOT NULL,
    is_default BOOLEAN NOT NULL,
    yearly_reset BOOLEAN NOT NULL,
    current_year BIGINT,
    last_number BIGINT NOT NULL,
    last_hash TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    archived_at TIMESTAMP
);
INSERT INTO invoice_series (id, code, prefix, kind, is_default, yearly_reset, last_number, last_hash, version, created_at, updated_at) VALUES
('00000000-0000-7000-8000-0000000000f1', 'F', 'F', 'invoice', TRUE, TRUE, 0, '', 1, '2026-01-01 00:00:00', '2026-01-01 00:00:00'),
('00000000-0000-7000-8000-0000000000f2', 'R', 'R', 'credit_note', TRUE, TRUE, 0, '', 1, '2026-01-01 00:00:00', '2026-01-01 00:00:00');

CREATE TABLE invoices (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    series_id TEXT NOT NULL REFERENCES invoice_series(id),
    number TEXT,
    sequence BIGINT,
    status TEXT NOT NULL,
    company_id TEXT NOT NULL REFERENCES companies(id),
    currency TEXT NOT NULL,
    issue_date DATE,
    due_date DATE,
    notes TEXT,
    corrects_invoice_id TEXT REFERENCES invoices(id),
    correction_reason TEXT,
    agreement_id TEXT,
    issuer_snapshot TEXT,
    recipient_snapshot TEXT,
    subtotal_minor BIGINT NOT NULL,
    discount_minor BIGINT NOT NULL,
    tax_minor BIGINT NOT NULL,
    total_minor BIGINT NOT NULL,
    credited_minor BIGINT NOT NULL,
    paid_minor BIGINT NOT NULL,
    previous_hash TEXT,
    hash TEXT,
    issued_at TIMESTAMP,
    decided_at TIMESTAMP,
    dispute_reason TEXT,
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX invoices_series_number ON invoices (series_id, number) WHERE number IS NOT NULL;
CREATE INDEX invoices_created ON invoices (created_at, id);
CREATE INDEX invoices_company ON invoices (company_id, created_at);
CREATE INDEX invoices_series_issued ON invoices (series_id, issued_at, id);

CREATE TABLE invoice_lines (
    id TEXT PRIMARY KEY NOT NULL,
    invoice_id TEXT NOT NULL REFERENCES invoices(id),
    position BIGINT NOT NULL,
    is_credit BOOLEAN NOT NULL,
    released BOOLEAN NOT NULL,
    order_id TEXT REFERENCES orders(id),
    order_line_id TEXT REFERENCES order_lines(id),
    product_id TEXT REFERENCES products(id),
    description TEXT NOT NULL,
    quantity_milli BIGINT NOT NULL,
    unit_price_minor BIGINT NOT NULL,
    discount_bp BIGINT NOT NULL,
    tax_rate_bp BIGINT NOT NULL,
    gross_minor BIGINT NOT NULL,
    discount_minor BIGINT NOT NULL,
    net_minor BIGINT NOT NULL
);
CREATE INDEX invoice_lines_invoice ON invoice_lines (invoice_id, position);
CREATE UNIQUE INDEX invoice_lines_order_line_once ON invoice_lines (order_line_id) WHERE order_line_id IS NOT NULL AND is_credit = FALSE AND released = FALSE;

CREATE TABLE payments (
    id TEXT PRIMARY KEY NOT NULL,
    invoice_id TEXT NOT NULL REFERENCES invoices(id),
    amount_minor BIGINT NOT NULL,
    paid_on DATE NOT NULL,
    method TEXT,
    reference TEXT,
    created_by TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX payments_invoice ON payments (invoice_id, created_at);
