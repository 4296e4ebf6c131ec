CREATE TABLE returns (
    id TEXT PRIMARY KEY NOT NULL,
    number TEXT NOT NULL UNIQUE,
    order_id TEXT NOT NULL REFERENCES orders(id),
    company_id TEXT REFERENCES companies(id),
    contact_id TEXT REFERENCES contacts(id),
    currency TEXT NOT NULL,
    status TEXT NOT NULL,
    customer_comment TEXT,
    reject_reason TEXT,
    root_cause_category TEXT,
    root_cause_notes TEXT,
    preventive_action TEXT,
    resolution TEXT,
    restocking_fee_minor BIGINT NOT NULL,
    concession_minor BIGINT NOT NULL,
    refund_minor BIGINT NOT NULL,
    saved_revenue_minor BIGINT NOT NULL,
    credit_note_id TEXT REFERENCES invoices(id),
    resolved_at TIMESTAMP,
    window_override_by TEXT,
    window_override_at TIMESTAMP,
    opened_by TEXT,
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX returns_created ON returns (created_at, id);
CREATE INDEX returns_order ON returns (order_id);
CREATE INDEX returns_company ON returns (company_id, created_at);
CREATE INDEX returns_contact ON returns (contact_id, created_at);

CREATE TABLE return_lines (
    id TEXT PRIMARY KEY NOT NULL,
    return_id TEXT NOT NULL REFERENCES returns(id),
    position BIGINT NOT NULL,
    order_line_id TEXT NOT NULL REFERENCES order_lines(id),
    product_id TEXT REFERENCES products(id),
    description TEXT NOT NULL,
    quantity_milli BIGINT NOT NULL,
    reason_code TEXT NOT NULL,
    received_quantity_milli BIGINT,
    disposition TEXT,
    unit_price_minor BIGINT NOT NULL,
    discount_bp BIGINT NOT NULL,
    tax_rate_bp BIGINT NOT NULL
);
CREATE INDEX return_lines_return ON return_lines (return_id, position);
CREATE INDEX return_lines_order_line ON return_lines (order_line_id);
