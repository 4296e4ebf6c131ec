-- What each campaign's tagged orders earned, kept in the transaction of every write that changes
-- it (orders, credit notes, resolved returns), so that a campaign report reads a few rows instead
-- of its orders' lines, returns and credit notes. A row sums the money of the orders placed on
-- `ordered_on` (which decides the attribution window) that fell in `month` (which decides the
-- exchange rate), in one currency: the orders themselves in their own month, and their refunds,
-- concessions and credit notes in the month those happened. `crm` fills it from the records
-- once this migration has run; `crm analytics rebuild` recomputes it.
CREATE TABLE campaign_rollups (
    campaign_id TEXT NOT NULL REFERENCES campaigns (id),
    ordered_on DATE NOT NULL,
    month TEXT NOT NULL,
    currency TEXT NOT NULL,
    revenue_minor BIGINT NOT NULL,
    cost_minor BIGINT NOT NULL,
    returns_minor BIGINT NOT NULL,
    concessions_minor BIGINT NOT NULL,
    orders BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, ordered_on, month, currency)
);
