ALTER TABLE quotes DROP COLUMN opportunity_id;
DROP TABLE exchange_rates;
DROP TABLE opportunity_stage_changes;
DROP TABLE opportunities;
DROP TABLE pipeline_stages;
DROP TABLE pipelines;
