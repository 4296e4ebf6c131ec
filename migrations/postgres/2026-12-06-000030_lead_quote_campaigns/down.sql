DROP INDEX opportunities_campaign;
DROP INDEX quotes_campaign;
DROP INDEX leads_campaign;
ALTER TABLE quotes DROP COLUMN campaign_id;
ALTER TABLE leads DROP COLUMN campaign_id;
