ALTER TABLE segments DROP COLUMN channel;
