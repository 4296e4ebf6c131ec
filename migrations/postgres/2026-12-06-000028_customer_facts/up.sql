-- What segments filter companies by beyond their own columns: each customer's figures in the
-- base currency, as of a day. Refreshed whole by the maintenance loop, after `crm analytics
-- rebuild` and when the CLV model is refitted; a company without a row has no figures yet.
CREATE TABLE customer_facts (
    company_id TEXT NOT NULL PRIMARY KEY REFERENCES companies (id),
    order_count BIGINT NOT NULL,
    profit_last_12_months_minor BIGINT NOT NULL,
    profit_last_year_minor BIGINT NOT NULL,
    clv_historical_minor BIGINT NOT NULL,
    clv_predicted_12_months_minor BIGINT,
    -- P(alive) in ten-thousandths, so that filters compare it as a decimal of four places.
    probability_alive_bp BIGINT,
    value_at_risk_minor BIGINT,
    as_of DATE NOT NULL
);
CREATE INDEX customer_facts_profit ON customer_facts (profit_last_12_months_minor);
