ALTER TABLE campaigns DROP COLUMN target_segment_id;
