-- Campaigns become records. An order's `campaign_id` was free text; each distinct value becomes
-- a completed campaign with that code, spanning the orders that named it, and the orders point
-- at it. Blank values are cleared.

CREATE TABLE campaigns (
    id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    code TEXT NOT NULL,
    -- The code trimmed and lower-cased: codes are unique and found without case.
    code_key TEXT NOT NULL,
    channel TEXT NOT NULL,
    consent_channel TEXT,
    starts_on DATE NOT NULL,
    ends_on DATE NOT NULL,
    attribution_window_days INTEGER NOT NULL,
    budget_minor BIGINT,
    budget_currency TEXT,
    owner_id TEXT REFERENCES users (id),
    status TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX campaigns_code ON campaigns (code_key);
CREATE INDEX campaigns_created ON campaigns (created_at, id);
CREATE INDEX campaigns_owner ON campaigns (owner_id, created_at, id);

-- Append-only: a wrong cost is corrected by a negative one.
CREATE TABLE campaign_costs (
    id TEXT NOT NULL PRIMARY KEY,
    campaign_id TEXT NOT NULL REFERENCES campaigns (id),
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    incurred_on DATE NOT NULL,
    description TEXT NOT NULL,
    created_by TEXT REFERENCES users (id),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX campaign_costs_campaign ON campaign_costs (campaign_id, created_at, id);

CREATE TABLE campaign_members (
    id TEXT NOT NULL PRIMARY KEY,
    campaign_id TEXT NOT NULL REFERENCES campaigns (id),
    -- `contact:<id>` or `company:<id>`: one membership per person or company and campaign.
    member_key TEXT NOT NULL,
    contact_id TEXT REFERENCES contacts (id),
    -- The contact's company for a contact, so that an order of the company finds its members.
    company_id TEXT REFERENCES companies (id),
    status TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX campaign_members_key ON campaign_members (campaign_id, member_key);
CREATE INDEX campaign_members_list ON campaign_members (campaign_id, created_at, id);
CREATE INDEX campaign_members_company ON campaign_members (company_id, campaign_id);
CREATE INDEX campaign_members_contact ON campaign_members (contact_id, campaign_id);

-- The UTM parameters a shop sent with an order, as JSON.
ALTER TABLE orders ADD COLUMN utm TEXT;

INSERT INTO campaigns (id, name, code, code_key, channel, consent_channel, starts_on, ends_on,
    attribution_window_days, status, version, created_at, updated_at)
SELECT gen_random_uuid()::text, MIN(trim(campaign_id)), MIN(trim(campaign_id)), lower(trim(campaign_id)),
    'other', NULL, MIN(ordered_at)::date, MAX(ordered_at)::date, 30, 'completed', 1,
    now()::timestamp, now()::timestamp
FROM orders
WHERE trim(campaign_id) <> ''
GROUP BY lower(trim(campaign_id));
UPDATE orders SET campaign_id = (SELECT c.id FROM campaigns c WHERE c.code_key = lower(trim(orders.campaign_id)))
WHERE campaign_id IS NOT NULL;
CREATE INDEX orders_campaign ON orders (campaign_id, ordered_at);
