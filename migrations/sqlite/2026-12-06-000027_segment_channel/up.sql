-- A segment may drop the people unreachable on a channel (an opt-in channel needs consent).
ALTER TABLE segments ADD COLUMN channel TEXT;
