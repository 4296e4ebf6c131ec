-- The segment whose members a campaign's activation adds.
ALTER TABLE campaigns ADD COLUMN target_segment_id TEXT REFERENCES segments (id);
