-- The API's get-by-id: one contact row by its primary key (bench_ids maps 1..2000 to ids).
\set n random(1, 2000)
SELECT * FROM contacts WHERE id = (SELECT id FROM bench_ids WHERE n = :n);
