-- A snapshot is a static copy of a segment: the members it had when it was taken, in their
-- order, kept by id. It remembers the segment and the instant it was taken from.
ALTER TABLE segments ADD COLUMN snapshot_of TEXT;
ALTER TABLE segments ADD COLUMN snapshot_at TIMESTAMP;

CREATE TABLE segment_snapshot_members (
    segment_id TEXT NOT NULL REFERENCES segments (id),
    position BIGINT NOT NULL,
    member_id TEXT NOT NULL,
    PRIMARY KEY (segment_id, position)
);
