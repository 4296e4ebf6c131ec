-- Orders name their campaign by code again.
DROP INDEX orders_campaign;
UPDATE orders SET campaign_id = (SELECT c.code FROM campaigns c WHERE c.id = orders.campaign_id)
WHERE campaign_id IS NOT NULL;
ALTER TABLE orders DROP COLUMN utm;
DROP TABLE campaign_members;
DROP TABLE campaign_costs;
DROP TABLE campaigns;
