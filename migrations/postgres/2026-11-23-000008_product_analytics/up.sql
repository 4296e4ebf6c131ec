-- Per product, per salesperson, per month and currency: kept in the same transaction as the
-- orders and return resolutions that change them. '' stands for "no catalog product" and
-- "no salesperson", which a primary key cannot hold as NULL.
CREATE TABLE product_rollups (
    product_id TEXT NOT NULL,
    salesperson_id TEXT NOT NULL,
    month TEXT NOT NULL,
    currency TEXT NOT NULL,
    revenue_minor BIGINT NOT NULL,
    cost_minor BIGINT NOT NULL,
    units_milli BIGINT NOT NULL,
    returned_units_milli BIGINT NOT NULL,
    PRIMARY KEY (product_id, salesperson_id, month, currency)
);
CREATE INDEX product_rollups_month ON product_rollups (month);

-- Settings edited through the API, one JSON document per name.
CREATE TABLE settings (
    name TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL,
    version BIGINT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
INSERT INTO settings (name, value, version, updated_at)
VALUES ('commission_rates', '{"a_bp":500,"b_bp":300,"c_bp":100}', 1, CURRENT_TIMESTAMP);

-- Fitted customer-lifetime-value models; the newest one is used.
CREATE TABLE clv_fits (
    id TEXT NOT NULL PRIMARY KEY,
    fitted_at TIMESTAMP NOT NULL,
    observed_until DATE NOT NULL,
    customers BIGINT NOT NULL,
    repeat_customers BIGINT NOT NULL,
    bgnbd_r DOUBLE PRECISION NOT NULL,
    bgnbd_alpha DOUBLE PRECISION NOT NULL,
    bgnbd_a DOUBLE PRECISION NOT NULL,
    bgnbd_b DOUBLE PRECISION NOT NULL,
    gamma_gamma_p DOUBLE PRECISION NOT NULL,
    gamma_gamma_q DOUBLE PRECISION NOT NULL,
    gamma_gamma_gamma DOUBLE PRECISION NOT NULL
);
CREATE INDEX clv_fits_fitted_at ON clv_fits (fitted_at);
