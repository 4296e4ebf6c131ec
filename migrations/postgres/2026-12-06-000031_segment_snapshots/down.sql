DROP TABLE segment_snapshot_members;
ALTER TABLE segments DROP COLUMN snapshot_at;
ALTER TABLE segments DROP COLUMN snapshot_of;
