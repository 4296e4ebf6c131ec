-- Shop connections (Shopify, WooCommerce) and what their webhooks did. The secret signs the
-- shop's webhooks; it is needed in clear to check them.
CREATE TABLE integration_connections (
    id TEXT NOT NULL PRIMARY KEY,
    platform TEXT NOT NULL,
    name TEXT NOT NULL,
    channel TEXT NOT NULL UNIQUE,
    secret TEXT NOT NULL,
    shop_domain TEXT,
    site_url TEXT,
    prices_include_tax BOOLEAN NOT NULL,
    default_tax_rate_bp BIGINT NOT NULL,
    accept_test_orders BOOLEAN NOT NULL,
    enabled BOOLEAN NOT NULL,
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- One row per webhook received. A webhook id is applied once: the unique index covers every
-- row but the repeats (`duplicate`) and the refusals (`rejected`), which the shop may send again.
CREATE TABLE integration_ingestions (
    id TEXT NOT NULL PRIMARY KEY,
    connection_id TEXT NOT NULL REFERENCES integration_connections (id) ON DELETE CASCADE,
    webhook_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    status TEXT NOT NULL,
    order_id TEXT,
    unknown_skus TEXT NOT NULL,
    problem TEXT,
    received_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX integration_ingestions_once ON integration_ingestions (connection_id, webhook_id)
    WHERE status NOT IN ('duplicate', 'rejected');
CREATE INDEX integration_ingestions_newest ON integration_ingestions (connection_id, received_at, id);

-- A shop refund is applied once, whichever webhook carries it.
CREATE TABLE integration_refunds (
    connection_id TEXT NOT NULL REFERENCES integration_connections (id) ON DELETE CASCADE,
    refund_id TEXT NOT NULL,
    order_id TEXT NOT NULL,
    return_id TEXT,
    applied_at TIMESTAMP NOT NULL,
    PRIMARY KEY (connection_id, refund_id)
);

-- Orders keep what a shop charged: exact amounts per line (their tax as stated), the kind of
-- line, whether the shop's prices included tax, and where the order came from.
ALTER TABLE orders ADD COLUMN prices_include_tax BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE orders ADD COLUMN connection_id TEXT;
ALTER TABLE orders ADD COLUMN shop_number TEXT;
ALTER TABLE orders ADD COLUMN shop_updated_at TIMESTAMP;
ALTER TABLE order_lines ADD COLUMN kind TEXT NOT NULL DEFAULT 'product';
ALTER TABLE order_lines ADD COLUMN stated_tax_minor BIGINT;
ALTER TABLE order_lines ADD COLUMN external_id TEXT;
ALTER TABLE invoice_lines ADD COLUMN stated_tax_minor BIGINT;
-- A shop's refund states what it gave back for each line: the credit follows the shop.
ALTER TABLE return_lines ADD COLUMN stated_gross_minor BIGINT;
ALTER TABLE return_lines ADD COLUMN stated_discount_minor BIGINT;
ALTER TABLE return_lines ADD COLUMN stated_tax_minor BIGINT;
