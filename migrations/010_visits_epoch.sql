-- The epoch of the visits stream the cursor points into (visits:epoch in
-- Redis): a Redis that lost the stream starts a new one, whose ids may be
-- below the cursor (a clock behind the old master's); a new epoch folds it
-- from its start. Empty: not known yet, taken as the current one.
ALTER TABLE visit_cursor ADD COLUMN epoch text NOT NULL DEFAULT '';

---- create above / drop below ----

ALTER TABLE visit_cursor DROP COLUMN epoch;
