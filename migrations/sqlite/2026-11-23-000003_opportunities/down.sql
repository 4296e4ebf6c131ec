-- SQLite cannot drop a column that carries a foreign key: quotes.opportunity_id stays, unused.
UPDATE quotes SET opportunity_id = NULL;
DROP TABLE exchange_rates;
DROP TABLE opportunity_stage_changes;
DROP TABLE opportunities;
DROP TABLE pipeline_stages;
DROP TABLE pipelines;
