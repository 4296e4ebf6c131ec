-- Leads and quotes name the campaign that brought them, and a quote's order takes it.
-- An opportunity's `campaign_id` was free text: each distinct value that is not a campaign's
-- id becomes a completed campaign with that code (or the campaign that has the code), as
-- orders' values did.
ALTER TABLE leads ADD COLUMN campaign_id TEXT;
ALTER TABLE quotes ADD COLUMN campaign_id TEXT;
CREATE INDEX leads_campaign ON leads (campaign_id);
CREATE INDEX quotes_campaign ON quotes (campaign_id);

UPDATE opportunities SET campaign_id = NULL WHERE trim(campaign_id) = '';
INSERT INTO campaigns (id, name, code, code_key, channel, consent_channel, starts_on, ends_on,
    attribution_window_days, status, version, created_at, updated_at)
SELECT gen_random_uuid()::text, MIN(trim(campaign_id)), MIN(trim(campaign_id)), lower(trim(campaign_id)),
    'other', NULL, MIN(created_at)::date, MAX(created_at)::date, 30, 'completed', 1,
    now()::timestamp, now()::timestamp
FROM opportunities
WHERE campaign_id IS NOT NULL
    AND campaign_id NOT IN (SELECT id FROM campaigns)
    AND lower(trim(campaign_id)) NOT IN (SELECT code_key FROM campaigns)
GROUP BY lower(trim(campaign_id));
UPDATE opportunities
SET campaign_id = (SELECT c.id FROM campaigns c WHERE c.code_key = lower(trim(opportunities.campaign_id)))
WHERE campaign_id IS NOT NULL AND campaign_id NOT IN (SELECT id FROM campaigns);
CREATE INDEX opportunities_campaign ON opportunities (campaign_id);
