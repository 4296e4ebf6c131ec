CREATE TABLE counters (
    name TEXT PRIMARY KEY NOT NULL,
    value BIGINT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE products (
    id TEXT PRIMARY KEY NOT NULL,
    sku TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT,
    currency TEXT NOT NULL,
    unit_price_minor BIGINT NOT NULL,
    unit_cost_minor BIGINT,
    tax_rate_bp BIGINT NOT NULL,
    active BOOLEAN NOT NULL,
    search_text TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    archived_at TIMESTAMP
);
CREATE INDEX products_created ON products (created_at, id);
CREATE INDEX products_name ON products (name, id);

CREATE TABLE quotes (
    id TEXT PRIMARY KEY NOT NULL,
    number TEXT NOT NULL,
    revision BIGINT NOT NULL,
    previous_revision_id TEXT REFERENCES quotes(id),
    company_id TEXT REFERENCES companies(id),
    contact_id TEXT REFERENCES contacts(id),
    owner_id TEXT REFERENCES users(id),
    currency TEXT NOT NULL,
    valid_until DATE,
    status TEXT NOT NULL,
    reject_reason TEXT,
    notes TEXT,
    subtotal_minor BIGINT NOT NULL,
    discount_minor BIGINT NOT NULL,
    tax_minor BIGINT NOT NULL,
    total_minor BIGINT NOT NULL,
    order_id TEXT,
    sent_at TIMESTAMP,
    decided_at TIMESTAMP,
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX quotes_number_revision ON quotes (number, revision);
CREATE INDEX quotes_created ON quotes (created_at, id);
CREATE INDEX quotes_company ON quotes (company_id, created_at);
CREATE INDEX quotes_contact ON quotes (contact_id, created_at);

CREATE TABLE quote_lines (
    id TEXT PRIMARY KEY NOT NULL,
    quote_id TEXT NOT NULL REFERENCES quotes(id),
    position BIGINT NOT NULL,
    product_id TEXT REFERENCES products(id),
    description TEXT NOT NULL,
    quantity_milli BIGINT NOT NULL,
    unit_price_minor BIGINT NOT NULL,
    unit_cost_minor BIGINT,
    discount_bp BIGINT NOT NULL,
    tax_rate_bp BIGINT NOT NULL,
    gross_minor BIGINT NOT NULL,
    discount_minor BIGINT NOT NULL,
    net_minor BIGINT NOT NULL
);
CREATE INDEX quote_lines_quote ON quote_lines (quote_id, position);
CREATE INDEX quote_lines_product ON quote_lines (product_id);

CREATE TABLE orders (
    id TEXT PRIMARY KEY NOT NULL,
    channel TEXT NOT NULL,
    external_id TEXT NOT NULL,
    contact_id TEXT REFERENCES contacts(id),
    company_id TEXT REFERENCES companies(id),
    quote_id TEXT REFERENCES quotes(id),
    currency TEXT NOT NULL,
    status TEXT NOT NULL,
    ordered_at TIMESTAMP NOT NULL,
    salesperson_id TEXT REFERENCES users(id),
    campaign_id TEXT,
    payload_hash TEXT NOT NULL,
    subtotal_minor BIGINT NOT NULL,
    discount_minor BIGINT NOT NULL,
    tax_minor BIGINT NOT NULL,
    total_minor BIGINT NOT NULL,
    cost_minor BIGINT NOT NULL,
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX orders_channel_external ON orders (channel, external_id);
CREATE INDEX orders_created ON orders (created_at, id);
CREATE INDEX orders_ordered ON orders (ordered_at, id);
CREATE INDEX orders_contact ON orders (contact_id, ordered_at);
CREATE INDEX orders_company ON orders (company_id, ordered_at);

CREATE TABLE order_lines (
    id TEXT PRIMARY KEY NOT NULL,
    order_id TEXT NOT NULL REFERENCES orders(id),
    position BIGINT NOT NULL,
    product_id TEXT REFERENCES products(id),
    sku TEXT,
    description TEXT NOT NULL,
    quantity_milli BIGINT NOT NULL,
    unit_price_minor BIGINT NOT NULL,
    unit_cost_minor BIGINT,
    discount_bp BIGINT NOT NULL,
    tax_rate_bp BIGINT NOT NULL,
    gross_minor BIGINT NOT NULL,
    discount_minor BIGINT NOT NULL,
    net_minor BIGINT NOT NULL
);
CREATE INDEX order_lines_order ON order_lines (order_id, position);
CREATE INDEX order_lines_product ON order_lines (product_id);

CREATE TABLE leads (
    id TEXT PRIMARY KEY NOT NULL,
    source TEXT NOT NULL,
    status TEXT NOT NULL,
    owner_id TEXT REFERENCES users(id),
    score BIGINT,
    estimated_value_minor BIGINT,
    estimated_value_currency TEXT,
    notes TEXT,
    first_name TEXT,
    last_name TEXT,
    email TEXT,
    phone TEXT,
    company_name TEXT,
    disqualify_reason TEXT,
    converted_contact_id TEXT REFERENCES contacts(id),
    converted_company_id TEXT REFERENCES companies(id),
    converted_quote_id TEXT REFERENCES quotes(id),
    converted_at TIMESTAMP,
    search_text TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    archived_at TIMESTAMP
);
CREATE INDEX leads_created ON leads (created_at, id);
CREATE INDEX leads_status ON leads (status);
